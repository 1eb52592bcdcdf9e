"""Refresh tokens: `<user id>.<256 random bits>`, stored only as digests.

The user id prefix lets the service find the token in the user's partition (one
GetItem); the random part is the secret.
"""

from __future__ import annotations

import secrets

from authapi.security import digests


def new(user_id: str) -> str:
    return f"{user_id}.{secrets.token_urlsafe(32)}"


def digest(token: str) -> str:
    return digests.digest(token)
