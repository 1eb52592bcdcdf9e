"""Random bearer values that the service stores only as hashes.

Refresh tokens and recovery codes carry at least 112 bits from the CSPRNG, so a
fast SHA-256 is enough to store them (ASVS 2.6.2 / 5.0 6.5.2): there is nothing to
brute-force offline the way there is with a human-chosen password.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

RECOVERY_CODE_COUNT = 10
# 24 base32 characters = 120 bits, shown as six groups of four for easy copying.
_RECOVERY_CODE_CHARS = 24
_RECOVERY_GROUP = 4


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()
        assert len(raw) == _RECOVERY_CODE_CHARS
        codes.append(
            "-".join(
                raw[i : i + _RECOVERY_GROUP]
                for i in range(0, _RECOVERY_CODE_CHARS, _RECOVERY_GROUP)
            )
        )
    return codes


def normalize_recovery_code(code: str) -> str | None:
    """Accept the code however the user typed it (case, hyphens, spaces)."""
    compact = "".join(code.split()).replace("-", "").lower()
    if len(compact) != _RECOVERY_CODE_CHARS:
        return None
    return "-".join(
        compact[i : i + _RECOVERY_GROUP] for i in range(0, _RECOVERY_CODE_CHARS, _RECOVERY_GROUP)
    )


def recovery_code_digest(code: str) -> str | None:
    normalized = normalize_recovery_code(code)
    return None if normalized is None else digest(normalized)
