"""The audit trail: ASVS 4.0.3 7.1.x / 7.2.x, 5.0 16.3.x."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from authapi.audit.models import AuditEventItem, user_audit_pk
from authapi.core.config import Settings
from tests.support import PASSWORD, Account, Directory, table_items


def _events(client: TestClient, admin: Account, **params: Any) -> list[dict[str, Any]]:
    events, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get("/audit-events", headers=admin.headers, params=query)
        assert response.status_code == 200, response.text
        events += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return events


def test_asvs_7_2_1_logins_are_recorded_with_the_factor(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    admin = directory.admin()
    user = directory.create()
    client.post("/auth/login", json={"username": user.username, "password": "wrong password!"})
    client.post("/auth/login", json={"username": "nobody-here", "password": "whatever"})
    directory.sign_in(user)
    mine = _events(client, admin, user_id=user.id)
    kinds = [(event["type"], event["detail"].get("factor")) for event in mine]
    # Newest first.
    assert kinds[:2] == [("login_succeeded", "totp"), ("login_failed", "password")]
    assert mine[1]["detail"]["reason"] == "wrong_password"
    assert all(event["ip"] == "testclient" for event in mine if event["type"].startswith("login"))
    # A failure for a name with no account is stored (and logged) but kept out of the
    # listing index: an attacker can cause those without limit (docs/capacity.md).
    listed = _events(client, admin)
    assert not [event for event in listed if event["detail"].get("reason") == "unknown_user"]
    [stored] = [
        item
        for item in table_items(settings.table_name)
        if item["pk"]["S"].startswith("AUDIT#-#") and item["type"]["S"] == "login_failed"
    ]
    assert json.loads(stored["detail"]["S"])["reason"] == "unknown_user"
    assert "gsi1pk" not in stored
    assert "gsi1sk" not in stored


def test_throttled_attempts_are_stored_for_the_account_but_not_listed(
    client: TestClient, directory: Directory
) -> None:
    """A 429 was never checked: the account's own trail keeps it (`user_id=`), the
    all-events listing and its index do not (an attacker can cause any number)."""
    admin = directory.admin()
    user = directory.create()
    for _ in range(6):
        client.post("/auth/login", json={"username": user.username, "password": "wrong password!"})
    mine = [event["type"] for event in _events(client, admin, user_id=user.id)]
    assert mine.count("login_throttled") == 1
    assert mine.count("login_failed") == 5
    everyone = [event for event in _events(client, admin) if event["user_id"] == user.id]
    assert [event["type"] for event in everyone].count("login_throttled") == 0


def test_asvs_7_2_1_password_rechecks_are_recorded_like_sign_ins(
    client: TestClient, directory: Directory
) -> None:
    """A signed-in user's wrong current password (here at a password change) is a failed
    authentication and a refused attempt a throttled one, marked as a re-authentication
    (a stolen access token guessing the password shows in the account's trail)."""
    admin = directory.admin()
    user = directory.user()
    change = {"current_password": "wrong password!!", "new_password": "a new long passphrase"}
    answers = [
        client.post("/users/me/password", headers=user.headers, json=change).status_code
        for _ in range(6)
    ]
    assert answers == [401] * 5 + [429]
    rechecks = [
        (event["type"], event["detail"])
        for event in _events(client, admin, user_id=user.id)
        if event["detail"].get("step") == "reauthentication"
    ]
    failed = {"factor": "password", "reason": "wrong_password", "step": "reauthentication"}
    assert (
        rechecks
        == [("login_throttled", {"step": "reauthentication"})] + [("login_failed", failed)] * 5
    )


def test_admin_changes_name_actor_target_and_what_changed(
    client: TestClient, directory: Directory
) -> None:
    admin = directory.admin()
    user = directory.user()
    client.patch(f"/users/{user.id}", headers=admin.headers, json={"role": "admin"})
    client.post(f"/users/{user.id}/mfa/reset", headers=admin.headers)
    events = _events(client, admin, user_id=user.id)
    reset, updated = events[0], events[1]
    assert (reset["type"], reset["actor_id"]) == ("mfa_reset", admin.id)
    assert updated["type"] == "user_updated"
    assert updated["actor_id"] == admin.id
    assert updated["detail"] == {"fields": ["role"], "role": "admin", "disabled": False}


def test_security_events_are_recorded(client: TestClient, directory: Directory) -> None:
    admin = directory.admin()
    user = directory.user()
    first = user.tokens["refresh_token"]
    client.post("/auth/refresh", json={"refresh_token": first})
    client.post("/auth/refresh", json={"refresh_token": first})  # reuse
    client.post("/auth/logout-all", headers=directory.sign_in(user).headers)
    directory.clock.next_step()
    challenge = client.post(
        "/auth/login", json={"username": user.username, "password": PASSWORD}
    ).json()
    client.post(
        "/auth/mfa/verify",
        json={"mfa_token": challenge["mfa_token"], "code": user.recovery_codes[0]},
    )
    types = {event["type"] for event in _events(client, admin, user_id=user.id)}
    assert {"refresh_token_reuse", "logout_all", "recovery_code_used", "user_created"} <= types


def test_events_never_contain_secrets(
    client: TestClient, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    """ASVS 7.1.1 / 5.0 16.2.5: no password, code, token or TOTP secret in events or logs."""
    caplog.set_level(logging.INFO)
    admin = directory.admin()
    user = directory.user()
    code = directory.code(user)
    client.post("/token", data={"username": user.username, "password": PASSWORD + code})
    client.post("/auth/refresh", json={"refresh_token": user.tokens["refresh_token"]})
    stored = json.dumps(_events(client, admin))
    secrets = [
        PASSWORD,
        code,
        user.tokens["access_token"],
        user.tokens["refresh_token"],
        str(user.totp_secret),
        *user.recovery_codes,
    ]
    for secret in secrets:
        assert secret not in stored
        assert secret not in caplog.text


def test_events_expire_after_the_retention_period(client: TestClient, directory: Directory) -> None:
    user = directory.user()
    [item, *_] = AuditEventItem.query(user_audit_pk(user.id))
    assert item.expires_at is not None
    retention = item.expires_at.timestamp() - directory.clock.now()
    assert 399 * 86400 < retention <= 400 * 86400


def test_listing_pages_newest_first_and_needs_an_admin(
    client: TestClient, directory: Directory
) -> None:
    admin = directory.admin()
    user = directory.user()
    everything = _events(client, admin, limit=2)
    assert len(everything) >= 4
    times = [event["at"] for event in everything]
    assert times == sorted(times, reverse=True)
    assert len({event["id"] for event in everything}) == len(everything)
    assert client.get("/audit-events", headers=user.headers).json()["code"] == "FORBIDDEN"
    bad = client.get("/audit-events", headers=admin.headers, params={"cursor": "forged"})
    assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")
    users_cursor = client.get("/users", headers=admin.headers, params={"limit": 1}).json()[
        "next_cursor"
    ]
    crossed = client.get("/audit-events", headers=admin.headers, params={"cursor": users_cursor})
    assert crossed.status_code == 422
