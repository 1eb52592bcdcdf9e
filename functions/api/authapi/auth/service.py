"""Sign-in (password, second factor, TOTP enrollment) and the signed-in user's
credential changes; sessions themselves are `auth.sessions`.

Every failed login step raises the same InvalidCredentials, and an unknown username
still costs a password verification, so neither the answer nor its timing tells an
attacker which accounts exist or which factor was wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from authapi.audit.service import record_event
from authapi.auth import attempts, credentials
from authapi.auth.budget import admit, counted, reserve
from authapi.auth.credentials import UserWrite
from authapi.auth.repository import MfaTokenSpend
from authapi.auth.sessions import (
    MAX_LOOKUP_CHARS,
    AuthenticatedRequest,
    SessionService,
    TokenPair,
)
from authapi.core import clock
from authapi.core.config import Settings
from authapi.core.errors import (
    InvalidCredentials,
    MfaSetupRequired,
    NotAuthenticated,
    TooManyAttempts,
)
from authapi.security import passwords, throttle, totp, totp_secrets
from authapi.security.keys import TotpSecretKeys
from authapi.security.password_policy import check_password
from authapi.security.recovery_codes import (
    new_recovery_codes,
    recovery_code_digest,
    recovery_code_digests,
)
from authapi.security.tokens import TokenIssuer, TokenKind
from authapi.users import repository as users
from authapi.users.domain import User

MfaStep = Literal["totp", "setup"]
# The audit detail that tells a signed-in user's password re-check from a sign-in.
_REAUTHENTICATION = "reauthentication"


@dataclass(frozen=True)
class MfaChallenge:
    mfa_token: str
    mfa: MfaStep
    expires_in: int
    methods: list[str]


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
    spend: MfaTokenSpend


class AuthService(SessionService):
    """Sign-in (password, second factor, enrollment) and the signed-in user's credential
    changes, on top of the session handling they end in."""

    def __init__(
        self, settings: Settings, tokens: TokenIssuer, totp_secret_keys: TotpSecretKeys
    ) -> None:
        super().__init__(settings, tokens)
        self._totp_secret_keys = totp_secret_keys

    def _totp_secret(self, user: User, stored: str) -> str:
        try:
            return totp_secrets.decrypt(self._totp_secret_keys, stored, user.id)
        except totp_secrets.TotpSecretUndecryptable as exc:
            # A key was removed from the set too early, or the item was tampered with.
            record_event(self._settings, "totp_seed_undecryptable", user_id=user.id)
            raise InvalidCredentials() from exc

    # ---- first factor -------------------------------------------------------------

    def _check_password(self, username: str, password: str) -> tuple[User, attempts.Reservation]:
        """The first factor, with one attempt of the name's failure budget reserved for
        it (left counted when the check fails). Raises InvalidCredentials for every kind
        of failure, and TooManyAttempts (before any check) while the budget is spent."""
        name = username.strip().lower()
        if len(name) > MAX_LOOKUP_CHARS:  # longer than any key DynamoDB accepts
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
            reservation = reserve(budget, failures)
        except TooManyAttempts:
            record_event(self._settings, "login_throttled", user_id=user.id if user else None)
            raise
        if user is None:
            passwords.burn_verification_time(password)
            record_event(self._settings, "login_failed", factor="password", reason="unknown_user")
            raise InvalidCredentials()
        matches, replacement_hash = passwords.verify_password(password, user.password_hash)
        # A disabled user is refused only after the hash check, so timing stays the same.
        if not matches or user.disabled:
            reason = "wrong_password" if not matches else "disabled"
            record_event(
                self._settings, "login_failed", user_id=user.id, factor="password", reason=reason
            )
            raise InvalidCredentials()
        if replacement_hash is not None:
            credentials.set_password_hash(user, replacement_hash)
        return user, reservation

    @contextmanager
    def _second_factor(self, user: User, factor: str) -> Iterator[None]:
        """Audit a failed code (TOTP or recovery): it was counted, like a wrong password,
        by the attempt reserved before it was checked."""
        try:
            yield
        except InvalidCredentials:
            record_event(self._settings, "login_failed", user_id=user.id, factor=factor)
            raise

    def login(self, username: str, password: str) -> MfaChallenge:
        """Step one of the two-step login: the password, answered with an mfa_token."""
        user, reservation = self._check_password(username, password)
        with counted(reservation, success_refills=False):
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
        with counted(reservation, success_refills=True):
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
        spend = MfaTokenSpend(str(claims["jti"]), int(claims["exp"]))
        return MfaSession(user, ceiling, spend)

    def _reserve_code_attempt(self, session: MfaSession) -> attempts.Reservation:
        """One attempt of the account's budget and of the mfa_token's own (its ceiling)."""
        user = session.user
        return reserve(attempts.of_account(user.id), user.failures, session.ceiling)

    def _accept_totp(self, user: User, code: str) -> UserWrite:
        """The write that spends a valid, unused code; committed with the session."""
        if user.totp_secret is None:
            raise InvalidCredentials()
        step = totp.matching_step(self._totp_secret(user, user.totp_secret), code, clock.now())
        if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
            raise InvalidCredentials()
        # Its condition decides between concurrent requests with the same code.
        return credentials.totp_step_write(user, step)

    def verify_mfa(self, mfa_token: str, code: str) -> TokenPair:
        """Step two: a TOTP code, or one of the user's unused recovery codes."""
        session = self._user_for_mfa_token(mfa_token, "totp")
        user = session.user
        compact = code.strip()
        with counted(self._reserve_code_attempt(session), success_refills=True):
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
            self._settings,
            "recovery_code_used",
            user_id=user.id,
            remaining=len(user.recovery_code_hashes) - 1,
        )
        return tokens

    def _accept_recovery_code(self, user: User, code: str) -> UserWrite:
        """The write that spends an unused recovery code; committed with the session."""
        digest = recovery_code_digest(code)
        if digest is None or digest not in user.recovery_code_hashes:
            raise InvalidCredentials()
        return credentials.recovery_code_write(user, digest)

    def start_enrollment(self, mfa_token: str) -> TotpEnrollment:
        session = self._user_for_mfa_token(mfa_token, "setup")
        user = session.user
        admit(user.failures, session.ceiling)  # checks nothing, so spends nothing
        if user.mfa_enabled:
            raise NotAuthenticated()
        secret = totp.new_secret()
        credentials.start_totp_enrollment(
            user, totp_secrets.encrypt(self._totp_secret_keys, secret, user.id)
        )
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
        with counted(self._reserve_code_attempt(session), success_refills=True):
            step = totp.matching_step(self._totp_secret(user, sealed), code.strip(), clock.now())
            if step is None:
                record_event(self._settings, "login_failed", user_id=user.id, factor="totp_setup")
                raise InvalidCredentials()
            recovery_codes = new_recovery_codes()
            confirmation = credentials.enrollment_write(
                user, sealed, step, recovery_code_digests(recovery_codes)
            )
            tokens = self._start_session(user, "totp_setup", confirmation, session.spend)
        record_event(self._settings, "mfa_enrolled", user_id=user.id)
        return tokens, recovery_codes

    # ---- credentials of the signed-in user ---------------------------------------------

    @contextmanager
    def _reauthenticated(self, user: User, password: str) -> Iterator[None]:
        """Sensitive changes ask for the password again (ASVS 5.0 6.2.3, 7.5.1). The
        attempt is reserved in the login failure budget first, so a stolen access token
        cannot be used to guess the password, not even with parallel requests; it stays
        counted only if a check inside (the password, a TOTP code) fails. A wrong
        password and a refused attempt are audited as at sign-in (ASVS 7.2.1: every
        authentication decision), marked as a re-authentication."""
        try:
            reservation = reserve(attempts.of_account(user.id), user.failures)
        except TooManyAttempts:
            record_event(self._settings, "login_throttled", user_id=user.id, step=_REAUTHENTICATION)
            raise
        with counted(reservation, success_refills=False):
            matches, _ = passwords.verify_password(password, user.password_hash)
            if not matches:
                record_event(
                    self._settings,
                    "login_failed",
                    user_id=user.id,
                    factor="password",
                    reason="wrong_password",
                    step=_REAUTHENTICATION,
                )
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
            updated = credentials.change_password(user, passwords.hash_password(new_password))
        record_event(self._settings, "password_changed", user_id=user.id)
        return self._start_session(updated)

    def regenerate_recovery_codes(
        self, request: AuthenticatedRequest, password: str, code: str
    ) -> list[str]:
        """ASVS 2.6 / 5.0 6.5: a new set of ten, shown once; the old set stops working.
        Needs the password and a current TOTP code (single use, like at login)."""
        user = request.user
        recovery_codes = new_recovery_codes()
        with self._reauthenticated(user, password), self._second_factor(user, "totp"):
            credentials.replace_recovery_codes(
                user,
                recovery_code_digests(recovery_codes),
                spending=self._accept_totp(user, code.strip()),
            )
        record_event(self._settings, "recovery_codes_regenerated", user_id=user.id)
        return recovery_codes
