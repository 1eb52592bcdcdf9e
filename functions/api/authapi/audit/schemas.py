"""Request and response bodies of the audit feature (the HTTP contract)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    at: str
    type: str
    user_id: str | None
    actor_id: str | None
    ip: str | None
    detail: dict[str, Any]


class AuditEventPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")
