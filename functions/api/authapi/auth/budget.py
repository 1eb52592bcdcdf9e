"""Spending the login failure budget around a credential check.

Every attempt is counted before it is checked (`auth.attempts` stores the budget); a
check that fails leaves its attempt counted, anything else gives it back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from authapi.auth import attempts
from authapi.core import clock
from authapi.core.errors import InvalidCredentials, NotAuthenticated, TooManyAttempts
from authapi.security.throttle import FailureRecord

# Reserving an attempt is retried on fresh state when parallel attempts moved the
# budget on; past this the request is simply throttled (an attacker's burst, not a user).
_RESERVATION_TRIES = 3


def admit(failures: FailureRecord, ceiling: int | None = None) -> None:
    """The budget as read admits one more attempt now, or raise. `ceiling` is an
    mfa_token's own budget: the account count at which that token stops working."""
    now = clock.now()
    retry_after = failures.retry_after(now)
    if retry_after is not None:
        raise TooManyAttempts(retry_after)
    if ceiling is not None and failures.current(now) >= ceiling:
        raise NotAuthenticated()


def reserve(
    budget: attempts.Budget, seen: FailureRecord, ceiling: int | None = None
) -> attempts.Reservation:
    """Count an attempt before checking it (see auth.attempts): TooManyAttempts, or
    NotAuthenticated for a spent mfa_token, when the budget does not admit it."""
    for _ in range(_RESERVATION_TRIES):
        admit(seen, ceiling)
        reservation = attempts.reserve(budget, seen, round(clock.now(), 3), ceiling)
        if reservation is not None:
            return reservation
        seen = attempts.read(budget)  # parallel attempts were counted first
    raise TooManyAttempts(1)


@contextmanager
def counted(reservation: attempts.Reservation, *, success_refills: bool) -> Iterator[None]:
    """The reserved attempt stays counted only if a credential check failed in it.

    Any other outcome gives it back: a 503 or a policy error is no failed guess (and a
    503 must leave nothing written). A success gives it back too, unless the sign-in's
    own transaction already refilled the whole budget (`success_refills`).
    """
    try:
        yield
    except InvalidCredentials:
        raise
    except BaseException:
        attempts.release(reservation)
        raise
    if not success_refills:
        attempts.release(reservation)
