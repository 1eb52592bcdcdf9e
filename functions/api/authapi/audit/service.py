"""The audit trail (ASVS 4.0.3 7.1 / 7.2, 5.0 16.3): every security-relevant event is
logged as one structured JSON line *and* stored in DynamoDB with a retention TTL.

Callers pass identifiers and outcomes only: never a password, code, token or TOTP secret.
The actor and client IP come from the request context.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

from authapi.audit import repository
from authapi.audit.domain import AuditEvent
from authapi.core import clock, cursors
from authapi.core.config import Settings
from authapi.core.errors import PolicyViolation, ServiceUnavailable
from authapi.core.request_context import current

logger = logging.getLogger("authapi.security")

AUDIT_CURSOR = "audit-events"

# Stored, but not in the listing index: attempts the failure budget refused unchecked,
# and failures for names with no account. An attacker can cause these without limit
# (every new name has its own budget), so each costing an index write would let one
# attacker spend the index's capacity for everyone (docs/capacity.md). Checked failures
# on real accounts stay listed: the budget bounds them per account.
_UNLISTED_TYPES = frozenset({"login_throttled"})


def _listed(event: AuditEvent) -> bool:
    return event.user_id is not None and event.type not in _UNLISTED_TYPES


def record_event(
    settings: Settings, event_type: str, *, user_id: str | None = None, **detail: Any
) -> None:
    context = current()
    event = AuditEvent(
        # Sortable: nanoseconds of the wall clock, then randomness. Events of one second
        # keep their order in listings (the sort key is "<at>#<id>").
        id=f"{time.time_ns():x}{secrets.token_hex(4)}",
        at=clock.isoformat(clock.utcnow()),
        type=event_type,
        user_id=user_id,
        actor_id=context.actor_id,
        ip=context.ip,
        detail=detail,
    )
    logger.warning(json.dumps({"event": event.type, **vars(event)}, default=str, sort_keys=True))
    retention = settings.audit_retention_days * 24 * 3600
    try:
        repository.put_event(event, int(clock.now()) + retention, listed=_listed(event))
    except ServiceUnavailable:
        # The log line above already holds the event; a failed copy in DynamoDB must
        # not turn a login (or its refusal) into an outage.
        logger.error(json.dumps({"event": "audit_write_failed", "id": event.id}))


def list_events(
    *, user_id: str | None, limit: int, cursor: str | None, cursor_key: bytes
) -> tuple[list[AuditEvent], str | None]:
    before = None
    if cursor is not None:
        position = cursors.decode(cursor, cursor_key, AUDIT_CURSOR)
        before = position.get("before")
        if not isinstance(before, str):
            raise PolicyViolation("cursor: not a cursor this service issued.")
    events, last = repository.list_events(user_id, limit, before)
    next_cursor = (
        None if last is None else cursors.encode({"before": last}, cursor_key, AUDIT_CURSOR)
    )
    return events, next_cursor
