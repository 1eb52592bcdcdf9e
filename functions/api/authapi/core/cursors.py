"""Opaque, tamper-proof page cursors.

A cursor is the storage position of the last item returned, signed with HMAC-SHA256,
so a client can hand it back but cannot forge or edit one: a garbage or altered
cursor is a 422, never a 500 and never a read from an arbitrary position.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from authapi.core.errors import PolicyViolation

_MAC_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(position: dict[str, Any], key: bytes, purpose: str) -> str:
    body = json.dumps({"p": purpose, "k": position}, separators=(",", ":")).encode()
    mac = hmac.new(key, body, hashlib.sha256).digest()[:_MAC_BYTES]
    return _b64(mac + body)


def decode(cursor: str, key: bytes, purpose: str) -> dict[str, Any]:
    """The position, or PolicyViolation for anything this service did not issue for
    `purpose` (a users cursor is not an audit-events cursor)."""
    try:
        raw = _unb64(cursor)
        mac, body = raw[:_MAC_BYTES], raw[_MAC_BYTES:]
        expected = hmac.new(key, body, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            raise ValueError("bad signature")
        decoded = json.loads(body)
        if decoded["p"] != purpose or not isinstance(decoded["k"], dict):
            raise ValueError("wrong purpose")
    except (ValueError, KeyError, TypeError) as exc:
        raise PolicyViolation("cursor: not a cursor this service issued.") from exc
    position: dict[str, Any] = decoded["k"]
    return position
