from __future__ import annotations

import pyotp
from fastapi.testclient import TestClient

from tests.support import PASSWORD, Directory


def test_tutorial_flow(client: TestClient, directory: Directory) -> None:
    admin = directory.admin()
    me = client.get("/users/me", headers=admin.headers)
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "admin"
    created = client.post(
        "/users",
        headers=admin.headers,
        json={"username": "Alice", "email": "alice@example.com", "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    login = client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert login.json()["mfa"] == "setup"
    setup = client.post("/auth/mfa/setup", json={"mfa_token": login.json()["mfa_token"]})
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    code = pyotp.TOTP(secret).at(directory.clock.now())
    confirm = client.post(
        "/auth/mfa/setup/confirm", json={"mfa_token": login.json()["mfa_token"], "code": code}
    )
    assert confirm.status_code == 200, confirm.text
    assert len(confirm.json()["recovery_codes"]) == 10
    directory.clock.next_step()
    token = client.post(
        "/token",
        data={
            "username": "alice",
            "password": PASSWORD + pyotp.TOTP(secret).at(directory.clock.now()),
        },
    )
    assert token.status_code == 200, token.text
    refreshed = client.post("/auth/refresh", json={"refresh_token": token.json()["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
