"""The user as the services see it, independent of storage and HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from authapi.core.errors import PolicyViolation
from authapi.security.throttle import FailureRecord


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True, kw_only=True)
class UserBase:
    """What every view of a user holds. `UserSummary` adds what a listing shows (the
    by-kind index: no secrets), `User` the credentials; `users.schemas.UserOut` is the
    summary as clients see it (tests/test_schema.py checks that they agree)."""

    id: str
    username: str
    email: str
    full_name: str | None
    role: Role
    disabled: bool
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class User(UserBase):
    password_hash: str
    totp_secret: str | None
    pending_totp_secret: str | None
    totp_last_step: int | None
    recovery_code_hashes: frozenset[str]
    token_version: int
    revoked_sessions: dict[str, int] = field(default_factory=dict)
    failures: FailureRecord = field(default_factory=FailureRecord)
    passkey_count: int = 0

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_secret is not None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_enabled_admin(self) -> bool:
        return self.is_admin and not self.disabled


@dataclass(frozen=True, kw_only=True)
class UserSummary(UserBase):
    """A user as a listing shows them (what the by-kind index holds): no secrets."""

    mfa_enabled: bool


@dataclass(frozen=True)
class NewUser:
    id: str
    username: str
    email: str
    password_hash: str
    full_name: str | None = None
    role: Role = Role.USER
    disabled: bool = False
    # Set only when the user is created already enrolled (the seeded first admin);
    # encrypted, like every stored TOTP secret.
    totp_secret: str | None = None
    recovery_code_hashes: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserChanges:
    """Fields to change; None means "leave as it is". Users change the first three of
    their own; admins may change all but the username of anyone."""

    username: str | None = None
    email: str | None = None
    full_name: str | None = None
    role: Role | None = None
    disabled: bool | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in vars(self).values())


# Also the OpenAPI pattern of usernames sent in requests, before lower-casing.
USERNAME_PATTERN = r"^[A-Za-z0-9._-]{3,32}$"
_STORED_USERNAME = re.compile(r"[a-z0-9._-]{3,32}")


def normalize_username(raw: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case."""
    username = raw.strip().lower()
    if not _STORED_USERNAME.fullmatch(username):
        raise PolicyViolation("username: 3 to 32 characters of a-z, 0-9, '.', '_' or '-'.")
    return username


def normalize_email(raw: str) -> str:
    """Validate syntax only (no DNS lookups: they are slow and leak to the network)."""
    # Imported on first use: compiling its grammar costs ~30 ms at import, and only the
    # requests that set an email need it, not a cold start serving /users/me or a login.
    from email_validator import EmailNotValidError, validate_email

    try:
        return str(validate_email(raw.strip(), check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise PolicyViolation(f"email: {exc}") from exc
