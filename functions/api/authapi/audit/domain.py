"""An audit event as the service and its callers see it; no storage or HTTP here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AuditEvent:
    id: str
    at: str
    type: str
    user_id: str | None
    actor_id: str | None
    ip: str | None
    detail: dict[str, Any]

    @property
    def order(self) -> str:
        """The sort key: time, then the (time-ordered, unique) id."""
        return f"{self.at}#{self.id}"
