"""The audit trail's listing index is written in shards and read back as one list.

One index partition key takes about 1,000 writes per second; every sign-in writes an
event, so a single key would cap the whole service (docs/capacity.md). Events are spread
over `AUDIT_SHARDS` keys and merged on read: these tests prove the merge loses,
repeats and reorders nothing, and that a burst spreads evenly.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from authapi.audit import repository
from authapi.audit.models import AUDIT_SHARDS
from authapi.audit.service import record_event
from authapi.core.config import Settings
from tests.support import Clock, table_items

BURST = 800


def _pages(user_id: str | None, limit: int) -> list[str]:
    orders: list[str] = []
    before = None
    while True:
        events, before = repository.list_events(user_id, limit, before)
        orders += [event.order for event in events]
        assert len(events) <= limit
        if before is None:
            return orders


def _stored_orders(settings: Settings, user_id: str | None = None) -> list[str]:
    """What a listing must return, newest first: every listed event, or one user's."""

    def wanted(item: dict[str, Any]) -> bool:
        if user_id is None:
            return "gsi1pk" in item
        return bool(item["pk"]["S"] == f"AUDIT#{user_id}")

    items = table_items(settings.table_name)
    return sorted((item["sk"]["S"] for item in items if wanted(item)), reverse=True)


@pytest.mark.parametrize("limit", [1, 7, 50, 100])
def test_pages_across_shards_hold_every_event_once_newest_first(
    aws: None, clock: Clock, settings: Settings, limit: int
) -> None:
    # Many events in the same second: their order comes from the ids alone.
    for index in range(120):
        record_event(settings, "user_updated", user_id=f"user-{index % 5}")
        if index % 40 == 0:
            clock.advance(1)
    listed = _pages(None, limit)
    assert listed == _stored_orders(settings)
    assert len(listed) == 120
    assert _pages("user-3", limit) == _stored_orders(settings, "user-3")


def test_a_burst_spreads_evenly_over_the_shards(
    aws: None, clock: Clock, settings: Settings
) -> None:
    """No index key gets more than its share: with 800 events over 16 shards (50 each on
    average), the busiest shard stays under twice the average."""
    for index in range(BURST):
        record_event(settings, "login_succeeded", user_id=f"user-{index}", factor="totp")
    per_shard = Counter(
        item["gsi1pk"]["S"] for item in table_items(settings.table_name) if "gsi1pk" in item
    )
    assert len(per_shard) == AUDIT_SHARDS
    assert max(per_shard.values()) < 2 * BURST / AUDIT_SHARDS, per_shard
