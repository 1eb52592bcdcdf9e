"""/users: the signed-in user's profile and admin user management."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from authapi.users import repository
from authapi.users.models import CLAIM_SK, ClaimItem, email_claim_pk, username_claim_pk
from tests.support import PASSWORD, Account, Directory

USER_FIELDS = {
    "id",
    "username",
    "email",
    "full_name",
    "role",
    "disabled",
    "mfa_enabled",
    "created_at",
    "updated_at",
}


def _create(client: TestClient, admin: Account, **fields: Any) -> Any:
    body = {"username": "bob", "email": "bob@example.com", "password": PASSWORD, **fields}
    return client.post("/users", headers=admin.headers, json=body)


class TestCreateUser:
    def test_admin_creates_a_user_who_must_enroll(
        self, client: TestClient, directory: Directory
    ) -> None:
        admin = directory.admin()
        response = _create(client, admin, username="Bob", full_name="Bob B")
        assert response.status_code == 201
        body = response.json()
        assert set(body) == USER_FIELDS
        assert body["username"] == "bob"
        assert body["role"] == "user"
        assert body["mfa_enabled"] is False
        assert body["disabled"] is False
        assert body["created_at"].endswith("Z")
        assert response.headers["location"] == f"/users/{body['id']}"
        fetched = client.get(response.headers["location"], headers=admin.headers)
        assert fetched.json() == body
        stored = repository.get_user(body["id"])
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert PASSWORD not in str(stored)

    def test_admin_can_create_another_admin(self, client: TestClient, directory: Directory) -> None:
        response = _create(client, directory.admin(), role="admin")
        assert response.status_code == 201
        assert response.json()["role"] == "admin"

    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({"username": "BOB"}, "USERNAME_TAKEN"),
            ({"username": "bob", "email": "other@example.com"}, "USERNAME_TAKEN"),
            ({"username": "robert", "email": "BOB@Example.COM"}, "EMAIL_TAKEN"),
        ],
    )
    def test_username_and_email_are_unique_case_insensitively(
        self, client: TestClient, directory: Directory, fields: dict[str, str], code: str
    ) -> None:
        admin = directory.admin()
        assert _create(client, admin).status_code == 201
        clash = _create(client, admin, **fields)
        assert clash.status_code == 409
        assert clash.json()["code"] == code
        # Nothing half-written: the clashing request left no user or claim behind.
        assert repository.find_for_login("robert") is None
        with pytest.raises(ClaimItem.DoesNotExist):
            ClaimItem.get(email_claim_pk("other@example.com"), CLAIM_SK)

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"username": "ab"}, "username"),
            ({"username": "has space"}, "username"),
            ({"username": "émile"}, "username"),
            ({"email": "not-an-email"}, "email"),
            ({"password": "short"}, "password"),
            ({"password": "bob-" + PASSWORD}, "password"),
            ({"role": "superuser"}, "role"),
            ({"is_admin": True}, "is_admin"),
            ({"password": None}, "password"),
        ],
    )
    def test_invalid_input_is_a_422_naming_the_field(
        self, client: TestClient, directory: Directory, fields: dict[str, Any], field: str
    ) -> None:
        response = _create(client, directory.admin(), **fields)
        assert response.status_code == 422
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert field in response.json()["detail"]
        with pytest.raises(ClaimItem.DoesNotExist):
            ClaimItem.get(username_claim_pk("bob"), CLAIM_SK)

    def test_non_admin_gets_403(self, client: TestClient, directory: Directory) -> None:
        response = _create(client, directory.user())
        assert response.status_code == 403
        assert response.json() == {
            "detail": "You do not have permission to do this.",
            "code": "FORBIDDEN",
        }
        assert repository.find_for_login("bob") is None

    def test_anonymous_gets_401(self, client: TestClient) -> None:
        response = client.post(
            "/users", json={"username": "bob", "email": "b@example.com", "password": PASSWORD}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "NOT_AUTHENTICATED"


class TestReadUser:
    def test_admin_reads_any_user(self, client: TestClient, directory: Directory) -> None:
        admin = directory.admin()
        user = directory.user()
        response = client.get(f"/users/{user.id}", headers=admin.headers)
        assert response.status_code == 200
        assert response.json()["username"] == user.username
        assert set(response.json()) == USER_FIELDS

    def test_missing_user_is_404(self, client: TestClient, directory: Directory) -> None:
        response = client.get("/users/no-such-id", headers=directory.admin().headers)
        assert response.status_code == 404
        assert response.json() == {"detail": "No such user.", "code": "USER_NOT_FOUND"}

    def test_user_cannot_read_another_user(self, client: TestClient, directory: Directory) -> None:
        admin = directory.admin()
        user = directory.user()
        response = client.get(f"/users/{admin.id}", headers=user.headers)
        assert response.status_code == 403
        assert response.json()["code"] == "FORBIDDEN"


class TestProfile:
    def test_me_never_shows_secrets(self, client: TestClient, directory: Directory) -> None:
        user = directory.user()
        response = client.get("/users/me", headers=user.headers)
        assert response.status_code == 200
        assert set(response.json()) == USER_FIELDS
        assert response.json()["mfa_enabled"] is True
        text = response.text
        assert user.totp_secret is not None
        assert user.totp_secret not in text
        assert "argon2" not in text

    @pytest.mark.parametrize("method", ["PATCH", "PUT"])
    def test_only_sent_fields_change(
        self, client: TestClient, directory: Directory, method: str
    ) -> None:
        user = directory.user()
        before = client.get("/users/me", headers=user.headers).json()
        response = client.request(
            method, "/users/me", headers=user.headers, json={"full_name": "New Name"}
        )
        assert response.status_code == 200
        after = response.json()
        assert after["full_name"] == "New Name"
        assert {k: v for k, v in after.items() if k not in {"full_name", "updated_at"}} == {
            k: v for k, v in before.items() if k not in {"full_name", "updated_at"}
        }

    def test_email_change_moves_the_uniqueness_claim(
        self, client: TestClient, directory: Directory
    ) -> None:
        user = directory.user()
        other = directory.user()
        old_email = f"{user.username}@example.com"
        response = client.patch(
            "/users/me", headers=user.headers, json={"email": "New.Address@Example.com"}
        )
        assert response.status_code == 200
        assert response.json()["email"] == "New.Address@example.com"
        # The old address is free again, the new one is taken (case-insensitively).
        with pytest.raises(ClaimItem.DoesNotExist):
            ClaimItem.get(email_claim_pk(old_email), CLAIM_SK)
        clash = client.patch(
            "/users/me", headers=other.headers, json={"email": "new.address@example.com"}
        )
        assert clash.status_code == 409
        assert clash.json()["code"] == "EMAIL_TAKEN"
        free = client.patch("/users/me", headers=other.headers, json={"email": old_email})
        assert free.status_code == 200

    def test_username_change_moves_the_claim_and_login_follows(
        self, client: TestClient, directory: Directory
    ) -> None:
        user = directory.user()
        other = directory.user()
        taken = client.patch("/users/me", headers=user.headers, json={"username": other.username})
        assert taken.status_code == 409
        assert taken.json()["code"] == "USERNAME_TAKEN"
        renamed = client.patch("/users/me", headers=user.headers, json={"username": "Renamed"})
        assert renamed.status_code == 200
        assert renamed.json()["username"] == "renamed"
        assert repository.find_for_login(user.username) is None
        user.username = "renamed"
        directory.sign_in(user)

    @pytest.mark.parametrize(
        "body",
        [
            {"role": "admin"},
            {"disabled": False},
            {"password": "new password 1234"},
            {"full_name": "x", "mfa_enabled": False},
        ],
    )
    def test_self_promotion_and_unknown_fields_are_rejected(
        self, client: TestClient, directory: Directory, body: dict[str, Any]
    ) -> None:
        """Mass assignment (ASVS 5.0 15.3.3): /users/me accepts only profile fields."""
        user = directory.user()
        response = client.patch("/users/me", headers=user.headers, json=body)
        assert response.status_code == 422
        assert response.json()["code"] == "VALIDATION_ERROR"
        me = client.get("/users/me", headers=user.headers).json()
        assert me["role"] == "user"
        assert me["full_name"] is None


def test_changing_username_and_a_taken_email_together_changes_nothing(
    client: TestClient, directory: Directory
) -> None:
    """Both claims move in one transaction: a clash on the second leaves the first alone."""
    user = directory.user()
    other = directory.user()
    response = client.patch(
        "/users/me",
        headers=user.headers,
        json={"username": "fresh-name", "email": f"{other.username}@example.com"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "EMAIL_TAKEN"
    assert repository.find_for_login("fresh-name") is None
    me = client.get("/users/me", headers=user.headers).json()
    assert me["username"] == user.username
    assert me["email"] == f"{user.username}@example.com"
