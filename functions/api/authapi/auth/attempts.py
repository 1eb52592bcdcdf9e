"""Persistence of the login failure budget: every attempt is counted *before* it is checked.

Reading the failure count, checking the credential and only then writing the count lets
parallel requests all read the same count and all be checked: 40 simultaneous guesses,
40 checks, and the count ends at whatever the last writer saw. Instead each attempt
first reserves its place with one conditional UpdateItem: DynamoDB adds one to the count
only if the budget (`security.throttle`) admits an attempt at that count now, and it
evaluates the condition and applies the write atomically per item. So no more checks
run than the budget allows however many requests arrive at once (ASVS 5.0 6.3.1,
NIST SP 800-63B 5.2.2), and every attempt is counted exactly once.

A success gives its reservation back (`release`), or, for a sign-in, refills the whole
budget inside the session transaction (`auth.credentials.sign_in_write`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from authapi.core.db import storage_errors, update_if
from authapi.core.errors import InvalidCredentials
from authapi.security import throttle
from authapi.security.throttle import FailureRecord
from authapi.users.models import (
    LOGIN_THROTTLE_SK,
    USER_SK,
    LoginThrottleItem,
    UserItem,
    login_throttle_pk,
    user_pk,
)


@dataclass(frozen=True)
class Budget:
    """Whose failure budget: an account (on its user item) or a name with no account
    (a THROTTLE# item, created on the first failure and expired by TTL)."""

    pk: str
    sk: str
    of_account: bool


def of_account(user_id: str) -> Budget:
    return Budget(user_pk(user_id), USER_SK, of_account=True)


def of_unknown_name(username: str) -> Budget:
    return Budget(login_throttle_pk(username), LOGIN_THROTTLE_SK, of_account=False)


@dataclass(frozen=True)
class Reservation:
    budget: Budget
    before: FailureRecord  # the budget as it was when this attempt was admitted
    reserved: FailureRecord  # what the reservation wrote


def _model(budget: Budget) -> type[UserItem] | type[LoginThrottleItem]:
    return UserItem if budget.of_account else LoginThrottleItem


def _item(budget: Budget) -> UserItem | LoginThrottleItem:
    return _model(budget)(budget.pk, budget.sk)


def read(budget: Budget) -> FailureRecord:
    """The budget as stored now (one consistent read). InvalidCredentials when the
    account was deleted meanwhile."""
    with storage_errors():
        try:
            item = _model(budget).get(
                budget.pk,
                budget.sk,
                consistent_read=True,
                # The key too: an item with none of the others projected would look absent.
                attributes_to_get=["pk", "login_failures", "last_login_failure_at"],
            )
        except DoesNotExist:
            if budget.of_account:
                raise InvalidCredentials() from None
            return FailureRecord()
    return FailureRecord(int(item.login_failures or 0), float(item.last_login_failure_at or 0))


def _admitted(count: Any, last: Any, now: float, ceiling: int | None) -> Condition:
    """DynamoDB's side of `FailureRecord.retry_after`: the stored count admits one more
    attempt now. `ceiling` additionally caps the count (an mfa_token's own budget)."""
    admitted = count.does_not_exist() | (count < throttle.FREE_FAILURES)
    for failures, wait in throttle.back_off_steps():
        admitted |= (count == failures) & (last <= now - wait)
    admitted |= (count >= throttle.CAPPED_FROM) & (last <= now - throttle.MAX_DELAY_SECONDS)
    if ceiling is not None:
        admitted &= count.does_not_exist() | (count < ceiling)
    condition: Condition = admitted
    return condition


def reserve(
    budget: Budget, seen: FailureRecord, now: float, ceiling: int | None = None
) -> Reservation | None:
    """Count one attempt if the budget admits it; None when the stored budget moved on
    since `seen` was read and no longer admits it (the caller reads again and decides)."""
    item = _item(budget)
    count, last = type(item).login_failures, type(item).last_login_failure_at
    actions: list[Action]
    if seen.count and not seen.current(now):
        # An hour of quiet forgot the old failures: start again at one. Conditioned on
        # the stale value, so of several parallel attempts only one restarts the count.
        actions = [count.set(1), last.set(now)]
        condition: Condition = last == seen.last_at
    else:
        actions = [count.add(1), last.set(now)]
        condition = _admitted(count, last, now, ceiling)
    if budget.of_account:
        condition &= UserItem.pk.exists()  # never resurrect a deleted user as a stub
    else:
        forget_at = datetime.fromtimestamp(int(now) + throttle.FORGET_AFTER_SECONDS, tz=UTC)
        actions.append(LoginThrottleItem.expires_at.set(forget_at))
    if not update_if(item, actions, condition):
        return None
    # update() loads the item as written (ALL_NEW): the count includes this attempt.
    reserved = FailureRecord(int(item.login_failures), float(item.last_login_failure_at))
    return Reservation(budget, seen, reserved)


def release(reservation: Reservation) -> None:
    """Give a reservation back: the attempt succeeded (or never reached its check).

    Restores the budget exactly when nothing else was counted since; otherwise only
    takes this attempt's one back, leaving later attempts (and their time) counted.
    """
    item = _item(reservation.budget)
    count, last = type(item).login_failures, type(item).last_login_failure_at
    before, reserved = reservation.before, reservation.reserved
    restore: list[Action] = (
        [count.set(before.count), last.set(before.last_at)]
        if before.count
        else [count.remove(), last.remove()]
    )
    if not update_if(item, restore, (count == reserved.count) & (last == reserved.last_at)):
        # Nothing to take back when the count is gone: a sign-in refilled the budget.
        update_if(item, [count.add(-1)], count > 0)


def forget(budget: Budget) -> None:
    """Forget every failure the budget has counted: an account's budget is refilled, a
    name's is deleted (operators and benchmarks; the API itself never forgets early)."""
    item = _item(budget)
    if budget.of_account:
        count, last = type(item).login_failures, type(item).last_login_failure_at
        update_if(item, [count.remove(), last.remove()], UserItem.pk.exists())
        return
    with storage_errors():
        item.delete()
