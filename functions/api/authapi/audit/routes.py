"""GET /audit-events (admin): newest first, paginated, filterable by user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query

from authapi.audit import service
from authapi.core.lazy_imports import imported_on_first_use
from authapi.deps import CurrentAdmin, CursorKeyDep, PageCursor, PageLimit
from authapi.http_errors import error_responses
from authapi.routing import DeferredAPIRoute

if TYPE_CHECKING:
    from authapi.audit import schemas
else:
    schemas = imported_on_first_use("authapi.audit.schemas")

router = APIRouter(tags=["audit"], route_class=DeferredAPIRoute)


@router.get(
    "/audit-events",
    responses=error_responses(401, 403, 422, 503),
    summary="Audit events (admin), newest first",
)
def list_audit_events(
    _: CurrentAdmin,
    cursor_key: CursorKeyDep,
    user_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> schemas.AuditEventPage:
    events, next_cursor = service.list_events(
        user_id=user_id, limit=limit, cursor=cursor, cursor_key=cursor_key
    )
    return schemas.AuditEventPage(
        items=[schemas.AuditEventOut.model_validate(event) for event in events],
        next_cursor=next_cursor,
    )
