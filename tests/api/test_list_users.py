"""GET /users: a Query on the sparse by-kind index, stable order, tamper-proof cursors."""

from __future__ import annotations

import base64
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.users import service
from authapi.users.domain import Role
from tests.support import PASSWORD, Account, Directory


def _bulk_create(settings: Settings, count: int, role: Role = Role.USER) -> None:
    for number in range(count):
        service.import_user(
            settings,
            username=f"bulk{number:03d}-{role.value}",
            email=f"bulk{number:03d}-{role.value}@example.com",
            # A precomputed hash keeps 250 creations fast; import_user keeps it as is.
            password_hash=_HASH,
            full_name=None,
            role=role,
            disabled=number % 10 == 0,
        )


_HASH = "$2b$04$hXY86ptoqIyjRSENwCgswelA.IxgAjiAAfDLrg0Oc0TntEEhx3lUK"


def _pages(client: TestClient, admin: Account, **params: Any) -> list[list[dict[str, Any]]]:
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/users", headers=admin.headers, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_paging_through_250_users_returns_each_exactly_once_in_a_stable_order(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    admin = directory.admin()
    _bulk_create(settings, 249)
    pages = _pages(client, admin, limit=100)
    assert [len(page) for page in pages] == [100, 100, 50]
    ids = [user["id"] for page in pages for user in page]
    assert len(ids) == len(set(ids)) == 250
    # Oldest first, and the same order on a second pass.
    assert ids == [user["id"] for page in _pages(client, admin, limit=100) for user in page]
    assert ids[0] == admin.id


def test_default_limit_and_filters(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    admin = directory.admin()
    _bulk_create(settings, 30)
    _bulk_create(settings, 5, Role.ADMIN)
    first = client.get("/users", headers=admin.headers).json()
    assert len(first["items"]) == 36  # everyone fits the default page of 50
    assert first["next_cursor"] is None
    admins = [u for page in _pages(client, admin, role="admin", limit=2) for u in page]
    assert {u["role"] for u in admins} == {"admin"}
    assert len(admins) == 6
    disabled_users = [
        u for page in _pages(client, admin, role="user", disabled="true", limit=2) for u in page
    ]
    assert len(disabled_users) == 3
    assert all(u["disabled"] and u["role"] == "user" for u in disabled_users)


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_limit_out_of_range_is_422(client: TestClient, directory: Directory, limit: str) -> None:
    response = client.get("/users", headers=directory.admin().headers, params={"limit": limit})
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR")
    assert "limit" in response.json()["detail"]


def test_garbage_and_forged_cursors_are_422(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    admin = directory.admin()
    _bulk_create(settings, 4)
    cursor = client.get("/users", headers=admin.headers, params={"limit": 2}).json()["next_cursor"]
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 1  # edit the position, keep the signature
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    for bad in ("garbage", "", forged, cursor[:-4], "%00" * 10):
        response = client.get("/users", headers=admin.headers, params={"cursor": bad})
        assert response.status_code == 422, bad
        assert response.json()["code"] == "VALIDATION_ERROR"


def test_listing_needs_an_admin(client: TestClient, directory: Directory) -> None:
    user = directory.user()
    assert client.get("/users", headers=user.headers).json()["code"] == "FORBIDDEN"
    assert client.get("/users").status_code == 401


def test_listing_never_shows_secrets(client: TestClient, directory: Directory) -> None:
    admin = directory.admin()
    body = client.get("/users", headers=admin.headers).text
    assert "argon2" not in body
    assert PASSWORD not in body
    assert admin.totp_secret is not None
    assert admin.totp_secret not in body


def test_the_index_holds_no_secret_and_mfa_status_follows_enrollment(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    """ASVS 5.0 14.2.6 (least data): the by-kind index that listings read copies no
    password hash, TOTP secret or recovery code, only what a listing shows; and the
    listed `mfa_enabled` follows enrollment and an admin's MFA reset."""
    import boto3

    admin = directory.admin()
    enrolled = directory.user()
    pending = directory.create(enrolled=False)

    def listed() -> dict[str, bool]:
        body = client.get("/users", headers=admin.headers).json()
        return {user["username"]: user["mfa_enabled"] for user in body["items"]}

    assert listed() == {admin.username: True, enrolled.username: True, pending.username: False}
    reset = client.post(f"/users/{enrolled.id}/mfa/reset", headers=admin.headers)
    assert reset.status_code == 204, reset.text
    assert listed()[enrolled.username] is False
    # The pending user enrolls at first login (setup, then the first code).
    challenge = client.post(
        "/auth/login", json={"username": pending.username, "password": PASSWORD}
    ).json()
    setup = client.post("/auth/mfa/setup", json={"mfa_token": challenge["mfa_token"]}).json()
    code = pyotp.TOTP(setup["secret"]).at(directory.clock.now())
    confirm = client.post(
        "/auth/mfa/setup/confirm", json={"mfa_token": challenge["mfa_token"], "code": code}
    )
    assert confirm.status_code == 200, confirm.text
    assert listed()[pending.username] is True

    index = boto3.client("dynamodb").query(
        TableName=settings.table_name,
        IndexName="by-kind",
        KeyConditionExpression="gsi1pk = :kind",
        ExpressionAttributeValues={":kind": {"S": "USERS"}},
    )["Items"]
    assert len(index) == 3
    for entry in index:
        assert set(entry) >= {"username", "email", "role", "mfa_enabled"}
        assert not {
            "password_hash",
            "totp_secret",
            "pending_totp_secret",
            "recovery_code_hashes",
            "revoked_sessions",
            "token_version",
        } & set(entry), sorted(entry)
