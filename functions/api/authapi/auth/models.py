"""pynamodb item types of the auth feature. Only `auth.repository` uses them."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from authapi.core.db import TableItem


def session_sk(session_id: str) -> str:
    return f"SESSION#{session_id}"


def refresh_sk(token_digest: str) -> str:
    return f"REFRESH#{token_digest}"


def spent_mfa_token_sk(token_id: str) -> str:
    return f"MFA#{token_id}"


class SessionItem(TableItem):
    """One signed-in device: the chain of refresh tokens that rotate from one login.

    Deleting it ends the chain: no refresh token of the session works afterwards.
    """

    created_at = NumberAttribute()
    # Absolute end of the session; rotation never extends it. Also the item's TTL.
    expires_at = TTLAttribute()


class RefreshTokenItem(TableItem):
    """A refresh token, stored only as its SHA-256 digest (the sort key)."""

    session_id = UnicodeAttribute()
    # The user's token version when the session began: a later bump (logout-all,
    # password change, ...) makes the token worthless.
    token_version = NumberAttribute()
    # Set when the token is exchanged; presenting it again is reuse (a stolen token).
    used_at = NumberAttribute(null=True)
    expires_at = TTLAttribute()


class SpentMfaTokenItem(TableItem):
    """Marks an mfa_token (by its `jti`) as spent: written by the transaction that opens
    the session it earned, on the condition that it does not exist yet, so one mfa_token
    opens at most one session however many codes are sent with it. Expires with the token.
    """

    expires_at = TTLAttribute()
