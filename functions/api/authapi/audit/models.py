"""pynamodb item type of the audit trail. Only `audit.repository` uses it."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, TTLAttribute, UnicodeAttribute

from authapi.core.db import ByKindIndex, TableItem

AUDIT_KIND = "AUDIT"
NO_USER = "-"


def audit_pk(user_id: str | None) -> str:
    return f"AUDIT#{user_id or NO_USER}"


class AuditEventItem(TableItem):
    """pk AUDIT#<user id>, sk <time>#<event id>: a user's events newest-last in one
    partition; all events through the by-kind index (gsi1pk AUDIT). Not in the user's
    own partition, so deleting a user keeps the trail of what happened to them."""

    gsi1pk = UnicodeAttribute(default=AUDIT_KIND)
    gsi1sk = UnicodeAttribute()
    by_kind = ByKindIndex["AuditEventItem"]()  # type: ignore[assignment]  # typed queries

    event_id = UnicodeAttribute()
    at = UnicodeAttribute()
    type = UnicodeAttribute()
    user_id = UnicodeAttribute(null=True)
    actor_id = UnicodeAttribute(null=True)
    ip = UnicodeAttribute(null=True)
    detail = JSONAttribute(null=True)
    expires_at = TTLAttribute()
