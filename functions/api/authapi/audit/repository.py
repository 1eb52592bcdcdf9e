"""Persistence adapter for audit events."""

from __future__ import annotations

import heapq
from datetime import UTC, datetime

from authapi.audit.domain import AuditEvent
from authapi.audit.models import (
    AUDIT_SHARDS,
    AuditEventItem,
    audit_kind,
    audit_pk,
    audit_shard,
    user_audit_pk,
)
from authapi.core.db import storage_errors


def put_event(event: AuditEvent, expires_at: int, *, listed: bool) -> None:
    """Store one event; `listed` events also go into the by-kind index (one shard)."""
    item = AuditEventItem(
        audit_pk(event.user_id, event.id),
        event.order,
        gsi1pk=audit_kind(audit_shard(event.id)) if listed else None,
        gsi1sk=event.order if listed else None,
        event_id=event.id,
        at=event.at,
        type=event.type,
        user_id=event.user_id,
        actor_id=event.actor_id,
        ip=event.ip,
        detail=event.detail,
        expires_at=datetime.fromtimestamp(expires_at, tz=UTC),
    )
    with storage_errors():
        item.save()


def _to_event(item: AuditEventItem) -> AuditEvent:
    return AuditEvent(
        id=item.event_id,
        at=item.at,
        type=item.type,
        user_id=item.user_id,
        actor_id=item.actor_id,
        ip=item.ip,
        detail=dict(item.detail or {}),
    )


def list_events(
    user_id: str | None, limit: int, before: str | None
) -> tuple[list[AuditEvent], str | None]:
    """One page, newest first, of one user's events or of every listed event, and the
    position to continue from (None on the last page).

    Positions are sort keys (`<time>#<event id>`, unique): the next page is everything
    older than the last event returned. That keeps pages exact across the index's
    shards, whose newest-first Queries are merged here: each shard gives at most a page,
    the merge keeps the newest `limit`, and nothing older than them has been skipped.
    """
    with storage_errors():
        if user_id is None:
            streams = [
                AuditEventItem.by_kind.query(
                    audit_kind(shard),
                    None if before is None else AuditEventItem.gsi1sk < before,
                    scan_index_forward=False,
                    limit=limit + 1,
                )
                for shard in range(AUDIT_SHARDS)
            ]
            newest = heapq.merge(*streams, key=lambda item: item.sk, reverse=True)
            found = [item for _, item in zip(range(limit + 1), newest, strict=False)]
        else:
            found = list(
                AuditEventItem.query(
                    user_audit_pk(user_id),
                    None if before is None else AuditEventItem.sk < before,
                    scan_index_forward=False,
                    limit=limit + 1,
                )
            )
    page = found[:limit]
    more = len(found) > limit
    return [_to_event(item) for item in page], (page[-1].sk if more else None)
