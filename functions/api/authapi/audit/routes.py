"""GET /audit-events (admin): newest first, paginated, filterable by user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from authapi.audit import service
from authapi.audit.schemas import AuditEventOut, AuditEventPage
from authapi.deps import CurrentAdmin, CursorKeyDep, PageCursor, PageLimit
from authapi.http_errors import error_responses
from authapi.routing import DeferredAPIRoute

router = APIRouter(tags=["audit"], route_class=DeferredAPIRoute)


@router.get(
    "/audit-events",
    response_model=AuditEventPage,
    responses=error_responses(401, 403, 422, 503),
    summary="Audit events (admin), newest first",
)
def list_audit_events(
    _: CurrentAdmin,
    cursor_key: CursorKeyDep,
    user_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
) -> AuditEventPage:
    events, next_cursor = service.list_events(
        user_id=user_id, limit=limit, cursor=cursor, cursor_key=cursor_key
    )
    return AuditEventPage(
        items=[AuditEventOut.model_validate(event) for event in events], next_cursor=next_cursor
    )
