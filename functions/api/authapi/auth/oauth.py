"""OAuth 2 at `/token` and `/revoke`, so that standard clients (authlib,
requests-oauthlib, Swagger UI) work unmodified.

Every error these endpoints answer is an RFC 6749 §5.2 body (`error`,
`error_description`) that also keeps this API's `detail` and `code`: the client
libraries raise their own `invalid_grant` error for it instead of taking the body for
a token. Failed credentials, a user who must enroll first and a bad, expired or reused
refresh token are all `invalid_grant` (400); the failure budget (429) and a backing
service that is down (503) keep their statuses and `Retry-After`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from authapi import http_errors
from authapi.auth.service import AuthService
from authapi.auth.sessions import TokenPair
from authapi.core import errors
from authapi.http_errors import ErrorCode, ErrorOut, validation_detail
from authapi.routing import DeferredAPIRoute

if TYPE_CHECKING:
    from authapi.auth.schemas import TokenRequest

GRANT_TYPES = ("password", "refresh_token")


# Here rather than in auth/schemas.py: every OAuth route documents it at import, and
# the other bodies load with the first route that uses them (core.lazy_imports).
class OAuthErrorOut(BaseModel):
    """RFC 6749 §5.2 beside this API's own `detail` and `code`."""

    error: Literal[
        "invalid_request", "invalid_grant", "unsupported_grant_type", "temporarily_unavailable"
    ]
    error_description: str
    detail: str
    code: ErrorCode


# Policy violations (VALIDATION_ERROR) that OAuthRoute answers with their own `error`.
class InvalidRequest(errors.PolicyViolation):
    detail = "Invalid request."


class UnsupportedGrantType(errors.PolicyViolation):
    detail = "grant_type: only 'password' and 'refresh_token' are supported."


# Domain errors whose meaning RFC 6749 names; anything else is an `invalid_request`.
_OAUTH_ERRORS: dict[type[errors.DomainError], tuple[int, str]] = {
    UnsupportedGrantType: (400, "unsupported_grant_type"),
    errors.InvalidCredentials: (400, "invalid_grant"),
    errors.MfaSetupRequired: (400, "invalid_grant"),
    errors.NotAuthenticated: (400, "invalid_grant"),
    errors.TooManyAttempts: (429, "temporarily_unavailable"),
    errors.ServiceUnavailable: (503, "temporarily_unavailable"),
}

# RFC 6749 §5.1: no cache keeps a token answer, HTTP/1.0 ones included.
NO_CACHE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_error_response(
    status_code: int, error: str, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": error, "error_description": detail, "detail": detail, "code": code}
    return JSONResponse(body, status_code=status_code, headers=headers)


def _domain_error_response(exc: errors.DomainError) -> JSONResponse:
    status_code, error = next(
        (found for cls, found in _OAUTH_ERRORS.items() if isinstance(exc, cls)),
        (400, "invalid_request"),
    )
    headers = None
    if isinstance(exc, errors.TooManyAttempts | errors.ServiceUnavailable):
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    return oauth_error_response(status_code, error, exc.code, exc.detail, headers)


class OAuthRoute(DeferredAPIRoute):
    """A route whose every answer is OAuth's: §5.2 error bodies (a malformed form
    included, which elsewhere is a 422) and RFC 6749 §5.1's no-cache headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def oauth_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except RequestValidationError as exc:
                response = oauth_error_response(
                    400, "invalid_request", InvalidRequest.code, validation_detail(exc)
                )
            except StarletteHTTPException as exc:
                if exc.status_code != 400:  # only the undecodable body is ours to answer
                    raise
                response = oauth_error_response(
                    400,
                    "invalid_request",
                    InvalidRequest.code,
                    "Invalid request: the body could not be decoded.",
                )
            except errors.DomainError as exc:
                response = _domain_error_response(exc)
            response.headers.update(NO_CACHE_HEADERS)
            return response

        return oauth_handler


def grant(service: AuthService, form: TokenRequest) -> TokenPair:
    """Dispatch on `grant_type` (a missing one is the password grant, as Swagger UI and
    the original tutorial send it)."""
    grant_type = form.grant_type or "password"
    if grant_type == "password":
        if not form.username or not form.password:
            raise InvalidRequest("username and password: both are required by the password grant.")
        return service.login_with_password_and_code(form.username, form.password)
    if grant_type == "refresh_token":
        if not form.refresh_token:
            raise InvalidRequest("refresh_token: required by the refresh_token grant.")
        return service.refresh(form.refresh_token)
    raise UnsupportedGrantType()


def oauth_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` of an OAuth route: §5.2 bodies, except the 413 that the body
    limit answers before any route runs."""
    documented: dict[int | str, dict[str, Any]] = {
        code: http_errors.documented(OAuthErrorOut) for code in sorted({400, 503, *status_codes})
    }
    documented[413] = http_errors.documented(ErrorOut)
    return documented


def issuer_url(request: Request) -> str:
    """This API's base URL as the client reached it (API Gateway's URL, or the local one)."""
    return str(request.base_url).rstrip("/")


OAUTH_PATHS = ("/token", "/revoke")


def document(app: FastAPI) -> None:
    """FastAPI documents a 422 with its own validation body on every route that reads
    input; the OAuth routes answer malformed input with a 400 instead (OAuthRoute), so
    their document drops it, and with it the schemas nothing else refers to."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        spec = generate()  # cached by FastAPI: the edit below happens once
        for path in OAUTH_PATHS:
            spec["paths"][path]["post"]["responses"].pop("422", None)
        for unused in ("HTTPValidationError", "ValidationError"):
            spec.get("components", {}).get("schemas", {}).pop(unused, None)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
