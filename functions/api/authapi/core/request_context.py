"""Who is asking and from where, for the audit trail and the request log, without
threading it through every service call.

An ASGI middleware opens one context per request (the client IP as API Gateway or
uvicorn reports it, and the request id); the authentication dependency adds the actor.
The context holds a mutable object on purpose: FastAPI runs sync dependencies and routes
in copies of the context, and only a shared object carries what a dependency learned
back out.

The same middleware writes one JSON line per request (request id, method, route, status,
latency, user id) with the standard library's logging: CloudWatch Logs Insights parses
JSON lines as they are, and no logging library is worth its import time at cold start.
Paths are logged as route templates (`/users/{user_id}`), never with query strings, so
no token or code that a client puts in a URL ends up in the log.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_logger = logging.getLogger("authapi.request")


@dataclass
class RequestContext:
    ip: str | None = None
    actor_id: str | None = None
    request_id: str | None = None
    # Mangum sets "aws.event" in the scope of every invocation (core/blocking.py).
    served_by_mangum: bool = False


_current: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def current() -> RequestContext:
    """The request's context, or an empty one outside a request (scripts, tests)."""
    return _current.get() or RequestContext()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        context = RequestContext(
            ip=client[0] if client else None,
            request_id=_request_id(scope),
            served_by_mangum="aws.event" in scope,
        )
        token = _current.set(context)
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            _current.reset(token)
            route = scope.get("route")
            request_logger.info(
                json.dumps(
                    {
                        "event": "request",
                        "request_id": context.request_id,
                        "method": scope.get("method"),
                        "route": getattr(route, "path", None) or "unmatched",
                        "status": status,
                        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                        "user_id": context.actor_id,
                    }
                )
            )


def _request_id(scope: Scope) -> str:
    """API Gateway's request id behind Mangum (it ties our line to API Gateway's access
    log); a fresh one locally."""
    event: Any = scope.get("aws.event") or {}
    request_id = (event.get("requestContext") or {}).get("requestId")
    return str(request_id) if request_id else uuid.uuid4().hex
