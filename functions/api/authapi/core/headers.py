"""Response headers every answer of this API carries."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Token and user responses must never be kept by a browser or proxy cache
# (RFC 6749 §5.1, ASVS 5.0 14.3.2); the docs assets may be.
SECURITY_HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}
_HEADERS = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, cacheable_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.cacheable_prefixes = cacheable_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(
            self.cacheable_prefixes
        ):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *[(name, value) for name, value in _HEADERS if name not in present],
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
