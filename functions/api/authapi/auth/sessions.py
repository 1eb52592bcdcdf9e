"""Sessions: opening one, refreshing it (rotation with reuse detection), checking its
access tokens, and ending it (sign-out, sign-out everywhere, RFC 7009 revocation)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, NoReturn

from authapi.audit.service import record_event
from authapi.auth import credentials, repository
from authapi.auth.credentials import UserWrite
from authapi.core import clock
from authapi.core.config import Settings
from authapi.core.errors import NotAuthenticated
from authapi.security import refresh_tokens
from authapi.security.tokens import TokenIssuer, TokenKind
from authapi.users import repository as users
from authapi.users.domain import User

# Longer user names or ids are no key DynamoDB accepts: refused before any lookup.
MAX_LOOKUP_CHARS = 256


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


@dataclass(frozen=True)
class AuthenticatedRequest:
    user: User
    claims: dict[str, Any]


class SessionService:
    """Sessions of any user. `auth.service.AuthService` (the sign-in) builds on it: every
    sign-in ends in `_start_session`."""

    def __init__(self, settings: Settings, tokens: TokenIssuer) -> None:
        self._settings = settings
        self._tokens = tokens

    def _access_token(self, user: User, session_id: str) -> str:
        return self._tokens.issue(
            TokenKind.ACCESS,
            user.id,
            self._settings.access_token_ttl_seconds,
            {"sid": session_id, "ver": user.token_version},
        )

    def _start_session(
        self,
        user: User,
        login_factor: str | None = None,
        second_factor: UserWrite | None = None,
        mfa_token: repository.MfaTokenSpend | None = None,
        also: repository.TransactionPart | None = None,
    ) -> TokenPair:
        """Open a session. For a sign-in (`login_factor`), the same transaction spends the
        second factor and the mfa_token and refills the failure budget; after a password
        change the session simply continues."""
        now = int(clock.now())
        session_id = uuid.uuid4().hex
        refresh_token = refresh_tokens.new(user.id)
        expires_at = now + self._settings.refresh_token_ttl_seconds
        repository.create_session(
            user.id,
            session_id,
            refresh_tokens.digest(refresh_token),
            expires_at,
            user.token_version,
            None if login_factor is None else credentials.sign_in_write(second_factor, user.id),
            mfa_token,
            also,
        )
        if login_factor is not None:  # recorded once the session really exists
            record_event(self._settings, "login_succeeded", user_id=user.id, factor=login_factor)
        return TokenPair(
            access_token=self._access_token(user, session_id),
            expires_in=self._settings.access_token_ttl_seconds,
            refresh_token=refresh_token,
            refresh_expires_in=expires_at - now,
        )

    def refresh(self, refresh_token: str) -> TokenPair:
        """Exchange a refresh token for new tokens; the old one stops working (rotation).

        A refresh token that was already exchanged is evidence of theft: the whole
        session (every token rotated from the same login) ends and a security event is logged.
        """
        user_id, _, secret = refresh_token.partition(".")
        if not user_id or not secret:
            raise NotAuthenticated()
        digest = refresh_tokens.digest(refresh_token)
        stored = repository.get_refresh_token(user_id, digest)
        now = int(clock.now())
        if stored is None or stored.expires_at <= now:
            raise NotAuthenticated()
        user = users.get_user(user_id)
        if user is None:
            raise NotAuthenticated()
        if stored.used:
            self._end_stolen_session(user, stored.session_id)
        if user.disabled or user.token_version != stored.token_version:
            raise NotAuthenticated()
        new_refresh_token = refresh_tokens.new(user.id)
        try:
            repository.rotate_refresh_token(
                user.id,
                stored.session_id,
                digest,
                refresh_tokens.digest(new_refresh_token),
                stored.expires_at,
                user.token_version,
            )
        except repository.RefreshTokenReused:
            self._end_stolen_session(user, stored.session_id)
        except repository.SessionGone as exc:
            raise NotAuthenticated() from exc
        return TokenPair(
            access_token=self._access_token(user, stored.session_id),
            expires_in=self._settings.access_token_ttl_seconds,
            refresh_token=new_refresh_token,
            refresh_expires_in=stored.expires_at - now,
        )

    def _end_stolen_session(self, user: User, session_id: str) -> NoReturn:
        self._end_session(user, session_id)
        record_event(self._settings, "refresh_token_reuse", user_id=user.id, session_id=session_id)
        raise NotAuthenticated()

    def _end_session(self, user: User, session_id: str) -> None:
        """End one session: its refresh-token chain and, at once, its access tokens."""
        now = int(clock.now())
        expired = [sid for sid, expiry in user.revoked_sessions.items() if expiry <= now]
        repository.end_session(
            user.id, session_id, now + self._settings.access_token_ttl_seconds, expired
        )

    def authenticate(self, access_token: str) -> AuthenticatedRequest:
        """Check an access token against the user's current state (one read).

        Disabled users, a bumped token version (logout-all, password change, ...) and
        signed-out sessions are refused at once, not when the token expires.
        """
        claims = self._tokens.decode(TokenKind.ACCESS, access_token)
        user = users.get_user(claims["sub"])
        if (
            user is None
            or user.disabled
            or claims.get("ver") != user.token_version
            or claims.get("sid") in user.revoked_sessions
        ):
            raise NotAuthenticated()
        return AuthenticatedRequest(user=user, claims=claims)

    def logout(self, request: AuthenticatedRequest, refresh_token: str | None) -> None:
        """End the session of the access token and, if given, of the refresh token."""
        ended = {str(request.claims["sid"])} if request.claims.get("sid") else set()
        if refresh_token and refresh_token.partition(".")[0] == request.user.id:
            stored = repository.get_refresh_token(
                request.user.id, refresh_tokens.digest(refresh_token)
            )
            if stored is not None:
                ended.add(stored.session_id)
        for session_id in sorted(ended):
            self._end_session(request.user, session_id)

    def logout_all(self, request: AuthenticatedRequest) -> None:
        credentials.bump_token_version(request.user.id)
        record_event(self._settings, "logout_all", user_id=request.user.id)

    # ---- OAuth 2 token revocation (RFC 7009) ----------------------------------------------

    def revoke(self, token: str) -> None:
        """End the session of a refresh token (`<user id>.<secret>`) or an access token.

        Anything else (unknown, expired, malformed, already revoked, another kind of
        token) is ignored: RFC 7009 answers the same whatever the token was.
        """
        user_id, _, secret = token.partition(".")
        if secret and "." not in secret:
            if len(user_id) > MAX_LOOKUP_CHARS:  # no such key in DynamoDB
                return
            stored = repository.get_refresh_token(user_id, refresh_tokens.digest(token))
            if stored is None or stored.expires_at <= clock.now():
                return
            session_id = stored.session_id
        else:
            try:
                claims = self._tokens.decode(TokenKind.ACCESS, token)
            except NotAuthenticated:
                return
            user_id, session_id = claims["sub"], str(claims.get("sid") or "")
        user = users.get_user(user_id) if session_id else None
        if user is not None:
            self._end_session(user, session_id)
