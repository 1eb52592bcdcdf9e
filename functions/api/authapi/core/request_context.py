"""Who is asking and from where, for the audit trail, without threading it through
every service call.

An ASGI middleware opens one context per request (the client IP as API Gateway or
uvicorn reports it); the authentication dependency adds the actor. The context holds
a mutable object on purpose: FastAPI runs sync dependencies and routes in copies of
the context, and only a shared object carries what a dependency learned to the route.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass
class RequestContext:
    ip: str | None = None
    actor_id: str | None = None


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
        token = _current.set(RequestContext(ip=client[0] if client else None))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
