"""Structured logs: one JSON line per request, and never a secret anywhere in the log."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pyotp
import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from tests.support import PASSWORD, Directory


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "authapi.request"
    ]


def test_one_json_line_per_request_with_route_status_latency_and_user(
    client: TestClient, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    admin = directory.admin()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="authapi"):
        client.get(f"/users/{admin.id}?limit=1", headers=admin.headers)
        client.get("/users/me", headers={"Authorization": "Bearer garbage"})
        client.get("/nope")
    lines = _request_lines(caplog)
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("GET", "/users/{user_id}", 200),
        ("GET", "/users/me", 401),
        ("GET", "unmatched", 404),
    ]
    assert lines[0]["user_id"] == admin.id
    assert lines[1]["user_id"] is None
    assert all(isinstance(line["latency_ms"], float) for line in lines)
    assert len({line["request_id"] for line in lines}) == 3


def test_no_password_code_token_or_secret_is_ever_logged(
    client: TestClient,
    directory: Directory,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """ASVS 7.1.1 / 5.0 16.2.5: a full login, enrollment, refresh and password change
    with every logger at DEBUG leaves no credential or key anywhere in the output."""
    caplog.set_level(logging.DEBUG)
    admin = directory.admin()
    created = client.post(
        "/users",
        headers=admin.headers,
        json={"username": "dora", "email": "dora@example.com", "password": PASSWORD},
    )
    assert created.status_code == 201
    seen: list[str] = [PASSWORD, admin.tokens["access_token"], admin.tokens["refresh_token"]]

    challenge = client.post("/auth/login", json={"username": "dora", "password": PASSWORD})
    mfa_token = challenge.json()["mfa_token"]
    setup = client.post("/auth/mfa/setup", json={"mfa_token": mfa_token}).json()
    code = pyotp.TOTP(setup["secret"]).at(directory.clock.now())
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    client.post("/auth/mfa/setup/confirm", json={"mfa_token": mfa_token, "code": wrong})
    enrolled = client.post(
        "/auth/mfa/setup/confirm", json={"mfa_token": mfa_token, "code": code}
    ).json()
    refreshed = client.post(
        "/auth/refresh", json={"refresh_token": enrolled["refresh_token"]}
    ).json()
    new_password = "another long passphrase for dora"
    client.post(
        "/users/me/password",
        headers={"Authorization": f"Bearer {refreshed['access_token']}"},
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    seen += [
        mfa_token,
        setup["secret"],
        code,
        wrong,
        enrolled["access_token"],
        enrolled["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        new_password,
        *enrolled["recovery_codes"],
    ]
    ssm = boto3.client("ssm")
    for name in (settings.signing_keys_parameter, settings.totp_keys_parameter):
        value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        seen += [entry["key"] for entry in json.loads(value)["keys"]]

    log_text = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    assert "authapi.request" in {record.name for record in caplog.records}
    for secret in seen:
        assert secret not in log_text
