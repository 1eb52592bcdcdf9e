"""Admin user lifecycle: change, disable, delete, rescue, and never lock the org out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyotp
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.core.db import TableItem
from authapi.users import repository
from authapi.users.models import user_pk
from tests.support import PASSWORD, Account, Clock, Directory


def _patch(client: TestClient, admin: Account, target: str, **fields: Any) -> Any:
    return client.patch(f"/users/{target}", headers=admin.headers, json=fields)


def _me(client: TestClient, account: Account) -> int:
    return client.get("/users/me", headers=account.headers).status_code


class TestChangeUser:
    def test_asvs_8_3_2_role_change_takes_effect_on_existing_tokens_at_once(
        self, client: TestClient, directory: Directory
    ) -> None:
        admin = directory.admin()
        user = directory.user()
        response = _patch(client, admin, user.id, role="admin")
        assert response.status_code == 200
        assert response.json()["role"] == "admin"
        assert _me(client, user) == 401
        directory.sign_in(user)
        assert client.get(f"/users/{admin.id}", headers=user.headers).status_code == 200

    def test_disabling_ends_access_and_login_until_enabled_again(
        self, client: TestClient, directory: Directory
    ) -> None:
        admin = directory.admin()
        user = directory.user()
        assert _patch(client, admin, user.id, disabled=True).json()["disabled"] is True
        assert _me(client, user) == 401
        login = client.post("/auth/login", json={"username": user.username, "password": PASSWORD})
        assert (login.status_code, login.json()["code"]) == (401, "INVALID_CREDENTIALS")
        assert _patch(client, admin, user.id, disabled=False).status_code == 200
        directory.sign_in(user)

    def test_email_and_full_name_change_only_what_was_sent(
        self, client: TestClient, directory: Directory
    ) -> None:
        admin = directory.admin()
        user = directory.user()
        response = _patch(client, admin, user.id, email="renamed@example.com")
        assert response.status_code == 200
        assert response.json()["email"] == "renamed@example.com"
        assert response.json()["role"] == "user"
        # The user's session is untouched by a profile change.
        assert _me(client, user) == 200
        clash = _patch(client, admin, admin.id, email="RENAMED@example.com")
        assert (clash.status_code, clash.json()["code"]) == (409, "EMAIL_TAKEN")

    def test_unknown_fields_missing_users_and_non_admins(
        self, client: TestClient, directory: Directory
    ) -> None:
        admin = directory.admin()
        user = directory.user()
        assert _patch(client, admin, user.id, username="x").status_code == 422
        assert _patch(client, admin, user.id, role="root").status_code == 422
        missing = _patch(client, admin, "no-such-user", role="admin")
        assert (missing.status_code, missing.json()["code"]) == (404, "USER_NOT_FOUND")
        forbidden = _patch(client, user, admin.id, disabled=True)
        assert (forbidden.status_code, forbidden.json()["code"]) == (403, "FORBIDDEN")


class TestLastAdmin:
    def test_the_last_enabled_admin_cannot_be_demoted_disabled_or_deleted(
        self, client: TestClient, directory: Directory
    ) -> None:
        admin = directory.admin()
        for fields in ({"role": "user"}, {"disabled": True}):
            response = _patch(client, admin, admin.id, **fields)
            assert (response.status_code, response.json()["code"]) == (409, "LAST_ADMIN")
        deleted = client.delete(f"/users/{admin.id}", headers=admin.headers)
        assert (deleted.status_code, deleted.json()["code"]) == (409, "LAST_ADMIN")
        assert _me(client, admin) == 200

    def test_with_a_second_admin_one_may_go(self, client: TestClient, directory: Directory) -> None:
        first = directory.admin()
        second = directory.admin()
        assert _patch(client, first, second.id, role="user").status_code == 200
        assert _patch(client, first, first.id, role="user").json()["code"] == "LAST_ADMIN"
        # Promoting again makes room once more.
        assert _patch(client, first, second.id, role="admin").status_code == 200
        assert client.delete(f"/users/{first.id}", headers=first.headers).status_code == 204

    def test_a_disabled_admin_does_not_count(
        self, client: TestClient, directory: Directory
    ) -> None:
        first = directory.admin()
        second = directory.admin()
        assert _patch(client, first, second.id, disabled=True).status_code == 200
        assert _patch(client, first, first.id, role="user").json()["code"] == "LAST_ADMIN"


def test_two_admins_demoting_each_other_at_once_leave_one(
    server_client: TestClient, settings: Settings, clock: Clock
) -> None:
    """Decided atomically: parallel requests against a moto server never leave zero."""
    directory = Directory(server_client, settings, clock)
    first, second = directory.admin(), directory.admin()
    jobs = [(first, second), (second, first)] * 5
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        answers = list(
            pool.map(
                lambda job: _patch(server_client, job[0], job[1].id, role="user"),
                jobs,
            )
        )
    codes = sorted(answer.json().get("code", "OK") for answer in answers)
    assert "OK" in codes
    remaining = [
        user
        for user in (repository.get_user(first.id), repository.get_user(second.id))
        if user is not None and user.is_enabled_admin
    ]
    assert len(remaining) == 1
    # Every refusal is LAST_ADMIN, or a 401/CONFLICT for a demoted admin's own request.
    assert set(codes) <= {"OK", "LAST_ADMIN", "NOT_AUTHENTICATED", "CONFLICT"}


class TestDeleteUser:
    def test_delete_removes_the_user_claims_and_sessions(
        self, client: TestClient, directory: Directory
    ) -> None:
        admin = directory.admin()
        user = directory.user()
        directory.sign_in(user)  # a second session
        response = client.delete(f"/users/{user.id}", headers=admin.headers)
        assert response.status_code == 204
        assert client.get(f"/users/{user.id}", headers=admin.headers).status_code == 404
        assert _me(client, user) == 401
        refresh = client.post("/auth/refresh", json={"refresh_token": user.tokens["refresh_token"]})
        assert refresh.status_code == 401
        # Nothing orphaned: the partition is empty, the name and address are free again.
        assert list(TableItem.query(user_pk(user.id))) == []
        recreated = client.post(
            "/users",
            headers=admin.headers,
            json={
                "username": user.username,
                "email": f"{user.username}@example.com",
                "password": PASSWORD,
            },
        )
        assert recreated.status_code == 201
        assert recreated.json()["id"] != user.id

    def test_delete_of_a_missing_user_is_404_and_needs_an_admin(
        self, client: TestClient, directory: Directory
    ) -> None:
        admin = directory.admin()
        user = directory.user()
        missing = client.delete("/users/nope", headers=admin.headers)
        assert (missing.status_code, missing.json()["code"]) == (404, "USER_NOT_FOUND")
        forbidden = client.delete(f"/users/{admin.id}", headers=user.headers)
        assert (forbidden.status_code, forbidden.json()["code"]) == (403, "FORBIDDEN")


class TestMfaReset:
    def test_reset_sends_the_next_login_through_setup(
        self, client: TestClient, directory: Directory
    ) -> None:
        admin = directory.admin()
        user = directory.user()
        response = client.post(f"/users/{user.id}/mfa/reset", headers=admin.headers)
        assert response.status_code == 204
        assert _me(client, user) == 401
        stored = repository.get_user(user.id)
        assert stored is not None
        assert not stored.mfa_enabled
        assert not stored.recovery_code_hashes
        assert [item.sk for item in TableItem.query(user_pk(user.id))] == ["USER"]
        challenge = client.post(
            "/auth/login", json={"username": user.username, "password": PASSWORD}
        ).json()
        assert challenge["mfa"] == "setup"
        mfa_token = challenge["mfa_token"]
        secret = client.post("/auth/mfa/setup", json={"mfa_token": mfa_token}).json()["secret"]
        confirm = client.post(
            "/auth/mfa/setup/confirm",
            json={"mfa_token": mfa_token, "code": pyotp.TOTP(secret).at(directory.clock.now())},
        )
        assert confirm.status_code == 200

    def test_old_recovery_codes_stop_working(
        self, client: TestClient, directory: Directory
    ) -> None:
        admin = directory.admin()
        user = directory.user()
        client.post(f"/users/{user.id}/mfa/reset", headers=admin.headers)
        challenge = client.post(
            "/auth/login", json={"username": user.username, "password": PASSWORD}
        ).json()
        verify = client.post(
            "/auth/mfa/verify",
            json={"mfa_token": challenge["mfa_token"], "code": user.recovery_codes[0]},
        )
        assert verify.status_code == 401
