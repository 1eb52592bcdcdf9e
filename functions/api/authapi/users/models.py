"""pynamodb item types of the users feature. Only persistence modules use them:
`users.repository`, and on the sign-in side `auth.credentials`, `auth.attempts` and
`auth.repository`."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)

from authapi.core.db import ByKindIndex, TableItem

USER_SK = "USER"
USERS_KIND = "USERS"
CLAIM_SK = "CLAIM"


def user_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def username_claim_pk(username: str) -> str:
    return f"USERNAME#{username}"


def email_claim_pk(email: str) -> str:
    return f"EMAIL#{email.lower()}"


def login_throttle_pk(username: str) -> str:
    return f"THROTTLE#{username}"


LOGIN_THROTTLE_SK = "LOGIN"


def users_order_key(created_at: str, user_id: str) -> str:
    return f"{created_at}#{user_id}"


class UserItem(TableItem):
    # Listed through the by-kind index, oldest first (stable: ids break ties).
    gsi1pk = UnicodeAttribute(default=USERS_KIND)
    gsi1sk = UnicodeAttribute()
    by_kind = ByKindIndex["UserItem"]()  # type: ignore[assignment]  # typed queries

    user_id = UnicodeAttribute()
    username = UnicodeAttribute()
    email = UnicodeAttribute()
    full_name = UnicodeAttribute(null=True)
    role = UnicodeAttribute()
    disabled = BooleanAttribute(default=False)
    password_hash = UnicodeAttribute()
    # Confirmed TOTP secret, AES-GCM encrypted (security.totp_secrets); null until enrolled.
    totp_secret = UnicodeAttribute(null=True)
    # Encrypted secret handed out by /auth/mfa/setup, waiting for its first code.
    pending_totp_secret = UnicodeAttribute(null=True)
    # Last TOTP time step accepted: a code is only accepted for a later step (single use).
    totp_last_step = NumberAttribute(null=True)
    recovery_code_hashes = UnicodeSetAttribute(null=True)
    # Whether totp_secret is set, for listings: the index holds no secret (core/db.py).
    mfa_enabled = BooleanAttribute(default=False)
    # Bumped to revoke every token of the user at once (logout-all, password change, ...).
    token_version = NumberAttribute(default=0)
    # Sessions signed out one by one: session id -> epoch after which its access tokens
    # have expired anyway. Read with the user on every request, so checking costs nothing.
    revoked_sessions = MapAttribute[str, int](null=True)  # type: ignore[no-untyped-call]
    # How many passkeys the user has (passkeys.repository keeps it in step), so that a
    # sign-in knows the user's second factors from this item alone.
    passkey_count = NumberAttribute(null=True)
    # The login failure budget (security.throttle): consecutive failures and the last one.
    login_failures = NumberAttribute(null=True)
    last_login_failure_at = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


def user_item(user_id: str) -> UserItem:
    """The user item's key alone: the target of an update or a delete."""
    return UserItem(user_pk(user_id), USER_SK)


class LoginThrottleItem(TableItem):
    """The failure budget of a username that has no account, so that unknown names are
    throttled exactly like known ones (a 429 reveals nothing). Expires through TTL."""

    login_failures = NumberAttribute()
    last_login_failure_at = NumberAttribute()
    expires_at = TTLAttribute()


ENABLED_ADMINS_PK = "COUNTER#ENABLED_ADMINS"
COUNTER_SK = "COUNTER"


class CounterItem(TableItem):
    """How many enabled admins exist. Every change that adds or removes one updates it
    in the same transaction, conditioned on staying above zero (LAST_ADMIN)."""

    value = NumberAttribute(default=0)


class ClaimItem(TableItem):
    """Owns a username or an email address for one user (uniqueness, case-insensitive)."""

    user_id = UnicodeAttribute()
