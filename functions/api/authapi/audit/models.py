"""pynamodb item type of the audit trail. Only `audit.repository` uses it."""

from __future__ import annotations

import hashlib

from pynamodb.attributes import JSONAttribute, TTLAttribute, UnicodeAttribute

from authapi.core.db import ByKindIndex, TableItem

# Every sign-in and every checked failure writes one event, so the listing index spreads
# them over this many partition keys: one key takes about 1,000 writes per second, and a
# throttled index throttles the table's writes too. 16 keys lift the audit ceiling to
# about 16,000 events per second, above what the rest of the design sustains
# (docs/capacity.md; `python -m bench.scale` computes both). Reading all events merges
# the shards, so the number is a trade: more shards, more Queries per listing page.
AUDIT_SHARDS = 16
NO_USER = "-"


def audit_shard(event_id: str) -> int:
    """A stable, uniform shard per event (event ids end in random bits; hashing makes
    that uniformity independent of the id's format)."""
    return int.from_bytes(hashlib.sha256(event_id.encode()).digest()[:4], "big") % AUDIT_SHARDS


def audit_kind(shard: int) -> str:
    """The by-kind index key of one audit shard."""
    return f"AUDIT#{shard:02d}"


def audit_pk(user_id: str | None, event_id: str) -> str:
    """A user's events share one partition (their trail, read by `user_id`); events that
    name no account are spread over the shards instead of sharing one hot key."""
    if user_id is None:
        return f"AUDIT#{NO_USER}#{audit_shard(event_id):02d}"
    return user_audit_pk(user_id)


def user_audit_pk(user_id: str) -> str:
    return f"AUDIT#{user_id}"


class AuditEventItem(TableItem):
    """pk AUDIT#<user id>, sk <time>#<event id>: a user's events newest-last in one
    partition; listed events also through the by-kind index (gsi1pk AUDIT#<shard>).
    Not in the user's own partition, so deleting a user keeps the trail of what
    happened to them."""

    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_kind = ByKindIndex["AuditEventItem"]()  # type: ignore[assignment]  # typed queries

    event_id = UnicodeAttribute()
    at = UnicodeAttribute()
    type = UnicodeAttribute()
    user_id = UnicodeAttribute(null=True)
    actor_id = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    detail = JSONAttribute(null=True)
    expires_at = TTLAttribute()
