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

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_signing_keys(settings: SettingsDep) -> SigningKeys:
    return keys.signing_keys(
        secret_store(settings).get(settings.signing_keys_parameter), clock.now()
    )


SigningKeysDep = Annotated[SigningKeys, Depends(get_signing_keys)]


def get_seed_keys(settings: SettingsDep) -> SeedKeys:
    return keys.seed_keys(secret_store(settings).get(settings.totp_keys_parameter), clock.now())


SeedKeysDep = Annotated[SeedKeys, Depends(get_seed_keys)]


def get_cursor_key(seeds: SeedKeysDep) -> bytes:
    """Signs page cursors. Derived from the newest seed key (never used as is), so
    cursors need no secret of their own; a key rotation only retires old cursors."""
    return hmac.new(seeds.keys[seeds.kid], b"authapi page cursors v1", hashlib.sha256).digest()


CursorKeyDep = Annotated[bytes, Depends(get_cursor_key)]


def get_auth_service(
    settings: SettingsDep, signing: SigningKeysDep, seeds: SeedKeysDep
) -> AuthService:
    issuer = TokenIssuer(keys=signing, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    return AuthService(settings, issuer, seeds)


AuthServiceDep = Annotated[AuthService, Depends(get_auth_service)]


def get_authenticated(
    service: AuthServiceDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> AuthenticatedRequest:
    if not token:
        raise NotAuthenticated()
    authenticated = service.authenticate(token)
    request_context.current().actor_id = authenticated.user.id
    return authenticated


Authenticated = Annotated[AuthenticatedRequest, Depends(get_authenticated)]


def get_current_user(request: Authenticated) -> User:
    return request.user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden()
    return user


CurrentAdmin = Annotated[User, Depends(get_current_admin)]
