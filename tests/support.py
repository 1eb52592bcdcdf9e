"""Test helpers: a controllable clock and a client-side view of users and logins."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pyotp
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.security import totp
from authapi.security.keys import load_totp_secret_keys
from authapi.security.recovery_codes import new_recovery_codes
from authapi.users import service
from authapi.users.domain import Role

PASSWORD = "correct horse battery staple"

# Stand-ins for the credentials a developer's shell may hold (the sam local tests check
# none reaches the function). Made up, and shaped unlike real AWS keys on purpose, so no
# secret scanner mistakes them for one.
DEVELOPER_KEY_ID = "not-a-key-developer-id"
DEVELOPER_SECRET = "not-a-secret-developer-value"
DEVELOPER_TOKEN = "not-a-token-developer-session"


class Clock:
    def __init__(self) -> None:
        # Start at the beginning of a TOTP step so one test never straddles two by accident.
        self._now = float(int(time.time()) // 30 * 30 + 1)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def next_step(self) -> None:
        self.advance(totp.STEP_SECONDS)


@dataclass
class Account:
    id: str
    username: str
    password: str
    totp_secret: str | None = None
    recovery_codes: list[str] = field(default_factory=list)
    tokens: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}


class Directory:
    def __init__(self, client: TestClient, settings: Settings, clock: Clock) -> None:
        self.client = client
        self.settings = settings
        self.clock = clock
        self._count = 0

    def code(self, account: Account) -> str:
        assert account.totp_secret is not None
        return pyotp.TOTP(account.totp_secret).at(self.clock.now())

    def create(
        self, role: Role = Role.USER, *, enrolled: bool = True, username: str | None = None
    ) -> Account:
        """A user straight in the table (enrolled: with TOTP and recovery codes)."""
        self._count += 1
        name = username or f"{role.value}{self._count}"
        secret = totp.new_secret() if enrolled else None
        recovery = new_recovery_codes()
        user = service.create_user(
            self.settings,
            username=name,
            email=f"{name}@example.com",
            password=PASSWORD,
            role=role,
            enrollment=(
                service.Enrollment(secret, recovery, load_totp_secret_keys(self.settings))
                if secret
                else None
            ),
        )
        return Account(user.id, user.username, PASSWORD, secret, recovery if enrolled else [])

    def sign_in(self, account: Account) -> Account:
        """Two-step login with a fresh TOTP step, so codes are never replays."""
        self.clock.next_step()
        challenge = self.client.post(
            "/auth/login", json={"username": account.username, "password": account.password}
        )
        assert challenge.status_code == 200, challenge.text
        response = self.client.post(
            "/auth/mfa/verify",
            json={"mfa_token": challenge.json()["mfa_token"], "code": self.code(account)},
        )
        assert response.status_code == 200, response.text
        account.tokens = response.json()
        return account

    def admin(self) -> Account:
        return self.sign_in(self.create(Role.ADMIN))

    def user(self) -> Account:
        return self.sign_in(self.create(Role.USER))


def fill_placeholders(value: Any, values: Mapping[str, str]) -> Any:
    """An event fixture (tests/events) with every `__NAME__` replaced by values[NAME]."""
    if isinstance(value, str):
        for name, replacement in values.items():
            value = value.replace(f"__{name}__", replacement)
        return value
    if isinstance(value, dict):
        return {key: fill_placeholders(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_placeholders(item, values) for item in value]
    return value


def table_items(table_name: str) -> list[dict[str, Any]]:
    """Every item of the table, in a stable order (boto3 pointed at moto by the fixtures).
    A Scan, which is fine in a test: the service itself never scans."""
    dynamodb = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table_name}
    while True:
        page = dynamodb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


ROOT = Path(__file__).resolve().parents[1]


def run_fresh_python(script: str, *args: str) -> str:
    """Run `script` in a new interpreter that sees the function's code and this project
    only (what a new container imports, not what this test process has imported), and
    return what it printed. A failing script fails the test with its error output."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            "PYTHONPATH": str(ROOT / "functions" / "api"),
            "PATH": "/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
