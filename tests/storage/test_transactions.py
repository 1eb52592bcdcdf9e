"""core.db.transaction: which error a cancelled transaction raises.

DynamoDB reports a reason per item in the order it received them, and pynamodb sends
condition checks, deletes, puts, then updates whatever the order of the calls. These
tests add writes out of that order and check that each failed condition means what its
write said (`fails_as`, `decisive`, `proves_committed`), against moto's DynamoDB.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from authapi.core.db import Transaction, transaction
from authapi.core.errors import (
    Conflict,
    EmailTaken,
    LastAdmin,
    ServiceUnavailable,
    UsernameTaken,
)
from authapi.users.models import CLAIM_SK, ClaimItem

TAKEN, FREE = "USERNAME#taken", "USERNAME#free"


@pytest.fixture(autouse=True)
def taken(aws: None) -> None:
    """One claim in the table, TAKEN; FREE is not there."""
    ClaimItem(TAKEN, CLAIM_SK, user_id="owner").save()


def _missing_claim_check(fails_as: type[Exception] | None) -> Callable[[Transaction], None]:
    """A check that FREE exists: it fails."""

    def add(writes: Transaction) -> None:
        writes.check(ClaimItem, (FREE, CLAIM_SK), ClaimItem.pk.exists(), fails_as=fails_as)

    return add


def _commit(*adds: Callable[[Transaction], None]) -> None:
    """One transaction of these writes, added in this order."""
    with transaction() as writes:
        for add in adds:
            add(writes)


def _taken_put(
    fails_as: type[Exception] | None = None, **flags: bool
) -> Callable[[Transaction], None]:
    """A put of TAKEN on the condition that it does not exist: it fails."""

    def add(writes: Transaction) -> None:
        newcomer = ClaimItem(TAKEN, CLAIM_SK, user_id="newcomer")
        writes.save(newcomer, ClaimItem.pk.does_not_exist(), fails_as=fails_as, **flags)

    return add


def test_the_first_failed_write_in_send_order_decides() -> None:
    """The put is added first, but the delete is sent (and reported) first."""

    def missing_delete(writes: Transaction) -> None:
        writes.delete(ClaimItem(FREE, CLAIM_SK), ClaimItem.pk.exists())  # Conflict

    with pytest.raises(Conflict):
        _commit(_taken_put(UsernameTaken), missing_delete)


def test_a_decisive_write_wins_over_earlier_failures() -> None:
    def stale_update(writes: Transaction) -> None:
        writes.update(
            ClaimItem(TAKEN, CLAIM_SK),
            [ClaimItem.user_id.set("x")],
            ClaimItem.user_id == "someone else",
            fails_as=LastAdmin,
            decisive=True,
        )

    with pytest.raises(LastAdmin):
        _commit(stale_update, _missing_claim_check(EmailTaken))


def test_a_write_whose_failure_proves_the_commit_is_a_success() -> None:
    _commit(_taken_put(proves_committed=True), _missing_claim_check(EmailTaken))


def test_failures_without_a_meaning_are_skipped_then_answered_503() -> None:
    with pytest.raises(EmailTaken):
        _commit(_missing_claim_check(None), _taken_put(EmailTaken))
    with pytest.raises(ServiceUnavailable):
        _commit(_missing_claim_check(None))
    assert ClaimItem.get(TAKEN, CLAIM_SK).user_id == "owner"  # nothing was written
