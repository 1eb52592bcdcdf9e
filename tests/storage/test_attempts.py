"""The failure budget's storage (auth/attempts.py), including the paths only a race takes.

A request reads the budget, then reserves an attempt with a conditional write; when
parallel requests moved the count in between, the write's condition decides. These
tests put the table in the state a race leaves (the request's own view is stale) and
check the decision: ASVS 5.0 6.3.1, NIST SP 800-63B 5.2.2.
"""

from __future__ import annotations

import pytest

from authapi.auth import attempts
from authapi.auth.budget import reserve
from authapi.core.errors import InvalidCredentials, NotAuthenticated, TooManyAttempts
from authapi.security.throttle import FORGET_AFTER_SECONDS, FREE_FAILURES, FailureRecord
from tests.support import Clock, Directory


def _spend(budget: attempts.Budget, times: int, clock: Clock) -> FailureRecord:
    """`times` admitted attempts, one after the other (waiting out any back-off), as the
    service reserves them."""
    seen = attempts.read(budget)
    for _ in range(times):
        clock.advance(seen.retry_after(clock.now()) or 0)
        seen = reserve(budget, seen).reserved
    return seen


@pytest.fixture(params=["account", "unknown name"])
def budget(request: pytest.FixtureRequest, directory: Directory) -> attempts.Budget:
    if request.param == "account":
        return attempts.of_account(directory.create().id)
    return attempts.of_unknown_name("nobody-here")


def test_a_stale_view_cannot_admit_an_attempt_the_stored_budget_refuses(
    budget: attempts.Budget, clock: Clock
) -> None:
    """The request read an empty budget, but parallel attempts spent it meanwhile: the
    write refuses, the request reads again and answers 429 without any check."""
    _spend(budget, FREE_FAILURES, clock)
    with pytest.raises(TooManyAttempts) as refused:
        reserve(budget, FailureRecord())
    assert refused.value.retry_after_seconds == 1
    assert attempts.read(budget).count == FREE_FAILURES


def test_a_stale_view_still_admits_what_the_budget_allows(
    budget: attempts.Budget, clock: Clock
) -> None:
    """Within the free attempts a stale view costs nothing: the count is added to, not
    overwritten, so every attempt is counted exactly once."""
    _spend(budget, 2, clock)
    reservation = reserve(budget, FailureRecord())
    assert reservation.reserved.count == 3
    assert attempts.read(budget).count == 3


def test_the_count_restarts_after_an_hour_of_quiet_once(
    budget: attempts.Budget, clock: Clock
) -> None:
    spent = _spend(budget, FREE_FAILURES + 2, clock)
    clock.advance(FORGET_AFTER_SECONDS)
    first = reserve(budget, spent)
    assert first.reserved.count == 1
    # A parallel request with the same stale view cannot restart it a second time.
    second = reserve(budget, spent)
    assert second.reserved.count == 2


def test_release_restores_exactly_or_takes_back_only_its_own_attempt(
    directory: Directory, clock: Clock
) -> None:
    budget = attempts.of_account(directory.create().id)
    before = _spend(budget, 2, clock)
    clock.advance(5)
    mine = reserve(budget, before)
    attempts.release(mine)
    assert attempts.read(budget) == before  # count and time as they were
    mine = reserve(budget, before)
    clock.advance(1)
    theirs = reserve(budget, mine.reserved)  # counted after mine
    attempts.release(mine)
    assert attempts.read(budget) == FailureRecord(3, theirs.reserved.last_at)


def test_an_mfa_tokens_ceiling_holds_against_a_stale_view(
    directory: Directory, clock: Clock
) -> None:
    budget = attempts.of_account(directory.create().id)
    _spend(budget, 3, clock)
    assert attempts.reserve(budget, FailureRecord(), clock.now(), ceiling=3) is None
    with pytest.raises(NotAuthenticated):
        reserve(budget, FailureRecord(), ceiling=3)


def test_a_deleted_account_is_a_failed_login(directory: Directory, clock: Clock) -> None:
    from authapi.users import repository

    account = directory.create()
    user = repository.get_user(account.id)
    assert user is not None
    repository.delete_user(user)
    with pytest.raises(InvalidCredentials):
        reserve(attempts.of_account(account.id), FailureRecord())


def test_forgetting_a_budget_admits_attempts_at_once(budget: attempts.Budget, clock: Clock) -> None:
    """An operator's reset (attempts.forget): a spent budget is whole again."""
    _spend(budget, FREE_FAILURES + 2, clock)
    attempts.forget(budget)
    assert attempts.read(budget) == FailureRecord()
    assert reserve(budget, FailureRecord()).reserved.count == 1
