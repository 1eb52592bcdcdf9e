"""FastAPI dependencies, with `Annotated` aliases the routes use as parameter types."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer

from authapi.auth.service import AuthService
from authapi.auth.sessions import AuthenticatedRequest
from authapi.core import request_context
from authapi.core.blocking import run_blocking
from authapi.core.config import Settings
from authapi.core.errors import Forbidden, NotAuthenticated
from authapi.passkeys.service import PasskeyService, relying_party
from authapi.security import keys
from authapi.security.keys import SigningKeys, TotpSecretKeys
from authapi.security.tokens import TokenIssuer
from authapi.users.domain import User

# auto_error=False: a missing token is answered by our own NOT_AUTHENTICATED body.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)

# Dependencies that do no I/O per request are `async def`: FastAPI runs a plain `def`
# dependency in its thread pool, and each such hop costs more than the work itself here
# (GET /users/me crossed into the pool 8 times, twice its own time's target; see
# BENCHMARKS.md "Warm latency"). The one that calls AWS on every authenticated request
# says itself where its blocking call runs (core/blocking.py).


async def current_settings(request: Request) -> Settings:
    """The settings the app was created with (`main.create_app`)."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(current_settings)]


# The key sets come from the container's cache; SSM is read once per 5 minutes per
# container (core/secrets.py), and that one read then blocks the event loop. On Lambda a
# container serves one request at a time, so no other request waits for it.
async def get_signing_keys(settings: SettingsDep) -> SigningKeys:
    return keys.load_signing_keys(settings)


SigningKeysDep = Annotated[SigningKeys, Depends(get_signing_keys)]


async def get_totp_secret_keys(settings: SettingsDep) -> TotpSecretKeys:
    return keys.load_totp_secret_keys(settings)


TotpSecretKeysDep = Annotated[TotpSecretKeys, Depends(get_totp_secret_keys)]


async def get_cursor_key(totp_keys: TotpSecretKeysDep) -> bytes:
    """Signs page cursors. Derived from the newest TOTP secret key (never used as is), so
    cursors need no secret of their own; a key rotation only retires old cursors."""
    return hmac.new(
        totp_keys.keys[totp_keys.kid], b"authapi page cursors v1", hashlib.sha256
    ).digest()


CursorKeyDep = Annotated[bytes, Depends(get_cursor_key)]

# A listing's page: every paged route takes the same two query parameters.
PageLimit = Annotated[int, Query(ge=1, le=100)]
PageCursor = Annotated[
    str | None,
    Query(
        max_length=2048,
        description="The `next_cursor` of the previous page. Anything this server did "
        "not issue for this listing is answered 422 VALIDATION_ERROR.",
    ),
]


def _sign_in_inputs(request: Request) -> tuple[Settings, TokenIssuer, TotpSecretKeys]:
    # Read here rather than declared as sub-dependencies: FastAPI solves the dependency
    # tree anew on every request, and these three nodes cost more to solve than to read
    # (the settings and the key sets are the container's cache).
    settings: Settings = request.app.state.settings
    issuer = TokenIssuer(
        keys=keys.load_signing_keys(settings),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    return settings, issuer, keys.load_totp_secret_keys(settings)


async def get_auth_service(request: Request) -> AuthService:
    return AuthService(*_sign_in_inputs(request))


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


async def get_passkey_service(request: Request) -> PasskeyService:
    settings, issuer, totp_keys = _sign_in_inputs(request)
    url = request.url  # behind API Gateway: https and its domain (Mangum's scope)
    rp = relying_party(settings, url.hostname or "", f"{url.scheme}://{url.netloc}")
    return PasskeyService(settings, issuer, totp_keys, rp)


PasskeyServiceDep = Annotated[PasskeyService, Depends(get_passkey_service)]


async def get_authenticated(
    service: AuthServiceDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> AuthenticatedRequest:
    if not token:
        raise NotAuthenticated()
    authenticated = await run_blocking(service.authenticate, token)  # reads the user
    request_context.current().actor_id = authenticated.user.id
    return authenticated


Authenticated = Annotated[AuthenticatedRequest, Depends(get_authenticated)]


async def get_current_user(request: Authenticated) -> User:
    return request.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden()
    return user


CurrentAdmin = Annotated[User, Depends(get_current_admin)]
