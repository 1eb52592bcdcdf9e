"""User management: the rules between the HTTP routes and the repository."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from authapi.audit.service import record_event
from authapi.core import cursors
from authapi.core.config import Settings
from authapi.core.errors import PolicyViolation, UserNotFound
from authapi.security import passwords, totp_secrets
from authapi.security.keys import TotpSecretKeys
from authapi.security.password_policy import check_password
from authapi.security.recovery_codes import recovery_code_digests
from authapi.users import repository
from authapi.users.domain import (
    NewUser,
    Role,
    User,
    UserChanges,
    UserSummary,
    normalize_email,
    normalize_username,
)


def create_user(
    settings: Settings,
    *,
    username: str,
    email: str,
    password: str,
    full_name: str | None = None,
    role: Role = Role.USER,
    enrollment: Enrollment | None = None,
) -> User:
    """Create a user. Normally without TOTP: the user enrolls at first login.

    `enrollment` is for the first-admin script (`infra.seed_admin`), which creates
    the first admin already enrolled so the admin can sign in through /token at once.
    """
    username = normalize_username(username)
    email = normalize_email(email)
    check_password(password, username, settings)
    # Server-assigned and immutable; known before the write because it is the
    # associated data of the encrypted TOTP secret.
    user_id = str(uuid.uuid4())
    user = repository.create_user(
        NewUser(
            id=user_id,
            username=username,
            email=email,
            password_hash=passwords.hash_password(password),
            full_name=full_name or None,
            role=role,
            totp_secret=(
                None
                if enrollment is None
                else totp_secrets.encrypt(
                    enrollment.totp_secret_keys, enrollment.totp_secret, user_id
                )
            ),
            recovery_code_hashes=tuple(
                recovery_code_digests(enrollment.recovery_codes if enrollment else ())
            ),
        )
    )
    record_event(settings, "user_created", user_id=user.id, role=user.role.value)
    return user


@dataclass(frozen=True)
class Enrollment:
    """A TOTP enrollment made outside the login flow (the seeded first admin)."""

    totp_secret: str
    recovery_codes: list[str]
    totp_secret_keys: TotpSecretKeys


def import_user(
    settings: Settings,
    *,
    username: str,
    email: str,
    password_hash: str,
    full_name: str | None,
    role: Role,
    disabled: bool,
) -> User:
    """Create a user from another system's record (e.g. the tutorial's SQLite database),
    keeping its password hash: a bcrypt hash still verifies and is replaced by argon2id
    at the user's first successful login. No TOTP: the user enrolls at first login."""
    if passwords.scheme_of(password_hash) is None:
        raise PolicyViolation("hashed_password: not a hash this service can verify.")
    user = repository.create_user(
        NewUser(
            id=str(uuid.uuid4()),
            username=normalize_username(username),
            email=normalize_email(email),
            password_hash=password_hash,
            full_name=full_name or None,
            role=role,
            disabled=disabled,
        )
    )
    record_event(settings, "user_imported", user_id=user.id, role=user.role.value)
    return user


USERS_CURSOR = "users"


def list_users(
    *,
    limit: int,
    cursor: str | None,
    role: Role | None,
    disabled: bool | None,
    cursor_key: bytes,
) -> tuple[list[UserSummary], str | None]:
    after = None if cursor is None else cursors.decode(cursor, cursor_key, USERS_CURSOR)
    page, position = repository.list_users(limit, after, role, disabled)
    next_cursor = None if position is None else cursors.encode(position, cursor_key, USERS_CURSOR)
    return page, next_cursor


def get_user(user_id: str) -> User:
    user = repository.get_user(user_id)
    if user is None:
        raise UserNotFound()
    return user


def update_profile(
    user: User,
    *,
    username: str | None = None,
    email: str | None = None,
    full_name: str | None = None,
) -> User:
    """The signed-in user's own profile: only these three fields, ever."""
    return _apply(
        user,
        UserChanges(
            username=None if username is None else normalize_username(username),
            email=None if email is None else normalize_email(email),
            full_name=full_name,
        ),
    )


def admin_update(
    settings: Settings,
    user_id: str,
    *,
    email: str | None = None,
    full_name: str | None = None,
    role: Role | None = None,
    disabled: bool | None = None,
) -> User:
    """An admin's change to any user. Role and disabled changes end the user's
    existing tokens at once; the last enabled admin cannot be demoted or disabled."""
    user = get_user(user_id)
    changed = _apply(
        user,
        UserChanges(
            email=None if email is None else normalize_email(email),
            full_name=full_name,
            role=role,
            disabled=disabled,
        ),
    )
    sent = {"email": email, "full_name": full_name, "role": role, "disabled": disabled}
    record_event(
        settings,
        "user_updated",
        user_id=user.id,
        # What changed: field names, and the values of role and disabled (no PII).
        fields=sorted(name for name, value in sent.items() if value is not None),
        role=changed.role.value,
        disabled=changed.disabled,
    )
    return changed


def _apply(user: User, changes: UserChanges) -> User:
    return user if changes.is_empty() else repository.update_user(user, changes)


def delete_user(settings: Settings, user_id: str) -> None:
    repository.delete_user(get_user(user_id))
    record_event(settings, "user_deleted", user_id=user_id)


def reset_mfa(settings: Settings, user_id: str) -> None:
    """Rescue a user who lost their authenticator: TOTP and recovery codes are gone,
    every session ends, and the next login goes through setup."""
    repository.reset_mfa(get_user(user_id))
    record_event(settings, "mfa_reset", user_id=user_id)
