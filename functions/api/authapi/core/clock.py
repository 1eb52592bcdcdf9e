"""The one place the service reads the wall clock.

TOTP steps, token lifetimes and TTLs all derive from `now()`, so tests can move
time forward (e.g. to the next TOTP step) by patching this function.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    return time.time()


def utcnow() -> datetime:
    return datetime.fromtimestamp(now(), tz=UTC)


def isoformat(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
