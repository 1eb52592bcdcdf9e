"""Persistence adapter for audit events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authapi.audit.models import AUDIT_KIND, AuditEventItem, audit_pk
from authapi.core.db import storage_errors


@dataclass(frozen=True)
class AuditEvent:
    id: str
    at: str
    type: str
    user_id: str | None
    actor_id: str | None
    ip: str | None
    detail: dict[str, Any]


def put_event(event: AuditEvent, expires_at: int) -> None:
    order = f"{event.at}#{event.id}"
    item = AuditEventItem(
        audit_pk(event.user_id),
        order,
        gsi1sk=order,
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


def list_events(
    user_id: str | None, limit: int, after: dict[str, Any] | None
) -> tuple[list[AuditEvent], dict[str, Any] | None]:
    """Newest first: one user's partition, or everyone's through the by-kind index."""
    with storage_errors():
        if user_id is None:
            results = AuditEventItem.by_kind.query(
                AUDIT_KIND, scan_index_forward=False, last_evaluated_key=after, limit=limit
            )
        else:
            results = AuditEventItem.query(
                audit_pk(user_id), scan_index_forward=False, last_evaluated_key=after, limit=limit
            )
        items = list(results)
        position = results.last_evaluated_key
    events = [
        AuditEvent(
            id=item.event_id,
            at=item.at,
            type=item.type,
            user_id=item.user_id,
            actor_id=item.actor_id,
            ip=item.ip,
            detail=dict(item.detail or {}),
        )
        for item in items
    ]
    return events, position
