"""`python -m infra.import_sqlite`, run as an operator runs it, against a loopback moto server.

Protects the "Import from the tutorial" part of the contract: the users of the
tutorial's SQLite file are imported with their bcrypt hashes (upgraded to argon2id at
the first login) but without their 80-bit TOTP secrets (they enroll again at the first
login), invalid rows and duplicates are skipped with a reason, --dry-run writes
nothing, a second run changes nothing, and no hash or secret is ever printed.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import pyotp
import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.users import repository
from authapi.users.domain import Role
from tests.infra.support import run_script
from tests.support import table_items

SUMMARY = re.compile(r"(\d+) imported, (\d+) skipped")
TUTORIAL_SCHEMA = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR UNIQUE,
    username VARCHAR UNIQUE,
    full_name VARCHAR,
    hashed_password VARCHAR,
    otp_secret VARCHAR,
    disabled BOOLEAN,
    role VARCHAR
)
"""


@dataclass(frozen=True)
class Row:
    id: int
    username: str | None
    email: str | None
    password: str | None
    role: str | None = "user"
    disabled: bool = False
    full_name: str | None = None
    hashed_password: str | None = None  # None: bcrypt of `password` (if any)


ROWS = [
    Row(1, "Alice", "alice@example.com", "alice's tutorial password", full_name="Alice A."),
    Row(2, "root", "root@example.com", "the tutorial admin's password", role="admin"),
    Row(3, "dora", "dora@example.com", "dora was disabled in the tutorial", disabled=True),
    Row(4, "ALICE", "other-alice@example.com", "a second alice, other case"),
    Row(5, "bob", "ALICE@EXAMPLE.COM", "bob reuses alice's address"),
    Row(6, "carol", "carol-at-example.com", "carol's address is invalid"),
    Row(7, "erin", "erin@example.com", None),
    Row(8, "frank", "frank@example.com", None, hashed_password="not-a-password-hash"),
    Row(9, "gina", "gina@example.com", "gina has no role in the file", role=None),
]

EXPECTED_LINES = [
    "imported alice",
    "imported root",
    "imported dora",
    "skipped 4 alice: duplicate username (row 1 has it)",
    "skipped 5 bob: duplicate email (row 1 has it)",
    "skipped 6 carol: invalid email: ",
    "skipped 7 erin: missing required field: hashed_password",
    "skipped 8 frank: unusable password hash (not a bcrypt or argon2 hash)",
    "imported gina",
]
IMPORTED = ["alice", "root", "dora", "gina"]


@dataclass(frozen=True)
class TutorialDb:
    path: Path
    hashes: list[str]
    otp_secrets: list[str]


def tutorial_otp_secret() -> str:
    """What the tutorial's `pyotp.random_base32(16)` made: 16 base32 characters, 80 bits.
    pyotp 2.12 refuses that length (see test_pyotp_refuses_the_tutorials_secret_length),
    so the same thing is built by hand."""
    return base64.b32encode(secrets.token_bytes(10)).decode()


def make_tutorial_db(path: Path) -> TutorialDb:
    """The tutorial's v2 users table, with bcrypt hashes and 16-character base32 secrets."""
    hashes: list[str] = []
    otp_secrets: list[str] = []
    with sqlite3.connect(path) as db:
        db.execute(TUTORIAL_SCHEMA)
        for row in ROWS:
            stored_hash = row.hashed_password
            if stored_hash is None and row.password is not None:
                stored_hash = bcrypt.hashpw(row.password.encode(), bcrypt.gensalt(4)).decode()
            if stored_hash is not None:
                hashes.append(stored_hash)
            secret = tutorial_otp_secret()
            otp_secrets.append(secret)
            db.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    row.email,
                    row.username,
                    row.full_name,
                    stored_hash,
                    secret,
                    row.disabled,
                    row.role,
                ),
            )
    db.close()
    return TutorialDb(path, hashes, otp_secrets)


@pytest.fixture
def tutorial_db(tmp_path: Path) -> TutorialDb:
    return make_tutorial_db(tmp_path / "twofactor_app.db")


def run_import(
    endpoint: str, table_name: str, path: Path | str, *args: str
) -> subprocess.CompletedProcess[str]:
    return run_script("infra.import_sqlite", endpoint, str(path), "--table", table_name, *args)


def stored_users(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        item["username"]["S"]: item
        for item in table_items(settings.table_name)
        if item["pk"]["S"].startswith("USER#") and item["sk"]["S"] == "USER"
    }


def assert_report(output: str, expected: list[str], summary: tuple[int, int]) -> None:
    """One line per row (in id order; a reason may be given by its start), then the summary."""
    lines = output.splitlines()
    assert len(lines) >= len(expected) + 1, output
    for line, wanted in zip(lines, expected, strict=False):
        assert line == wanted or (wanted.endswith(": ") and line.startswith(wanted)), (
            line,
            wanted,
        )
    found = SUMMARY.fullmatch(lines[len(expected)])
    assert found, output
    assert (int(found[1]), int(found[2])) == summary, output


def assert_no_secrets(result: subprocess.CompletedProcess[str], db: TutorialDb) -> None:
    printed = result.stdout + result.stderr
    for stored_hash in db.hashes:
        assert stored_hash not in printed, "a password hash was printed"
    for secret in db.otp_secrets:
        assert secret not in printed, "a TOTP secret was printed"
    assert "$2b$" not in printed
    for row in ROWS:
        if row.password:
            assert row.password not in printed


def test_import_reports_every_row_and_stores_the_valid_ones(
    server_aws: str, settings: Settings, tutorial_db: TutorialDb
) -> None:
    """Valid rows are imported with their bcrypt hash, role, disabled flag and full
    name, and without TOTP; every other row is skipped with its reason."""
    before_file = tutorial_db.path.read_bytes()

    result = run_import(server_aws, settings.table_name, tutorial_db.path)

    assert result.returncode == 0, result.stderr
    assert_report(result.stdout, EXPECTED_LINES, (4, 5))
    assert "Traceback" not in result.stderr, result.stderr
    assert_no_secrets(result, tutorial_db)
    assert tutorial_db.path.read_bytes() == before_file, "the SQLite file was changed"

    users = stored_users(settings)
    assert sorted(users) == sorted(IMPORTED)
    for name, item in users.items():
        assert item["password_hash"]["S"].startswith("$2b$"), "the bcrypt hash is kept"
        assert "totp_secret" not in item, item
        assert "pending_totp_secret" not in item, item
        assert not (set(json.dumps(item).split('"')) & set(tutorial_db.otp_secrets)), name
    assert users["alice"]["email"]["S"] == "alice@example.com"
    assert users["alice"]["full_name"]["S"] == "Alice A."
    assert users["root"]["role"]["S"] == "admin"
    assert users["gina"]["role"]["S"] == "user", "a NULL role is a user"
    assert users["dora"]["disabled"]["BOOL"] is True
    assert users["alice"]["disabled"]["BOOL"] is False


def test_dry_run_writes_nothing_and_reports_the_same(
    server_aws: str, settings: Settings, tutorial_db: TutorialDb
) -> None:
    """--dry-run gives the report the real run gives, and leaves the table untouched."""
    before = table_items(settings.table_name)

    dry = run_import(server_aws, settings.table_name, tutorial_db.path, "--dry-run")

    assert dry.returncode == 0, dry.stderr
    assert table_items(settings.table_name) == before
    assert_report(dry.stdout, EXPECTED_LINES, (4, 5))
    assert "dry run" in dry.stdout.lower(), dry.stdout
    assert_no_secrets(dry, tutorial_db)

    real = run_import(server_aws, settings.table_name, tutorial_db.path)
    assert real.returncode == 0, real.stderr
    report_lines = len(EXPECTED_LINES) + 1
    assert real.stdout.splitlines()[:report_lines] == dry.stdout.splitlines()[:report_lines]


def test_second_run_changes_nothing(
    server_aws: str, settings: Settings, tutorial_db: TutorialDb
) -> None:
    """Running the import again skips every row (imported ones as already present),
    exits 0 and leaves the table as it was; a dry run then says the same."""
    first = run_import(server_aws, settings.table_name, tutorial_db.path)
    assert first.returncode == 0, first.stderr
    after_first = table_items(settings.table_name)

    again = run_import(server_aws, settings.table_name, tutorial_db.path)

    assert again.returncode == 0, again.stderr
    assert table_items(settings.table_name) == after_first
    expected = [
        f"skipped {index} {line.removeprefix('imported ')}: username already in the table"
        if line.startswith("imported ")
        else line
        for index, line in enumerate(EXPECTED_LINES, start=1)
    ]
    assert_report(again.stdout, expected, (0, 9))
    assert_no_secrets(again, tutorial_db)

    dry = run_import(server_aws, settings.table_name, tutorial_db.path, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert_report(dry.stdout, expected, (0, 9))
    assert table_items(settings.table_name) == after_first


def test_email_already_in_the_table_is_skipped(
    server_aws: str, settings: Settings, tmp_path: Path
) -> None:
    """A row whose address (in any case) belongs to a user already in the table is skipped."""
    first = make_tutorial_db(tmp_path / "first.db")
    assert run_import(server_aws, settings.table_name, first.path).returncode == 0
    before = table_items(settings.table_name)
    path = tmp_path / "second.db"
    with sqlite3.connect(path) as db:
        db.execute(TUTORIAL_SCHEMA)
        db.execute(
            "INSERT INTO users VALUES (1, 'Root@Example.COM', 'newroot', NULL, ?, NULL, 0, 'user')",
            (bcrypt.hashpw(b"another tutorial password", bcrypt.gensalt(4)).decode(),),
        )
    db.close()

    for extra in (("--dry-run",), ()):
        result = run_import(server_aws, settings.table_name, path, *extra)
        assert result.returncode == 0, result.stderr
        assert_report(result.stdout, ["skipped 1 newroot: email already in the table"], (0, 1))
    assert table_items(settings.table_name) == before


def test_imported_users_sign_in_with_their_tutorial_password(
    server_aws: str, settings: Settings, tutorial_db: TutorialDb, server_client: TestClient
) -> None:
    """The original password works, the next step is TOTP setup (the tutorial's secret was
    not kept), and the bcrypt hash becomes argon2id; a disabled user is refused."""
    result = run_import(server_aws, settings.table_name, tutorial_db.path)
    assert result.returncode == 0, result.stderr
    alice, root, dora = ROWS[0], ROWS[1], ROWS[2]

    for row in (alice, root):
        assert row.username is not None
        login = server_client.post(
            "/auth/login", json={"username": row.username, "password": row.password}
        )
        assert login.status_code == 200, login.text
        assert login.json()["mfa"] == "setup", "imported users enroll at their first login"
        user = repository.find_for_login(row.username.lower())
        assert user is not None
        assert user.password_hash.startswith("$argon2id$"), "upgraded at the first login"
        assert user.totp_secret is None

    imported_root = repository.find_for_login("root")
    assert imported_root is not None
    assert imported_root.role is Role.ADMIN

    refused = server_client.post(
        "/auth/login", json={"username": "dora", "password": dora.password}
    )
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "INVALID_CREDENTIALS"


def test_json_report(server_aws: str, settings: Settings, tutorial_db: TutorialDb) -> None:
    """--json prints one object: counts and one entry per row, without hashes or secrets."""
    result = run_import(server_aws, settings.table_name, tutorial_db.path, "--json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["imported"], report["skipped"], report["dry_run"]) == (4, 5, False)
    assert [row["id"] for row in report["rows"]] == [str(row.id) for row in ROWS]
    assert [row["username"] for row in report["rows"] if row["status"] == "imported"] == IMPORTED
    assert report["rows"][3]["reason"] == "duplicate username (row 1 has it)"
    assert report["imported_with_otp_secret_dropped"] == 4
    assert_no_secrets(result, tutorial_db)


def test_unreachable_table_exits_1_without_a_traceback(
    server_aws: str, settings: Settings, tutorial_db: TutorialDb
) -> None:
    """A table that does not exist: exit 1 with a sentence saying a rerun is safe."""
    result = run_import(server_aws, "no-such-table", tutorial_db.path)

    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "stopped" in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert_no_secrets(result, tutorial_db)


def test_pyotp_refuses_the_tutorials_secret_length() -> None:
    """Why the import drops TOTP secrets: the pyotp this service ships refuses 16-character
    (80-bit) base32 secrets, the length the tutorial generated."""
    with pytest.raises(ValueError, match="160 bits"):
        pyotp.random_base32(16)
    assert len(tutorial_otp_secret()) == 16


def _not_sqlite(path: Path) -> None:
    path.write_text("id,username\n1,alice\n", encoding="utf-8")


def _no_users_table(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, username VARCHAR)")
    db.close()


def _v1_schema(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR, username VARCHAR, "
            "full_name VARCHAR, hashed_password VARCHAR, otp_secret VARCHAR, disabled BOOLEAN)"
        )
    db.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(None, "no such file", id="missing"),
        pytest.param(_not_sqlite, "not a readable sqlite database", id="not-sqlite"),
        pytest.param(_no_users_table, "no `users` table", id="no-users-table"),
        pytest.param(_v1_schema, "role", id="missing-column"),
    ],
)
def test_unusable_file_exits_2_with_a_message(
    tmp_path: Path, settings: Settings, make: Callable[[Path], None] | None, message: str
) -> None:
    """A missing file or one without the tutorial's users table: exit 2, one clear
    sentence, no traceback. Nothing contacts the table (the endpoint is unreachable)."""
    path = tmp_path / "twofactor_app.db"
    if make is not None:
        make(path)

    result = run_import("http://127.0.0.1:9", settings.table_name, path)

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr.lower(), result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
