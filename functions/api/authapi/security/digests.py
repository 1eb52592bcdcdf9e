"""How random bearer values are stored: as their SHA-256 digests, never in clear.

Refresh tokens and recovery codes carry at least 112 bits from the CSPRNG, so a fast
SHA-256 is enough to store them (ASVS 2.6.2 / 5.0 6.5.2): there is nothing to
brute-force offline the way there is with a human-chosen password.
"""

from __future__ import annotations

import hashlib


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
