"""Login, second factor, enrollment, refresh and logout. Thin: parse, call, return."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from fastapi import APIRouter, Response, status

from authapi.core.lazy_imports import imported_on_first_use
from authapi.deps import Authenticated, AuthServiceDep, PasskeyServiceDep, SigningKeysDep
from authapi.http_errors import error_responses
from authapi.routing import DeferredAPIRoute

if TYPE_CHECKING:
    from authapi.auth import schemas
else:
    schemas = imported_on_first_use("authapi.auth.schemas")

router = APIRouter(tags=["auth"], route_class=DeferredAPIRoute)


@router.post(
    "/auth/login",
    responses=error_responses(401, 422, 503, 429),
    summary="Step one: username and password, answered with an mfa_token",
)
def login(body: schemas.LoginRequest, service: AuthServiceDep) -> schemas.MfaChallengeOut:
    return schemas.MfaChallengeOut.model_validate(service.login(body.username, body.password))


@router.post(
    "/auth/mfa/verify",
    responses=error_responses(401, 422, 503, 429),
    summary="Step two: a TOTP code, an unused recovery code or a passkey",
)
def verify_mfa(
    body: schemas.MfaCodeRequest | schemas.MfaPasskeyRequest, service: PasskeyServiceDep
) -> schemas.TokensOut:
    if isinstance(body, schemas.MfaPasskeyRequest):
        return schemas.TokensOut.model_validate(
            service.verify_mfa_passkey(body.mfa_token, body.credential)
        )
    return schemas.TokensOut.model_validate(service.verify_mfa(body.mfa_token, body.code))


@router.post(
    "/auth/mfa/setup",
    responses=error_responses(401, 422, 429, 503),
    summary="First login: get a TOTP secret, its otpauth:// URI and a QR code (SVG)",
)
def start_mfa_setup(
    body: schemas.MfaTokenRequest, service: AuthServiceDep
) -> schemas.TotpEnrollmentOut:
    return schemas.TotpEnrollmentOut.model_validate(service.start_enrollment(body.mfa_token))


@router.post(
    "/auth/mfa/setup/confirm",
    responses=error_responses(401, 422, 503, 429),
    summary="First login: confirm TOTP with its first code; returns recovery codes once",
)
def confirm_mfa_setup(
    body: schemas.MfaCodeRequest, service: AuthServiceDep
) -> schemas.EnrolledTokensOut:
    pair, recovery_codes = service.confirm_enrollment(body.mfa_token, body.code)
    return schemas.EnrolledTokensOut.model_validate(
        {**asdict(pair), "recovery_codes": recovery_codes}
    )


@router.post(
    "/auth/refresh",
    responses=error_responses(401, 422, 503),
    summary="Exchange a refresh token for new tokens (the old one stops working)",
)
def refresh(body: schemas.RefreshRequest, service: AuthServiceDep) -> schemas.TokensOut:
    return schemas.TokensOut.model_validate(service.refresh(body.refresh_token))


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 422, 503),
    summary="End this session: its access and refresh tokens stop working",
)
def logout(
    request: Authenticated, service: AuthServiceDep, body: schemas.LogoutRequest | None = None
) -> None:
    service.logout(request, body.refresh_token if body else None)


@router.post(
    "/auth/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 503),
    summary="End every session of the signed-in user",
)
def logout_all(request: Authenticated, service: AuthServiceDep) -> None:
    service.logout_all(request)


@router.get(
    "/.well-known/jwks.json",
    responses=error_responses(503),
    summary="Public keys that verify access tokens (RFC 7517), newest last",
)
def jwks(keys: SigningKeysDep, response: Response) -> dict[str, list[dict[str, str]]]:
    # Public data that verifiers fetch often; short caching keeps rotation quick.
    response.headers["Cache-Control"] = "public, max-age=300"
    return keys.jwks()
