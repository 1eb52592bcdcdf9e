"""The login failure budget (NIST SP 800-63B 5.2.2, ASVS 2.2.1 / 5.0 6.1.1, 6.3.1).

One budget per account, shared by password, TOTP and recovery-code failures on every
login path. The first 5 consecutive failures are free; after the n-th the account waits
2^(n-5) seconds (1 s, 2 s, 4 s, ... capped at 15 minutes) before the next attempt is
even checked. A success resets the budget, and failures are forgotten an hour after
the last one, so a user is never locked out for long: at worst 15 minutes, and an
attacker cannot keep the owner out without guessing continuously.

The back-off also bounds the failures an attacker can cause: after the five free ones,
the waits add up to more than an hour within 18 attempts, far below NIST's limit of
100 consecutive failures per account.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FREE_FAILURES = 5
MAX_DELAY_SECONDS = 15 * 60
# Failures older than this are forgotten (the budget refills after an hour of quiet).
FORGET_AFTER_SECONDS = 3600
# An mfa_token is refused after this many failed codes since it was issued, so a
# stolen password cannot grind through codes with one token.
MFA_TOKEN_FAILURES = 3


@dataclass(frozen=True)
class FailureRecord:
    count: int = 0
    # When the last failure was counted, to the millisecond: a back-off of one second
    # means one second, not "until the clock's next whole second".
    last_at: float = 0

    def current(self, now: float) -> int:
        """Consecutive failures that still count at `now`."""
        return self.count if now - self.last_at < FORGET_AFTER_SECONDS else 0

    def delay_after(self, failures: int) -> int:
        if failures < FREE_FAILURES:
            return 0
        return int(min(2 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS))

    def retry_after(self, now: float) -> int | None:
        """Seconds until the next attempt may be checked, or None if it may be now."""
        remaining = self.last_at + self.delay_after(self.current(now)) - now
        return math.ceil(remaining) if remaining > 0 else None


# From this many failures on, the wait is capped (2 ** 10 s would exceed 15 minutes).
CAPPED_FROM = FREE_FAILURES + math.ceil(math.log2(MAX_DELAY_SECONDS))


def back_off_steps() -> list[tuple[int, int]]:
    """(failures, wait) for every count with its own wait, FREE_FAILURES .. CAPPED_FROM - 1.

    The storage layer turns these into one condition expression, so that whether an
    attempt may be checked is decided by DynamoDB in the same write that counts it.
    """
    record = FailureRecord()
    return [(count, record.delay_after(count)) for count in range(FREE_FAILURES, CAPPED_FROM)]
