"""Sign-in, second factor, enrollment, refresh and sign-out.

Every failed login step raises the same InvalidCredentials, and an unknown username
still costs a password verification, so neither the answer nor its timing tells an
attacker which accounts exist or which factor was wrong.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from authapi.audit.service import record_event
from authapi.auth import attempts
from authapi.auth import repository as sessions
from authapi.core import clock
from authapi.core.config import Settings
from authapi.core.errors import (
    InvalidCredentials,
    MfaSetupRequired,
    NotAuthenticated,
    TooManyAttempts,
)
from authapi.security import codes, passwords, seeds, throttle, totp
from authapi.security.keys import SeedKeys
from authapi.security.password_policy import check_password
from authapi.security.throttle import FailureRecord
from authapi.security.tokens import TokenIssuer, TokenKind
from authapi.users import repository as users
from authapi.users.domain import User

MfaStep = Literal["totp", "setup"]
_MAX_LOOKUP_CHARS = 256
# Reserving an attempt is retried on fresh state when parallel attempts moved the
# budget on; past this the request is simply throttled (an attacker's burst, not a user).
_RESERVATION_TRIES = 3


def _admit(failures: FailureRecord, ceiling: int | None = None) -> None:
    """The budget as read admits one more attempt now, or raise. `ceiling` is an
    mfa_token's own budget: the account count at which that token stops working."""
    now = clock.now()
    retry_after = failures.retry_after(now)
    if retry_after is not None:
        raise TooManyAttempts(retry_after)
    if ceiling is not None and failures.current(now) >= ceiling:
        raise NotAuthenticated()


def _reserve(
    budget: attempts.Budget, seen: FailureRecord, ceiling: int | None = None
) -> attempts.Reservation:
    """Count an attempt before checking it (see auth.attempts): TooManyAttempts, or
    NotAuthenticated for a spent mfa_token, when the budget does not admit it."""
    for _ in range(_RESERVATION_TRIES):
        _admit(seen, ceiling)
        reservation = attempts.reserve(budget, seen, round(clock.now(), 3), ceiling)
        if reservation is not None:
            return reservation
        seen = attempts.read(budget)  # parallel attempts were counted first
    raise TooManyAttempts(1)


@contextmanager
def _counted(reservation: attempts.Reservation, *, success_refills: bool) -> Iterator[None]:
    """The reserved attempt stays counted only if a credential check failed in it.

    Any other outcome gives it back: a 503 or a policy error is no failed guess (and a
    503 must leave nothing written). A success gives it back too, unless the sign-in's
    own transaction already refilled the whole budget (`success_refills`).
    """
    try:
        yield
    except InvalidCredentials:
        raise
    except BaseException:
        attempts.release(reservation)
        raise
    if not success_refills:
        attempts.release(reservation)


def _methods(user: User) -> list[str]:
    """The second factors the user can answer an mfa_token with."""
    if not user.mfa_enabled:
        return []
    offered = {
        "totp": True,
        "passkey": user.passkey_count > 0,
        "recovery_code": bool(user.recovery_code_hashes),
    }
    return [method for method, available in offered.items() if available]


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


@dataclass(frozen=True)
class MfaChallenge:
    mfa_token: str
    mfa: MfaStep
    expires_in: int
    methods: list[str]


@dataclass(frozen=True)
class TotpEnrollment:
    secret: str
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True)
class MfaSession:
    """What a valid mfa_token stands for: its user, the account failure count at which
    the token stops working (its own budget), and how to spend it."""

    user: User
    ceiling: int
    spend: sessions.MfaTokenSpend


@dataclass(frozen=True)
class AuthenticatedRequest:
    user: User
    claims: dict[str, Any]


class AuthService:
    def __init__(self, settings: Settings, tokens: TokenIssuer, seed_keys: SeedKeys) -> None:
        self._settings = settings
        self._tokens = tokens
        self._seed_keys = seed_keys

    def _seed(self, user: User, stored: str) -> str:
        try:
            return seeds.decrypt(self._seed_keys, stored, user.id)
        except seeds.SeedUndecryptable as exc:
            # A key was removed from the set too early, or the item was tampered with.
            record_event("totp_seed_undecryptable", user_id=user.id)
            raise InvalidCredentials() from exc

    # ---- first factor -------------------------------------------------------------

    def _check_password(self, username: str, password: str) -> tuple[User, attempts.Reservation]:
        """The first factor, with one attempt of the name's failure budget reserved for
        it (left counted when the check fails). Raises InvalidCredentials for every kind
        of failure, and TooManyAttempts (before any check) while the budget is spent."""
        name = username.strip().lower()
        if len(name) > _MAX_LOOKUP_CHARS:  # longer than any key DynamoDB accepts
            passwords.burn_verification_time(password)
            raise InvalidCredentials()
        # Even a name that cannot exist is looked up, so it costs what a valid one costs.
        user = users.find_for_login(name)
        if user is None:
            budget = attempts.of_unknown_name(name)
            failures = attempts.read(budget)
        else:
            budget, failures = attempts.of_account(user.id), user.failures
        try:
            reservation = _reserve(budget, failures)
        except TooManyAttempts:
            record_event("login_throttled", user_id=user.id if user else None)
            raise
        if user is None:
            passwords.burn_verification_time(password)
            record_event("login_failed", factor="password", reason="unknown_user")
            raise InvalidCredentials()
        matches, replacement_hash = passwords.verify_password(password, user.password_hash)
        # A disabled user is refused only after the hash check, so timing stays the same.
        if not matches or user.disabled:
            reason = "wrong_password" if not matches else "disabled"
            record_event("login_failed", user_id=user.id, factor="password", reason=reason)
            raise InvalidCredentials()
        if replacement_hash is not None:
            users.set_password_hash(user, replacement_hash)
        return user, reservation

    @contextmanager
    def _second_factor(self, user: User, factor: str) -> Iterator[None]:
        """Audit a failed code (TOTP or recovery): it was counted, like a wrong password,
        by the attempt reserved before it was checked."""
        try:
            yield
        except InvalidCredentials:
            record_event("login_failed", user_id=user.id, factor=factor)
            raise

    def login(self, username: str, password: str) -> MfaChallenge:
        """Step one of the two-step login: the password, answered with an mfa_token."""
        user, reservation = self._check_password(username, password)
        with _counted(reservation, success_refills=False):
            step: MfaStep = "totp" if user.mfa_enabled else "setup"
            ttl = self._settings.mfa_token_ttl_seconds
            claims = {
                "mfa": step,
                "ver": user.token_version,
                # Failures already spent when the token was issued: the token's own budget
                # is what the account spends after this.
                "fails": reservation.before.current(clock.now()),
            }
            mfa_token = self._tokens.issue(TokenKind.MFA, user.id, ttl, claims)
        return MfaChallenge(mfa_token=mfa_token, mfa=step, expires_in=ttl, methods=_methods(user))

    def login_with_password_and_code(self, username: str, password_and_code: str) -> TokenPair:
        """The OAuth2 password grant of the tutorial: password immediately followed by
        the current 6-digit TOTP code. Never issues a token without a valid, unused code.
        One attempt of the budget covers both factors."""
        password, code = password_and_code[: -totp.DIGITS], password_and_code[-totp.DIGITS :]
        user, reservation = self._check_password(username, password)
        with _counted(reservation, success_refills=True):
            if not user.mfa_enabled:
                raise MfaSetupRequired()
            with self._second_factor(user, "totp"):
                return self._start_session(user, "password+totp", self._accept_totp(user, code))

    # ---- second factor ----------------------------------------------------------------

    def _user_for_mfa_token(self, mfa_token: str, expected: MfaStep) -> MfaSession:
        claims = self._tokens.decode(TokenKind.MFA, mfa_token)
        user = users.get_user(claims["sub"])
        if (
            user is None
            or user.disabled
            or claims.get("mfa") != expected
            or claims.get("ver") != user.token_version
        ):
            raise NotAuthenticated()
        ceiling = int(claims.get("fails", 0)) + throttle.MFA_TOKEN_FAILURES
        spend = sessions.MfaTokenSpend(str(claims["jti"]), int(claims["exp"]))
        return MfaSession(user, ceiling, spend)

    def _reserve_code_attempt(self, session: MfaSession) -> attempts.Reservation:
        """One attempt of the account's budget and of the mfa_token's own (its ceiling)."""
        user = session.user
        return _reserve(attempts.of_account(user.id), user.failures, session.ceiling)

    def _accept_totp(self, user: User, code: str) -> users.UserWrite:
        """The write that spends a valid, unused code; committed with the session."""
        if user.totp_secret is None:
            raise InvalidCredentials()
        step = totp.matching_step(self._seed(user, user.totp_secret), code, clock.now())
        if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
            raise InvalidCredentials()
        # Its condition decides between concurrent requests with the same code.
        return users.totp_step_claim(user, step)

    def verify_mfa(self, mfa_token: str, code: str) -> TokenPair:
        """Step two: a TOTP code, or one of the user's unused recovery codes."""
        session = self._user_for_mfa_token(mfa_token, "totp")
        user = session.user
        compact = code.strip()
        with _counted(self._reserve_code_attempt(session), success_refills=True):
            if compact.isdigit():
                with self._second_factor(user, "totp"):
                    return self._start_session(
                        user, "totp", self._accept_totp(user, compact), session.spend
                    )
            with self._second_factor(user, "recovery_code"):
                tokens = self._start_session(
                    user, "recovery_code", self._accept_recovery_code(user, compact), session.spend
                )
        record_event(
            "recovery_code_used", user_id=user.id, remaining=len(user.recovery_code_hashes) - 1
        )
        return tokens

    def _accept_recovery_code(self, user: User, code: str) -> users.UserWrite:
        """The write that spends an unused recovery code; committed with the session."""
        digest = codes.recovery_code_digest(code)
        if digest is None or digest not in user.recovery_code_hashes:
            raise InvalidCredentials()
        return users.recovery_code_use(user, digest)

    def start_enrollment(self, mfa_token: str) -> TotpEnrollment:
        session = self._user_for_mfa_token(mfa_token, "setup")
        user = session.user
        _admit(user.failures, session.ceiling)  # checks nothing, so spends nothing
        if user.mfa_enabled:
            raise NotAuthenticated()
        secret = totp.new_secret()
        users.start_totp_enrollment(user, seeds.encrypt(self._seed_keys, secret, user.id))
        uri = totp.provisioning_uri(secret, user.username, self._settings.totp_issuer)
        return TotpEnrollment(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))

    def confirm_enrollment(self, mfa_token: str, code: str) -> tuple[TokenPair, list[str]]:
        """The first code proves the authenticator holds the secret; only then is TOTP on.

        Returns the tokens and the recovery codes, which are shown this once only.
        """
        session = self._user_for_mfa_token(mfa_token, "setup")
        user = session.user
        sealed = user.pending_totp_secret
        if sealed is None or user.mfa_enabled:
            raise InvalidCredentials()
        with _counted(self._reserve_code_attempt(session), success_refills=True):
            step = totp.matching_step(self._seed(user, sealed), code.strip(), clock.now())
            if step is None:
                record_event("login_failed", user_id=user.id, factor="totp_setup")
                raise InvalidCredentials()
            recovery_codes = codes.new_recovery_codes()
            confirmation = users.enrollment_confirmation(
                user, sealed, step, [codes.digest(code) for code in recovery_codes]
            )
            tokens = self._start_session(user, "totp_setup", confirmation, session.spend)
        record_event("mfa_enrolled", user_id=user.id)
        return tokens, recovery_codes

    # ---- sessions -------------------------------------------------------------------------

    def _access_token(self, user: User, session_id: str) -> str:
        return self._tokens.issue(
            TokenKind.ACCESS,
            user.id,
            self._settings.access_token_ttl_seconds,
            {"sid": session_id, "ver": user.token_version},
        )

    @staticmethod
    def _new_refresh_token(user_id: str) -> str:
        # The user id prefix lets the service find the token in the user's partition;
        # the 256 random bits after it are the secret.
        return f"{user_id}.{codes.new_refresh_token()}"

    def _start_session(
        self,
        user: User,
        login_factor: str | None = None,
        second_factor: users.UserWrite | None = None,
        mfa_token: sessions.MfaTokenSpend | None = None,
        also: sessions.TransactionPart | None = None,
    ) -> TokenPair:
        """Open a session. For a sign-in (`login_factor`), the same transaction spends the
        second factor and the mfa_token and refills the failure budget; after a password
        change the session simply continues."""
        now = int(clock.now())
        session_id = uuid.uuid4().hex
        refresh_token = self._new_refresh_token(user.id)
        expires_at = now + self._settings.refresh_token_ttl_seconds
        sessions.create_session(
            user.id,
            session_id,
            codes.digest(refresh_token),
            expires_at,
            user.token_version,
            None if login_factor is None else users.sign_in_write(second_factor, user.id),
            mfa_token,
            also,
        )
        if login_factor is not None:  # recorded once the session really exists
            record_event("login_succeeded", user_id=user.id, factor=login_factor)
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
        digest = codes.digest(refresh_token)
        stored = sessions.get_refresh_token(user_id, digest)
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
        new_refresh_token = self._new_refresh_token(user.id)
        try:
            sessions.rotate_refresh_token(
                user.id,
                stored.session_id,
                digest,
                codes.digest(new_refresh_token),
                stored.expires_at,
                user.token_version,
            )
        except sessions.RefreshTokenReused:
            self._end_stolen_session(user, stored.session_id)
        except sessions.SessionGone as exc:
            raise NotAuthenticated() from exc
        return TokenPair(
            access_token=self._access_token(user, stored.session_id),
            expires_in=self._settings.access_token_ttl_seconds,
            refresh_token=new_refresh_token,
            refresh_expires_in=stored.expires_at - now,
        )

    def _end_stolen_session(self, user: User, session_id: str) -> NoReturn:
        self._end_session(user, session_id)
        record_event("refresh_token_reuse", user_id=user.id, session_id=session_id)
        raise NotAuthenticated()

    def _end_session(self, user: User, session_id: str) -> None:
        """End one session: its refresh-token chain and, at once, its access tokens."""
        now = int(clock.now())
        expired = [sid for sid, expiry in user.revoked_sessions.items() if expiry <= now]
        sessions.end_session(
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
            stored = sessions.get_refresh_token(request.user.id, codes.digest(refresh_token))
            if stored is not None:
                ended.add(stored.session_id)
        for session_id in sorted(ended):
            self._end_session(request.user, session_id)

    # ---- credentials of the signed-in user ---------------------------------------------

    @contextmanager
    def _reauthenticated(self, user: User, password: str) -> Iterator[None]:
        """Sensitive changes ask for the password again (ASVS 5.0 6.2.3, 7.5.1). The
        attempt is reserved in the login failure budget first, so a stolen access token
        cannot be used to guess the password, not even with parallel requests; it stays
        counted only if a check inside (the password, a TOTP code) fails."""
        with _counted(_reserve(attempts.of_account(user.id), user.failures), success_refills=False):
            matches, _ = passwords.verify_password(password, user.password_hash)
            if not matches:
                raise InvalidCredentials()
            yield

    def change_password(
        self, request: AuthenticatedRequest, current_password: str, new_password: str
    ) -> TokenPair:
        """ASVS 2.1.5 / 5.0 6.2.2: needs the current password; every other session ends
        (the token version moves on) and this one continues with fresh tokens."""
        user = request.user
        with self._reauthenticated(user, current_password):
            check_password(new_password, user.username, self._settings)
            updated = users.change_password(user, passwords.hash_password(new_password))
        record_event("password_changed", user_id=user.id)
        return self._start_session(updated)

    def regenerate_recovery_codes(
        self, request: AuthenticatedRequest, password: str, code: str
    ) -> list[str]:
        """ASVS 2.6 / 5.0 6.5: a new set of ten, shown once; the old set stops working.
        Needs the password and a current TOTP code (single use, like at login)."""
        user = request.user
        recovery_codes = codes.new_recovery_codes()
        with self._reauthenticated(user, password), self._second_factor(user, "totp"):
            users.replace_recovery_codes(
                user,
                [codes.digest(code) for code in recovery_codes],
                spending=self._accept_totp(user, code.strip()),
            )
        record_event("recovery_codes_regenerated", user_id=user.id)
        return recovery_codes

    def logout_all(self, request: AuthenticatedRequest) -> None:
        users.bump_token_version(request.user.id)
        record_event("logout_all", user_id=request.user.id)

    # ---- OAuth 2 token revocation (RFC 7009) ----------------------------------------------

    def revoke(self, token: str) -> None:
        """End the session of a refresh token (`<user id>.<secret>`) or an access token.

        Anything else (unknown, expired, malformed, already revoked, another kind of
        token) is ignored: RFC 7009 answers the same whatever the token was.
        """
        user_id, _, secret = token.partition(".")
        if secret and "." not in secret:
            if len(user_id) > _MAX_LOOKUP_CHARS:  # no such key in DynamoDB
                return
            stored = sessions.get_refresh_token(user_id, codes.digest(token))
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
