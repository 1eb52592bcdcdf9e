"""FastAPI dependencies, with `Annotated` aliases the routes use as parameter types."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from authapi.auth.service import AuthenticatedRequest, AuthService
from authapi.core import clock, request_context
from authapi.core.config import Settings, get_settings
from authapi.core.errors import Forbidden, NotAuthenticated
from authapi.core.secrets import secret_store
from authapi.security import keys
from authapi.security.keys import SeedKeys, SigningKeys
from authapi.security.tokens import TokenIssuer
from authapi.users.domain import User

# auto_error=False: a missing token is answered by our own NOT_AUTHENTICATED body.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)

# Dependencies that do no I/O per request are `async def`: FastAPI runs a plain `def`
# dependency in its thread pool, and each such hop costs more than the work itself here
# (GET /users/me crossed into the pool 8 times, twice its own time's target; see
# BENCHMARKS.md "Warm latency"). Those that call AWS stay `def`, off the event loop.


async def current_settings() -> Settings:
    return get_settings()


SettingsDep = Annotated[Settings, Depends(current_settings)]


def load_signing_keys(settings: Settings) -> SigningKeys:
    return keys.signing_keys(
        secret_store(settings).get(settings.signing_keys_parameter), clock.now()
    )


def load_seed_keys(settings: Settings) -> SeedKeys:
    return keys.seed_keys(secret_store(settings).get(settings.totp_keys_parameter), clock.now())


# The key sets come from the container's cache; SSM is read once per 5 minutes per
# container (core/secrets.py), and that one read then blocks the event loop. On Lambda a
# container serves one request at a time, so no other request waits for it.
async def get_signing_keys(settings: SettingsDep) -> SigningKeys:
    return load_signing_keys(settings)


SigningKeysDep = Annotated[SigningKeys, Depends(get_signing_keys)]


async def get_seed_keys(settings: SettingsDep) -> SeedKeys:
    return load_seed_keys(settings)


SeedKeysDep = Annotated[SeedKeys, Depends(get_seed_keys)]


async def get_cursor_key(seeds: SeedKeysDep) -> bytes:
    """Signs page cursors. Derived from the newest seed key (never used as is), so
    cursors need no secret of their own; a key rotation only retires old cursors."""
    return hmac.new(seeds.keys[seeds.kid], b"authapi page cursors v1", hashlib.sha256).digest()


CursorKeyDep = Annotated[bytes, Depends(get_cursor_key)]


async def get_auth_service() -> AuthService:
    # Its inputs are read here rather than declared as sub-dependencies: FastAPI solves
    # the dependency tree anew on every request, and these three nodes cost more to
    # solve than to read (the settings and the key sets are the container's cache).
    settings = get_settings()
    issuer = TokenIssuer(
        keys=load_signing_keys(settings),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    return AuthService(settings, issuer, load_seed_keys(settings))


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


def get_authenticated(  # reads the user from DynamoDB: in the thread pool
    service: AuthServiceDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> AuthenticatedRequest:
    if not token:
        raise NotAuthenticated()
    authenticated = service.authenticate(token)
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
