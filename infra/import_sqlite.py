"""Import the users of the FastAPI tutorial's SQLite database (its v2 `users` table).

    python -m infra.import_sqlite PATH/twofactor_app.db [--dry-run] [--json]
        [--endpoint-url URL | --stack-name STACK | --table TABLE] [--region R]

Every row is checked first (required fields, username and email rules, a password hash
the service can verify, a known role, and duplicates within the file: usernames and
emails are case-insensitive, the row with the lowest id wins), then written with
`authapi.users.service.import_user`, which keeps the bcrypt hash (the app replaces it
with argon2id at the user's first successful login). Rows whose username or email is
already in the table are skipped, so a second run changes nothing. With --dry-run the
table is only read (to find users already there) and nothing is written.

The report has one line per row, `imported <username>` or
`skipped <row id> <username or ?>: <reason>`, then `N imported, M skipped`; --json
prints the same as one JSON object. Password hashes and TOTP secrets are never printed.

TOTP secrets are not imported. The tutorial's secrets are 16 base32 characters, i.e. 80
bits: below RFC 4226's minimum of 128 bits (section 4, R6), below NIST SP 800-63B's 112
bits for OTP authenticators, and shorter than pyotp 2.12 accepts. Imported users
therefore lose their authenticator entry: they are created without TOTP and enroll at
their first login (`POST /auth/login` answers `"mfa": "setup"`). The `otp_secret`
column is read only to count, in the report, the users this concerns.

Exit status: 0 when every row was processed (skipped rows included); 1 when the table
could not be read or written (rows reported as imported before that stay imported, and
running again is safe); 2 when the file is missing or unreadable, or has no `users`
table with the expected columns.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authapi.core import db
from authapi.core.config import Settings
from authapi.core.errors import EmailTaken, PolicyViolation, ServiceUnavailable, UsernameTaken
from authapi.security import passwords
from authapi.users import repository, service
from authapi.users.domain import Role, normalize_email, normalize_username
from infra.target import add_target_arguments, point_at_target

EXPECTED_COLUMNS = (
    "id",
    "email",
    "username",
    "full_name",
    "hashed_password",
    "otp_secret",
    "disabled",
    "role",
)
REQUIRED_FIELDS = ("username", "email", "hashed_password")
_TRUE = frozenset({"1", "true", "t", "yes", "y"})
_FALSE = frozenset({"0", "false", "f", "no", "n", ""})
_MAX_SHOWN_CHARS = 40

# SELECT with identifiers from the fixed tuple above, never from input.
_SELECT = f"SELECT {', '.join(EXPECTED_COLUMNS)} FROM users ORDER BY id"  # noqa: S608


class SourceError(Exception):
    """The file cannot be used at all (missing, not SQLite, no users table/columns)."""


@dataclass(frozen=True)
class SourceRow:
    """One row of the tutorial's users table, as read (the OTP secret only as a flag)."""

    id: str
    username: str | None
    email: str | None
    full_name: str | None
    hashed_password: str | None
    has_otp_secret: bool
    disabled: object
    role: object


@dataclass(frozen=True)
class Candidate:
    """A row that passed every check that needs no table: what import_user gets."""

    username: str
    email: str
    password_hash: str
    full_name: str | None
    role: str
    disabled: bool


@dataclass
class Outcome:
    row_id: str
    username: str | None
    had_otp_secret: bool
    candidate: Candidate | None = None
    reason: str | None = None
    # False until the table has been checked (dry run) or written for this row.
    settled: bool = False

    @property
    def imported(self) -> bool:
        return self.reason is None

    def line(self) -> str:
        if self.reason is None:
            return f"imported {self.username}"
        return f"skipped {self.row_id} {self.username or '?'}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.row_id,
            "username": self.username,
            "status": "imported" if self.reason is None else "skipped",
            "reason": self.reason,
            "had_otp_secret": self.had_otp_secret,
        }


def _text(value: object) -> str | None:
    """A column value as stripped text; None for NULL, blank or undecodable values."""
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    text = str(value).strip()
    return text or None


def _shown(value: object) -> str:
    """A value of the file, safe to print on one line (quoted, escaped, shortened)."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN_CHARS else text[: _MAX_SHOWN_CHARS - 3] + "..."


def read_rows(path: Path) -> list[SourceRow]:
    """The users table, in id order. Opened read-only: the file is never changed."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file.")
    try:
        with path.open("rb"):
            pass
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except (OSError, sqlite3.Error) as exc:
        raise SourceError(f"{path}: cannot open it ({exc}).") from exc
    try:
        columns = {str(info[1]).lower() for info in db.execute("PRAGMA table_info(users)")}
        if not columns:
            raise SourceError(f"{path}: no `users` table (is it the tutorial's database?).")
        missing = [name for name in EXPECTED_COLUMNS if name not in columns]
        if missing:
            raise SourceError(
                f"{path}: the `users` table lacks the column(s) {', '.join(missing)} "
                "(expected the tutorial's v2 schema)."
            )
        rows = db.execute(_SELECT).fetchall()
    except sqlite3.Error as exc:
        raise SourceError(f"{path}: not a readable SQLite database ({exc}).") from exc
    finally:
        db.close()
    return [
        SourceRow(
            id=str(row_id),
            username=_text(username),
            email=_text(email),
            full_name=_text(full_name),
            hashed_password=_text(hashed_password),
            has_otp_secret=_text(otp_secret) is not None,
            disabled=disabled,
            role=role,
        )
        for row_id, email, username, full_name, hashed_password, otp_secret, disabled, role in rows
    ]


def _disabled(value: object) -> bool | None:
    """SQLite stores BOOLEAN as 0/1; NULL means enabled. None for anything else."""
    if value is None:
        return False
    if isinstance(value, int | float):
        return bool(value)
    text = _text(value)
    lowered = "" if text is None else text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


def check_row(row: SourceRow) -> Outcome:
    """Every check one row allows on its own. Sets `candidate` or `reason`."""
    outcome = Outcome(row.id, None, row.has_otp_secret)
    raw_email, password_hash = row.email, row.hashed_password
    missing = [name for name in REQUIRED_FIELDS if getattr(row, name) is None]
    username = None
    if row.username is not None:
        try:
            username = outcome.username = normalize_username(row.username)
        except PolicyViolation as exc:
            if not missing:
                outcome.reason = f"invalid username {_shown(row.username)}: {exc.detail}"
                return outcome
    if missing or username is None or raw_email is None or password_hash is None:
        outcome.reason = f"missing required field: {', '.join(missing)}"
        return outcome
    try:
        email = normalize_email(raw_email)
    except PolicyViolation as exc:
        outcome.reason = f"invalid email: {exc.detail.removeprefix('email: ')}"
        return outcome
    if passwords.scheme_of(password_hash) is None:
        outcome.reason = "unusable password hash (not a bcrypt or argon2 hash)"
        return outcome
    role = "user" if row.role is None else row.role
    if role not in {member.value for member in Role}:
        outcome.reason = f"unknown role {_shown(role)}"
        return outcome
    disabled = _disabled(row.disabled)
    if disabled is None:
        outcome.reason = f"invalid disabled flag {_shown(row.disabled)}"
        return outcome
    outcome.candidate = Candidate(
        username=username,
        email=email,
        password_hash=password_hash,
        full_name=row.full_name,
        role=str(role),
        disabled=disabled,
    )
    return outcome


def plan(rows: list[SourceRow]) -> list[Outcome]:
    """Check every row, then skip later duplicates within the file (lowest id wins)."""
    outcomes = [check_row(row) for row in rows]
    owner_of_username: dict[str, str] = {}
    owner_of_email: dict[str, str] = {}
    for outcome in outcomes:
        candidate = outcome.candidate
        if candidate is None:
            continue
        email_key = candidate.email.lower()  # as the table's email claims compare
        if candidate.username in owner_of_username:
            first = owner_of_username[candidate.username]
            outcome.reason = f"duplicate username (row {first} has it)"
        elif email_key in owner_of_email:
            outcome.reason = f"duplicate email (row {owner_of_email[email_key]} has it)"
        if outcome.reason is not None:
            outcome.candidate = None
            continue
        owner_of_username[candidate.username] = outcome.row_id
        owner_of_email[email_key] = outcome.row_id
    return outcomes


def _present_reason(candidate: Candidate) -> str | None:
    if repository.username_taken(candidate.username):
        return "username already in the table"
    if repository.email_taken(candidate.email):
        return "email already in the table"
    return None


def apply(settings: Settings, outcomes: list[Outcome], dry_run: bool) -> None:
    """Write every candidate (or, in a dry run, only look for it in the table).

    Raises ServiceUnavailable when the table cannot be read or written.
    """
    db.bind(settings)
    for outcome in outcomes:
        candidate = outcome.candidate
        if candidate is None or outcome.reason is not None:
            continue
        if dry_run:
            outcome.reason = _present_reason(candidate)
            outcome.settled = True
            continue
        try:
            service.import_user(
                settings,
                username=candidate.username,
                email=candidate.email,
                password_hash=candidate.password_hash,
                full_name=candidate.full_name,
                role=Role(candidate.role),
                disabled=candidate.disabled,
            )
        except UsernameTaken:
            outcome.reason = "username already in the table"
        except EmailTaken:
            outcome.reason = "email already in the table"
        except PolicyViolation as exc:  # checked above already; kept as a safety net
            outcome.reason = exc.detail
        outcome.settled = True


def report(outcomes: list[Outcome], dry_run: bool, as_json: bool) -> None:
    imported = [outcome for outcome in outcomes if outcome.imported]
    skipped = len(outcomes) - len(imported)
    without_totp = sum(outcome.had_otp_secret for outcome in imported)
    if as_json:
        document = {
            "dry_run": dry_run,
            "imported": len(imported),
            "skipped": skipped,
            "imported_with_otp_secret_dropped": without_totp,
            "rows": [outcome.as_dict() for outcome in outcomes],
        }
        print(json.dumps(document))
        return
    for outcome in outcomes:
        print(outcome.line())
    print(f"{len(imported)} imported, {skipped} skipped")
    if without_totp:
        print(
            f"note: {without_totp} imported user(s) had a TOTP secret in the file; it was "
            "not imported (80 bits, too short): they set up TOTP again at their first login."
        )
    if dry_run:
        print("dry run: nothing was written.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="the tutorial's SQLite file")
    parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    add_target_arguments(parser)
    args = parser.parse_args(argv)

    try:
        rows = read_rows(args.path)
    except SourceError as exc:
        print(f"Nothing imported: {exc}", file=sys.stderr)
        return 2

    point_at_target(args)
    outcomes = plan(rows)
    try:
        apply(Settings.from_env(), outcomes, args.dry_run)
    except ServiceUnavailable as exc:
        cause = exc.__cause__
        why = getattr(cause, "cause_response_message", None) or cause or exc.detail
        written = [o.username for o in outcomes if o.settled and o.imported and not args.dry_run]
        print(
            f"Stopped: the table could not be read or written ({why}). "
            f"Imported before that: {', '.join(map(str, written)) or 'nobody'}. "
            "Running the import again is safe: users already there are skipped.",
            file=sys.stderr,
        )
        return 1
    report(outcomes, args.dry_run, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
