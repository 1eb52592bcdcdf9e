"""The one place that maps errors to HTTP responses with the contract's body:
`{"detail": "<human sentence>", "code": "<MACHINE_CODE>"}`.

Domain errors map by class; FastAPI's validation errors become 422 VALIDATION_ERROR
naming the offending fields; anything unexpected becomes a bare 500 with no detail
(the traceback goes to the log, never to the client).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from authapi.core import errors
from authapi.core.headers import SECURITY_HEADERS

logger = logging.getLogger("authapi")

STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.InvalidCredentials: status.HTTP_401_UNAUTHORIZED,
    errors.NotAuthenticated: status.HTTP_401_UNAUTHORIZED,
    errors.Forbidden: status.HTTP_403_FORBIDDEN,
    errors.MfaSetupRequired: status.HTTP_403_FORBIDDEN,
    errors.UserNotFound: status.HTTP_404_NOT_FOUND,
    errors.PasskeyNotFound: status.HTTP_404_NOT_FOUND,
    errors.UsernameTaken: status.HTTP_409_CONFLICT,
    errors.EmailTaken: status.HTTP_409_CONFLICT,
    errors.Conflict: status.HTTP_409_CONFLICT,
    errors.LastAdmin: status.HTTP_409_CONFLICT,
    errors.PolicyViolation: status.HTTP_422_UNPROCESSABLE_CONTENT,
    errors.TooManyAttempts: status.HTTP_429_TOO_MANY_REQUESTS,
    errors.ServiceUnavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}

# Plain HTTP errors raised by the framework itself (unknown route, wrong method, ...).
_ERROR_BY_STATUS: dict[int, type[errors.DomainError]] = {
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
}

ErrorCode = Annotated[str, Field(json_schema_extra={"enum": errors.error_codes()})]


class ErrorOut(BaseModel):
    detail: str
    code: ErrorCode


def error_response(
    status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status_code, headers=headers)


# Any request can be refused for its size (413) or its shape (422): documented on every
# route, so the OpenAPI document lists every answer a client can get.
_ALWAYS = (413, 422)

# The bodies that `documented` entries refer to; `install` puts them in the document.
_DOCUMENTED_BODIES: dict[str, type[BaseModel]] = {}
_SCHEMAS_REF = "#/components/schemas/"


def documented(body: type[BaseModel]) -> dict[str, Any]:
    """A `responses=` entry whose JSON body is `body`, by reference. Not FastAPI's
    `{"model": body}`: for that, FastAPI builds a serializer per route and status code
    (over a hundred here) when the route is declared, i.e. at import on every cold
    start, for nothing but the OpenAPI document."""
    _DOCUMENTED_BODIES[body.__name__] = body
    return {"content": {"application/json": {"schema": {"$ref": _SCHEMAS_REF + body.__name__}}}}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting the contract's error body."""
    return {code: documented(ErrorOut) for code in sorted({*status_codes, *_ALWAYS})}


def _add_documented_bodies(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        spec = generate()  # cached by FastAPI: the schemas are added once
        schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
        missing = {name: body for name, body in _DOCUMENTED_BODIES.items() if name not in schemas}
        if missing:
            for name, body in missing.items():
                schemas[name] = body.model_json_schema(
                    ref_template=_SCHEMAS_REF + "{model}", mode="serialization"
                )
            spec["components"]["schemas"] = dict(sorted(schemas.items()))  # FastAPI's order
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def _headers_for(exc: errors.DomainError, status_code: int) -> dict[str, str] | None:
    if status_code == status.HTTP_401_UNAUTHORIZED:
        return {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, errors.ServiceUnavailable | errors.TooManyAttempts):
        return {"Retry-After": str(exc.retry_after_seconds)}
    return None


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DomainError)
    status_code = next(code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls))
    return error_response(status_code, exc.code, exc.detail, _headers_for(exc, status_code))


def _field_name(location: tuple[Any, ...]) -> str:
    # ("body", "email") -> "email"; the first element only says where the field was.
    parts = [str(part) for part in location[1:]] or [str(part) for part in location]
    return ".".join(parts)


def validation_detail(exc: RequestValidationError) -> str:
    """A sentence naming each offending field and what is wrong with it."""
    problems = []
    for error in exc.errors():
        field = _field_name(tuple(error.get("loc", ())))
        if error.get("type") == "extra_forbidden":
            problems.append(f"{field}: unknown field")
        else:
            problems.append(f"{field}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(problems) if problems else "Invalid request."


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT, "VALIDATION_ERROR", validation_detail(exc)
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == status.HTTP_400_BAD_REQUEST:
        # FastAPI's answer to a body it cannot decode (not UTF-8, not JSON): for the
        # contract that is malformed input like any other, a 422.
        return error_response(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "VALIDATION_ERROR",
            "Invalid request: the body could not be decoded.",
        )
    error = _ERROR_BY_STATUS.get(exc.status_code, errors.HttpError)
    return error_response(exc.status_code, error.code, error.detail, dict(exc.headers or {}))


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=exc)
    # Starlette answers unhandled errors from outside every middleware, so this answer
    # would not pass SecurityHeaders: it carries the headers itself.
    error = errors.InternalError
    return error_response(500, error.code, error.detail, dict(SECURITY_HEADERS))


def install(app: FastAPI) -> None:
    _add_documented_bodies(app)
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
