"""`python -m infra.seed_admin`, run as an operator runs it, against a loopback moto server.

Protects the "Tools outside HTTP / Seed script" part of the contract (API.md): the
first admin is created already enrolled in TOTP, its otpauth:// URI is printed on a
line of its own with a QR code (or as JSON with --json), a second run changes nothing
and exits 1, a generated password is printed once and works, and the password policy
applies.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.security import totp_secrets
from authapi.security.keys import load_totp_secret_keys
from authapi.security.passwords import verify_password
from tests.infra.support import run_script
from tests.support import Clock, table_items

PASSWORD = "seeded operator passphrase 4Wq"
QR_CHARACTERS = set("█▀▄ ")
MIN_QR_LINES = 15
OTPAUTH_LINE = re.compile(r"otpauth://totp/\S+")


def run_seed(
    endpoint: str, settings: Settings, *args: str, stdin_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_script(
        "infra.seed_admin", endpoint, "--table", settings.table_name, *args, stdin_text=stdin_text
    )


def stored_users(settings: Settings) -> list[dict[str, Any]]:
    return [
        item
        for item in table_items(settings.table_name)
        if item["pk"]["S"].startswith("USER#") and item["sk"]["S"] == "USER"
    ]


def only_user(settings: Settings) -> dict[str, Any]:
    users = stored_users(settings)
    assert len(users) == 1, users
    return users[0]


def seed_json(endpoint: str, settings: Settings, username: str = "RootAdmin") -> dict[str, Any]:
    result = run_seed(
        endpoint,
        settings,
        "--username",
        username,
        "--email",
        "Root@Example.com",
        "--password-stdin",
        "--json",
        stdin_text=PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def stored_totp_secret(item: dict[str, Any], settings: Settings) -> str:
    """The TOTP secret of a stored user item, decrypted (it is stored encrypted)."""
    return totp_secrets.decrypt(
        load_totp_secret_keys(settings), item["totp_secret"]["S"], item["user_id"]["S"]
    )


def test_json_output_and_the_stored_admin(server_aws: str, settings: Settings) -> None:
    """--json --password-stdin prints {user_id, username, otpauth_uri}; the stored user is
    an admin enrolled in TOTP, with a lower-cased username and only an argon2id hash."""
    result = run_seed(
        server_aws,
        settings,
        "--username",
        "RootAdmin",
        "--email",
        "root@example.com",
        "--password-stdin",
        "--json",
        stdin_text=PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert isinstance(output, dict), result.stdout
    assert output["username"] == "rootadmin", output
    assert output["user_id"], output
    assert output["otpauth_uri"].startswith("otpauth://totp/"), output
    totp = pyotp.parse_uri(output["otpauth_uri"])
    assert isinstance(totp, pyotp.TOTP)
    assert "password" not in output, "a password the operator chose is never echoed"
    assert PASSWORD not in result.stdout + result.stderr

    item = only_user(settings)
    assert item["user_id"]["S"] == output["user_id"]
    assert item["username"]["S"] == "rootadmin"
    assert item["role"]["S"] == "admin"
    assert stored_totp_secret(item, settings) == totp.secret, (
        "the admin is enrolled with the URI's secret"
    )
    assert totp.secret not in json.dumps(item), "the TOTP secret is stored in plaintext"
    assert item["password_hash"]["S"].startswith("$argon2id$"), item["password_hash"]
    ok, _ = verify_password(PASSWORD, item["password_hash"]["S"])
    assert ok
    assert PASSWORD not in json.dumps(table_items(settings.table_name)), "plaintext password stored"


def test_terminal_output_has_the_uri_on_its_own_line_and_a_qr_code(
    server_aws: str, settings: Settings
) -> None:
    """Without --json the otpauth:// URI is printed on a line of its own, then a QR code."""
    result = run_seed(
        server_aws,
        settings,
        "--username",
        "root",
        "--email",
        "root@example.com",
        "--password-stdin",
        stdin_text=PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    uri_lines = [i for i, line in enumerate(lines) if line.startswith("otpauth://")]
    assert len(uri_lines) == 1, result.stdout
    uri = lines[uri_lines[0]]
    assert OTPAUTH_LINE.fullmatch(uri), repr(uri)
    assert pyotp.parse_uri(uri).secret == stored_totp_secret(only_user(settings), settings)
    after_uri = lines[uri_lines[0] + 1 :]
    qr_lines = [line for line in after_uri if line and set(line) <= QR_CHARACTERS]
    assert len(qr_lines) >= MIN_QR_LINES, result.stdout
    assert any("█" in line for line in qr_lines), result.stdout


@pytest.mark.parametrize(
    ("username", "email"),
    [
        pytest.param("RootAdmin", "Root@Example.com", id="identical"),
        pytest.param("ROOTADMIN", "other@example.com", id="same-name-other-case-and-email"),
    ],
)
def test_second_run_for_the_same_username_changes_nothing(
    server_aws: str, settings: Settings, username: str, email: str
) -> None:
    """Running the seed twice for one username exits 1, says so, and changes nothing."""
    seed_json(server_aws, settings)
    before = table_items(settings.table_name)

    again = run_seed(
        server_aws,
        settings,
        "--username",
        username,
        "--email",
        email,
        "--password-stdin",
        "--json",
        stdin_text="a different passphrase 8Rt\n",
    )

    assert again.returncode == 1, (again.stdout, again.stderr)
    assert "nothing changed" in again.stderr.lower(), again.stderr
    assert "otpauth://" not in again.stdout, again.stdout
    assert table_items(settings.table_name) == before


def test_generated_password_is_printed_once_and_signs_in(
    server_aws: str, settings: Settings, server_client: TestClient, clock: Clock
) -> None:
    """With no password source and no terminal, a password is generated, printed exactly
    once, and the admin signs in with it (password, then a TOTP code)."""
    result = run_seed(server_aws, settings, "--username", "root", "--email", "root@example.com")
    assert result.returncode == 0, result.stderr
    stored_hash = only_user(settings)["password_hash"]["S"]
    candidates = [
        line.strip()
        for line in result.stdout.splitlines()
        if line.strip().isascii()
        and line.strip()
        and " " not in line.strip()
        and not line.startswith("otpauth://")
    ]
    printed = [word for word in candidates if verify_password(word, stored_hash)[0]]
    assert len(printed) == 1, result.stdout
    password = printed[0]
    assert len(password) >= settings.password_min_length
    assert result.stdout.count(password) == 1, "the generated password is printed once"
    assert password not in result.stderr

    uri = next(line for line in result.stdout.splitlines() if line.startswith("otpauth://"))
    login = server_client.post("/auth/login", json={"username": "root", "password": password})
    assert login.status_code == 200, login.text
    assert login.json()["mfa"] == "totp", "the seeded admin is already enrolled"
    verified = server_client.post(
        "/auth/mfa/verify",
        json={
            "mfa_token": login.json()["mfa_token"],
            "code": pyotp.TOTP(pyotp.parse_uri(uri).secret).at(clock.now()),
        },
    )
    assert verified.status_code == 200, verified.text
    me = server_client.get(
        "/users/me", headers={"Authorization": f"Bearer {verified.json()['access_token']}"}
    )
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "admin"


@pytest.mark.parametrize(
    "weak",
    [
        pytest.param("short1", id="too-short"),
        pytest.param("root-the-admin-2024", id="contains-username"),
        pytest.param("", id="empty"),
    ],
)
def test_weak_password_creates_nothing(server_aws: str, settings: Settings, weak: str) -> None:
    """A password the policy refuses exits non-zero and leaves the table untouched."""
    before = table_items(settings.table_name)

    result = run_seed(
        server_aws,
        settings,
        "--username",
        "root",
        "--email",
        "root@example.com",
        "--password-stdin",
        stdin_text=weak + "\n",
    )

    assert result.returncode != 0, result.stdout
    assert "password" in result.stderr.lower(), result.stderr
    assert "otpauth://" not in result.stdout, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert table_items(settings.table_name) == before
    assert stored_users(settings) == []
