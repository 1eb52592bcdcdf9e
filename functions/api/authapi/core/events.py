"""Security events as structured log lines (one JSON object per line).

Callers pass identifiers and outcomes only: never a password, code, token or secret.
"""

from __future__ import annotations

import json
import logging

from authapi.core import clock

logger = logging.getLogger("authapi.security")


def security_event(event_type: str, *, user_id: str | None = None, **detail: object) -> None:
    logger.warning(
        json.dumps(
            {
                "event": event_type,
                "at": clock.isoformat(clock.utcnow()),
                "user_id": user_id,
                **detail,
            },
            default=str,
            sort_keys=True,
        )
    )
