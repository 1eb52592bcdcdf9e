"""Passkeys (WebAuthn): registration, the second factor and passwordless sign-in.

Verification is py_webauthn's (origin, RP ID hash, UP/UV flags, signature, attestation);
this module decides what is asked for and what the answers may do. Every sign-in with
a passkey ends in the same session transaction as a TOTP sign-in (AuthService), with
the same failure budget and revocation rules.

`webauthn` is imported inside the functions that use it: it (with pyOpenSSL, pyasn1
and cbor2) costs the cold start of every other route nothing.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, NamedTuple, NoReturn

from authapi.audit.service import record_event
from authapi.auth import attempts
from authapi.auth.budget import admit, counted, reserve
from authapi.auth.repository import MfaTokenSpend
from authapi.auth.service import AuthService, MfaSession
from authapi.auth.sessions import AuthenticatedRequest, TokenPair
from authapi.core import clock
from authapi.core.config import Settings
from authapi.core.errors import InvalidCredentials, PolicyViolation, TooManyAttempts
from authapi.passkeys import browser_json
from authapi.passkeys import repository as passkeys
from authapi.passkeys.repository import ChallengeOwner, Credential, Passkey, PasskeyUse
from authapi.security import digests
from authapi.security.keys import TotpSecretKeys
from authapi.security.tokens import TokenIssuer
from authapi.users import repository as users
from authapi.users import service as user_admin
from authapi.users.domain import User

# WebAuthn Level 3 recommends 5 minutes for user-verifying ceremonies; the contract
# allows no more.
CHALLENGE_SECONDS = 300
_CHALLENGE_BYTES = 32


class RelyingParty(NamedTuple):
    id: str
    origins: tuple[str, ...]
    name: str


def relying_party(settings: Settings, hostname: str, origin: str) -> RelyingParty:
    """The configured relying party; by default the host the request came to (the
    execute-api domain when deployed) and the request's own origin."""
    return RelyingParty(
        id=settings.webauthn_rp_id or hostname,
        origins=settings.webauthn_origins or (origin,),
        name=settings.totp_issuer,
    )


def _presented_credential(credential_json: dict[str, Any]) -> Credential | None:
    """The registered credential the browser's answer names, if any."""
    raw_id = browser_json.raw_id(credential_json)
    return None if raw_id is None else passkeys.get_credential(browser_json.passkey_id(raw_id))


def _mfa_challenge_owner(session: MfaSession) -> ChallengeOwner:
    """A second-factor challenge works for its user with the mfa_token it was asked with."""
    return ChallengeOwner("mfa", session.user.id, digests.digest(session.spend.token_id))


def _passwordless_challenge_owner(passkey_token: str) -> ChallengeOwner:
    return ChallengeOwner("passwordless", token_digest=digests.digest(passkey_token))


class PasskeyService(AuthService):
    """AuthService plus passkeys: the sign-ins reuse its budget, mfa_token and session
    machinery rather than a second path."""

    def __init__(
        self,
        settings: Settings,
        tokens: TokenIssuer,
        totp_secret_keys: TotpSecretKeys,
        rp: RelyingParty,
    ) -> None:
        super().__init__(settings, tokens, totp_secret_keys)
        self._rp = rp

    def _refuse(self, user_id: str | None, flow: str, reason: str, **detail: Any) -> NoReturn:
        record_event(
            self._settings, "login_failed", user_id=user_id, factor=flow, reason=reason, **detail
        )
        raise InvalidCredentials()

    def _new_challenge(self, owner: ChallengeOwner) -> bytes:
        raw = secrets.token_bytes(_CHALLENGE_BYTES)
        value = browser_json.b64url(raw)
        passkeys.save_challenge(
            digests.digest(value), value, owner, int(clock.now()) + CHALLENGE_SECONDS
        )
        return raw

    def _descriptors(self, user_id: str) -> list[Any]:
        from webauthn import base64url_to_bytes
        from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

        return [
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(passkey.credential_id),
                transports=[AuthenticatorTransport(name) for name in passkey.transports] or None,
            )
            for passkey in passkeys.list_passkeys(user_id)
        ]

    # ---- registration (the signed-in user) ---------------------------------------------

    def registration_options(self, request: AuthenticatedRequest, password: str) -> Any:
        """Creation options with a fresh challenge, after the password again (ASVS 5.0
        6.2.3: adding an authenticator is a sensitive change)."""
        from webauthn import generate_registration_options, options_to_json
        from webauthn.helpers.structs import (
            AttestationConveyancePreference,
            AuthenticatorSelectionCriteria,
            ResidentKeyRequirement,
            UserVerificationRequirement,
        )

        user = request.user
        with self._reauthenticated(user, password):
            options = generate_registration_options(
                rp_id=self._rp.id,
                rp_name=self._rp.name,
                # The user handle a discoverable passkey returns at passwordless sign-in.
                user_id=user.id.encode("ascii"),
                user_name=user.username,
                user_display_name=user.full_name or user.username,
                challenge=self._new_challenge(ChallengeOwner("register", user_id=user.id)),
                timeout=CHALLENGE_SECONDS * 1000,
                attestation=AttestationConveyancePreference.NONE,
                authenticator_selection=AuthenticatorSelectionCriteria(
                    resident_key=ResidentKeyRequirement.REQUIRED,
                    user_verification=UserVerificationRequirement.REQUIRED,
                ),
                exclude_credentials=self._descriptors(user.id),
            )
        return json.loads(options_to_json(options))

    def register(
        self, request: AuthenticatedRequest, credential: dict[str, Any], name: str | None
    ) -> Passkey:
        """Verify a new credential against its single-use challenge and store it."""
        from webauthn import verify_registration_response

        user = request.user
        challenge = browser_json.client_challenge(credential)
        if challenge is None or not passkeys.consume_challenge(
            digests.digest(challenge), ChallengeOwner("register", user_id=user.id)
        ):
            raise PolicyViolation("credential: no valid registration challenge (expired or used).")
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=browser_json.unb64url(challenge),
                expected_rp_id=self._rp.id,
                expected_origin=list(self._rp.origins),
                require_user_verification=True,
            )
        except Exception as exc:  # every malformed or wrong answer is a 422
            record_event(self._settings, "passkey_rejected", user_id=user.id, error=str(exc)[:200])
            raise PolicyViolation("credential: the passkey could not be verified.") from exc
        passkey = passkeys.add_passkey(
            user.id,
            user.token_version,
            passkeys.NewPasskey(
                id=browser_json.passkey_id(verified.credential_id),
                credential_id=browser_json.b64url(verified.credential_id),
                name=name or "Passkey",
                aaguid=verified.aaguid,
                transports=browser_json.transports(credential),
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
            ),
        )
        record_event(
            self._settings,
            "passkey_registered",
            user_id=user.id,
            passkey_id=passkey.id,
            aaguid=passkey.aaguid,
            attestation=str(verified.fmt),
        )
        return passkey

    def list_mine(self, request: AuthenticatedRequest) -> list[Passkey]:
        return passkeys.list_passkeys(request.user.id)

    def rename(self, request: AuthenticatedRequest, passkey_id: str, name: str) -> Passkey:
        return passkeys.rename_passkey(request.user.id, passkey_id, name)

    # ---- sign-in ----------------------------------------------------------------------

    def _check_assertion(
        self,
        flow: str,
        credential_json: dict[str, Any],
        credential: Credential,
        owner: ChallengeOwner,
        require_user_verification: bool,
    ) -> PasskeyUse:
        """Spend the challenge (one conditional write), then verify the assertion, then
        the signature counter. Each refusal is audited with its reason."""
        from webauthn import verify_authentication_response

        user_id = credential.user_id
        client_challenge = browser_json.client_challenge(credential_json)
        if client_challenge is None or not passkeys.consume_challenge(
            digests.digest(client_challenge), owner
        ):
            self._refuse(user_id, flow, "challenge")
        handle = browser_json.response_field(credential_json, "userHandle")
        if handle and handle != browser_json.b64url(user_id.encode("ascii")):
            self._refuse(user_id, flow, "user_handle")
        try:
            verified = verify_authentication_response(
                credential=credential_json,
                expected_challenge=browser_json.unb64url(client_challenge),
                expected_rp_id=self._rp.id,
                expected_origin=list(self._rp.origins),
                credential_public_key=credential.public_key,
                # The counter is checked below, after the signature: only a genuine
                # assertion with a stale counter is evidence of a cloned authenticator.
                credential_current_sign_count=0,
                require_user_verification=require_user_verification,
            )
        except Exception as exc:  # every malformed or wrong answer is a 401
            self._refuse(user_id, flow, "assertion", error=str(exc)[:200])
        stored, presented = credential.sign_count, verified.new_sign_count
        if stored > 0 and presented <= stored:
            record_event(
                self._settings,
                "passkey_counter_regressed",
                user_id=user_id,
                passkey_id=credential.passkey_id,
                stored=stored,
                presented=presented,
            )
            self._refuse(user_id, flow, "counter")
        return PasskeyUse(credential, presented)

    def mfa_options(self, mfa_token: str) -> Any:
        """Request options for the second factor: the user's passkeys, a challenge bound
        to this mfa_token."""
        from webauthn import generate_authentication_options, options_to_json
        from webauthn.helpers.structs import UserVerificationRequirement

        session = self._user_for_mfa_token(mfa_token, "totp")
        admit(session.user.failures, session.ceiling)  # checks nothing, spends nothing
        allowed = self._descriptors(session.user.id)
        if not allowed:
            raise InvalidCredentials()
        options = generate_authentication_options(
            rp_id=self._rp.id,
            challenge=self._new_challenge(_mfa_challenge_owner(session)),
            timeout=CHALLENGE_SECONDS * 1000,
            allow_credentials=allowed,
            # The password was the knowledge factor; the passkey is the possession one.
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        return json.loads(options_to_json(options))

    def verify_mfa_passkey(self, mfa_token: str, credential_json: dict[str, Any]) -> TokenPair:
        """Step two with a passkey: the same mfa_token rules as a TOTP code (one attempt
        of the account's and the token's budget reserved first; one session per token)."""
        session = self._user_for_mfa_token(mfa_token, "totp")
        user = session.user
        with counted(self._reserve_code_attempt(session), success_refills=True):
            credential = _presented_credential(credential_json)
            if credential is None or credential.user_id != user.id:
                self._refuse(user.id, "passkey", "unknown_credential")
            use = self._check_assertion(
                "passkey",
                credential_json,
                credential,
                _mfa_challenge_owner(session),
                require_user_verification=False,
            )
            return self._open_session(user, "passkey", use, session.spend)

    def passwordless_options(self) -> tuple[Any, str]:
        """Request options for a discoverable credential (no user named), and the
        passkey_token that must come back with the answer."""
        from webauthn import generate_authentication_options, options_to_json
        from webauthn.helpers.structs import UserVerificationRequirement

        token = secrets.token_urlsafe(32)
        options = generate_authentication_options(
            rp_id=self._rp.id,
            challenge=self._new_challenge(_passwordless_challenge_owner(token)),
            timeout=CHALLENGE_SECONDS * 1000,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return json.loads(options_to_json(options)), token

    def verify_passwordless(self, passkey_token: str, credential_json: dict[str, Any]) -> TokenPair:
        """A passkey alone: possession plus user verification, so multi-factor (NIST SP
        800-63B 5.1.8/5.1.9: a multi-factor cryptographic authenticator).

        Reads the credential record and its user (two reads). Failures count in the
        budget of the credential's user, as a wrong password would: a known credential
        names its account. An unknown credential names none, so there is no budget to
        count it in; it cannot succeed anyway, and every try spends a challenge."""
        flow = "passwordless_passkey"
        credential = _presented_credential(credential_json)
        if credential is None:
            self._refuse(None, flow, "unknown_credential")
        user = users.get_user(credential.user_id)
        if user is None:
            self._refuse(None, flow, "unknown_credential")
        try:
            reservation = reserve(attempts.of_account(user.id), user.failures)
        except TooManyAttempts:
            record_event(self._settings, "login_throttled", user_id=user.id)
            raise
        with counted(reservation, success_refills=True):
            use = self._check_assertion(
                flow,
                credential_json,
                credential,
                _passwordless_challenge_owner(passkey_token),
                require_user_verification=True,
            )
            # Refused only after the check, as at the password step.
            if user.disabled or not user.mfa_enabled:
                self._refuse(user.id, flow, "disabled" if user.disabled else "not_enrolled")
            return self._open_session(user, flow, use)

    def _open_session(
        self, user: User, flow: str, use: PasskeyUse, mfa_token: MfaTokenSpend | None = None
    ) -> TokenPair:
        """The session transaction of every sign-in, with the counter's conditional
        update; InvalidCredentials (audited) when a parallel sign-in won the counter or
        the mfa_token, or the user was disabled or signed out everywhere meanwhile."""
        try:
            return self._start_session(
                user, flow, passkeys.sign_in_check(user.id, user.token_version), mfa_token, use
            )
        except InvalidCredentials:
            self._refuse(user.id, flow, "raced")

    # ---- the signed-in user and the admin ---------------------------------------------

    def remove_mine(self, request: AuthenticatedRequest, passkey_id: str) -> None:
        passkeys.remove_passkey(request.user.id, passkey_id)
        record_event(
            self._settings, "passkey_removed", user_id=request.user.id, passkey_id=passkey_id
        )


def list_for_user(user_id: str) -> list[Passkey]:
    return passkeys.list_passkeys(user_admin.get_user(user_id).id)


def remove_for_user(settings: Settings, user_id: str, passkey_id: str) -> None:
    passkeys.remove_passkey(user_admin.get_user(user_id).id, passkey_id)
    record_event(settings, "passkey_removed", user_id=user_id, passkey_id=passkey_id)
