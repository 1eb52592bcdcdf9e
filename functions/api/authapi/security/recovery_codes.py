"""Recovery codes: ten single-use codes of 120 random bits each, shown once, stored
only as digests (`security.digests`)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable

from authapi.security.digests import digest

RECOVERY_CODE_COUNT = 10
# 24 base32 characters = 120 bits, shown as six groups of four for easy copying.
_RECOVERY_CODE_CHARS = 24
_RECOVERY_GROUP = 4


def _grouped(compact: str) -> str:
    return "-".join(
        compact[i : i + _RECOVERY_GROUP] for i in range(0, _RECOVERY_CODE_CHARS, _RECOVERY_GROUP)
    )


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(15)).decode("ascii").lower()
        assert len(raw) == _RECOVERY_CODE_CHARS
        codes.append(_grouped(raw))
    return codes


def recovery_code_digests(codes: Iterable[str]) -> list[str]:
    """What is stored of a new set (as `new_recovery_codes` made it)."""
    return [digest(code) for code in codes]


def recovery_code_digest(typed: str) -> str | None:
    """The digest of a code however the user typed it (case, hyphens, spaces); None
    when it cannot be a recovery code."""
    compact = "".join(typed.split()).replace("-", "").lower()
    if len(compact) != _RECOVERY_CODE_CHARS:
        return None
    return digest(_grouped(compact))
