"""Unit tests of the security helpers: hashing, TOTP, tokens, random codes."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import argon2
import bcrypt
import jwt
import pyotp
import pytest

from authapi.core.errors import NotAuthenticated
from authapi.security import passwords, recovery_codes, refresh_tokens, totp, totp_secrets
from authapi.security.digests import digest
from authapi.security.keys import ACTIVATION_DELAY_SECONDS, add_key, signing_keys, totp_secret_keys
from authapi.security.tokens import TokenIssuer, TokenKind
from tests.support import Clock

NOW = time.time()
KEYS = signing_keys(add_key(None), NOW)
ISSUER = TokenIssuer(keys=KEYS, issuer="authapi", audience="authapi")


class TestPasswords:
    def test_owasp_argon2id_parameters(self) -> None:
        """OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1."""
        hashed = passwords.hash_password("a long enough password")
        assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        assert passwords.verify_password("a long enough password", hashed) == (True, None)
        assert passwords.verify_password("another password", hashed) == (False, None)

    def test_legacy_bcrypt_is_accepted_and_upgraded(self) -> None:
        legacy = bcrypt.hashpw(b"tutorial password", bcrypt.gensalt(4)).decode()
        matches, upgraded = passwords.verify_password("tutorial password", legacy)
        assert matches
        assert upgraded is not None
        assert upgraded.startswith("$argon2id$")
        assert passwords.verify_password("tutorial password", upgraded) == (True, None)

    def test_bcrypt_over_72_bytes_verifies_what_was_hashed_and_never_raises(self) -> None:
        long_password = "ü" * 50  # 100 bytes in UTF-8
        legacy = bcrypt.hashpw(long_password.encode()[:72], bcrypt.gensalt(4)).decode()
        matches, upgraded = passwords.verify_password(long_password, legacy)
        assert matches
        # The upgrade hashes the whole password, not bcrypt's truncated view of it.
        assert upgraded is not None
        assert passwords.verify_password(long_password, upgraded) == (True, None)
        assert passwords.verify_password("x" * 200, legacy) == (False, None)

    def test_unrecognised_hash_is_a_mismatch(self) -> None:
        assert passwords.verify_password("anything", "not-a-hash") == (False, None)

    @pytest.mark.parametrize(
        "stored",
        [
            "$2b$12$tooshort",
            "$2b$03$" + "a" * 53,  # cost below bcrypt's minimum
            "$2z$12$" + "a" * 53,  # no such variant
            "$argon2id$v=19$m=19456,t=2",
        ],
    )
    def test_malformed_hash_is_no_scheme_and_a_mismatch(self, stored: str) -> None:
        assert passwords.scheme_of(stored) is None
        assert passwords.verify_password("anything", stored) == (False, None)

    def test_other_argon2_parameters_verify_and_are_upgraded(self) -> None:
        older = argon2.PasswordHasher(
            time_cost=1, memory_cost=1024, parallelism=1, type=argon2.Type.I
        )
        stored = older.hash("an older hash's password")
        assert passwords.scheme_of(stored) == "argon2"
        matches, upgraded = passwords.verify_password("an older hash's password", stored)
        assert matches
        assert upgraded is not None
        assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


class TestTotp:
    def test_secret_has_160_bits_from_the_csprng(self) -> None:
        secrets = {totp.new_secret() for _ in range(50)}
        assert len(secrets) == 50
        for secret in secrets:
            assert len(base64.b32decode(secret)) == 20

    def test_matching_step_accepts_one_step_of_drift(self) -> None:
        secret = totp.new_secret()
        now = Clock().now()
        step = totp.time_step(now)
        generator = pyotp.TOTP(secret)
        assert totp.matching_step(secret, generator.at(now), now) == step
        assert totp.matching_step(secret, generator.at(now - 30), now) == step - 1
        assert totp.matching_step(secret, generator.at(now + 30), now) == step + 1
        assert totp.matching_step(secret, generator.at(now + 60), now) is None

    @pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", " 12345"])
    def test_malformed_codes_never_match(self, code: str) -> None:
        assert totp.matching_step(totp.new_secret(), code, 0.0) is None


class TestTokens:
    def test_round_trip_has_the_required_claims(self, clock: Clock) -> None:
        token = ISSUER.issue(TokenKind.ACCESS, "user-1", 60, {"ver": 0})
        claims = ISSUER.decode(TokenKind.ACCESS, token)
        assert claims["sub"] == "user-1"
        assert {"iss", "aud", "sub", "iat", "exp", "jti"} <= set(claims)
        assert jwt.get_unverified_header(token)["typ"] == "at+jwt"

    def test_kinds_are_mutually_exclusive(self, clock: Clock) -> None:
        """RFC 8725 §3.11: an mfa_token is never an access token and vice versa."""
        access = ISSUER.issue(TokenKind.ACCESS, "u", 60, {})
        mfa = ISSUER.issue(TokenKind.MFA, "u", 60, {})
        with pytest.raises(NotAuthenticated):
            ISSUER.decode(TokenKind.MFA, access)
        with pytest.raises(NotAuthenticated):
            ISSUER.decode(TokenKind.ACCESS, mfa)

    def test_same_audience_but_wrong_typ_is_refused(self, clock: Clock) -> None:
        payload = {
            "iss": "authapi",
            "aud": "authapi",
            "sub": "u",
            "iat": int(clock.now()),
            "exp": int(clock.now()) + 60,
            "jti": "j",
        }
        forged = jwt.encode(
            payload, KEYS.private_key, algorithm="EdDSA", headers={"typ": "JWT", "kid": KEYS.kid}
        )
        with pytest.raises(NotAuthenticated):
            ISSUER.decode(TokenKind.ACCESS, forged)

    def test_rfc_8725_hs256_signed_with_the_public_key_is_refused(self, clock: Clock) -> None:
        """Algorithm confusion: the published public key used as an HMAC secret."""
        token = ISSUER.issue(TokenKind.ACCESS, "u", 60, {})
        claims = jwt.decode(token, options={"verify_signature": False})
        public_raw = KEYS.public_keys[KEYS.kid].public_bytes_raw()
        forged = jwt.encode(
            {**claims, "sub": "admin"},
            public_raw,
            algorithm="HS256",
            headers={"typ": "at+jwt", "kid": KEYS.kid},
        )
        with pytest.raises(NotAuthenticated):
            ISSUER.decode(TokenKind.ACCESS, forged)

    def test_unknown_kid_and_foreign_key_are_refused(self, clock: Clock) -> None:
        foreign = signing_keys(add_key(None), NOW)
        claims = jwt.decode(
            ISSUER.issue(TokenKind.ACCESS, "u", 60, {}), options={"verify_signature": False}
        )
        for kid in ("not-ours", KEYS.kid):
            forged = jwt.encode(
                claims,
                foreign.private_key,
                algorithm="EdDSA",
                headers={"typ": "at+jwt", "kid": kid},
            )
            with pytest.raises(NotAuthenticated):
                ISSUER.decode(TokenKind.ACCESS, forged)

    def test_rotation_new_key_signs_after_the_delay_old_key_still_verifies(
        self, clock: Clock
    ) -> None:
        """Rotation by adding a key: it verifies at once, signs only once every container
        has had time to fetch it, and older keys keep verifying."""
        raw = add_key(None)
        rotated = add_key(raw)
        now = time.time() + 1  # keys carry their creation time, to the second
        old_kid = signing_keys(raw, now).kid
        at_once = signing_keys(rotated, now)
        assert at_once.kid == old_kid  # the new key is not signing yet ...
        assert len(at_once.public_keys) == 2  # ... but already verifies
        later = signing_keys(rotated, now + ACTIVATION_DELAY_SECONDS)
        assert later.kid != old_kid
        before = TokenIssuer(keys=at_once, issuer="authapi", audience="authapi")
        after = TokenIssuer(keys=later, issuer="authapi", audience="authapi")
        old_token = before.issue(TokenKind.ACCESS, "u", 60, {})
        new_token = after.issue(TokenKind.ACCESS, "u", 60, {})
        assert jwt.get_unverified_header(new_token)["kid"] == later.kid
        assert after.decode(TokenKind.ACCESS, old_token)["sub"] == "u"
        assert before.decode(TokenKind.ACCESS, new_token)["sub"] == "u"
        with pytest.raises(NotAuthenticated):
            TokenIssuer(keys=signing_keys(raw, NOW), issuer="authapi", audience="authapi").decode(
                TokenKind.ACCESS, new_token
            )

    def test_alg_none_is_refused(self, clock: Clock) -> None:
        token = ISSUER.issue(TokenKind.ACCESS, "u", 60, {})
        header, payload, _ = token.split(".")
        none_header = (
            base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
            .rstrip(b"=")
            .decode()
        )
        for forged in (f"{none_header}.{payload}.", f"{header}.{payload}."):
            with pytest.raises(NotAuthenticated):
                ISSUER.decode(TokenKind.ACCESS, forged)

    def test_tampered_payload_is_refused(self, clock: Clock) -> None:
        token = ISSUER.issue(TokenKind.ACCESS, "u", 60, {})
        header, payload, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["sub"] = "admin"
        evil = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        with pytest.raises(NotAuthenticated):
            ISSUER.decode(TokenKind.ACCESS, f"{header}.{evil}.{signature}")

    @pytest.mark.parametrize(
        "other",
        [
            TokenIssuer(
                keys=signing_keys(add_key(None), NOW), issuer="authapi", audience="authapi"
            ),
            TokenIssuer(keys=KEYS, issuer="someone-else", audience="authapi"),
            TokenIssuer(keys=KEYS, issuer="authapi", audience="another-service"),
        ],
    )
    def test_wrong_key_issuer_or_audience_is_refused(
        self, clock: Clock, other: TokenIssuer
    ) -> None:
        with pytest.raises(NotAuthenticated):
            ISSUER.decode(TokenKind.ACCESS, other.issue(TokenKind.ACCESS, "u", 60, {}))

    def test_expired_token_is_refused(self, clock: Clock) -> None:
        token = ISSUER.issue(TokenKind.ACCESS, "u", 60, {})
        clock.advance(61)
        with pytest.raises(NotAuthenticated):
            ISSUER.decode(TokenKind.ACCESS, token)

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda token: token + ".extra",  # four segments
            lambda token: token.rsplit(".", 1)[0],  # two
            lambda token: token.replace(".", ".é", 1),  # not base64url
            lambda token: token.replace(".", ".=", 1),  # padding is not base64url here
            lambda token: token[:-1],  # a signature one character short
            lambda token: "bm90IGpzb24" + token[token.index(".") :],  # header "not json"
            lambda token: "WzFd" + token[token.index(".") :],  # header [1]
        ],
    )
    def test_malformed_token_is_refused(self, clock: Clock, mangle: Any) -> None:
        with pytest.raises(NotAuthenticated):
            ISSUER.decode(TokenKind.ACCESS, mangle(ISSUER.issue(TokenKind.ACCESS, "u", 60, {})))

    @pytest.mark.parametrize(
        ("headers", "dropped"),
        [
            ({"crit": ["exp"]}, None),  # RFC 7515 §4.1.11: no extension is understood
            ({}, "jti"),
            ({}, "aud"),
            ({}, "iss"),
        ],
    )
    def test_signed_but_incomplete_token_is_refused(
        self, clock: Clock, headers: dict[str, Any], dropped: str | None
    ) -> None:
        claims = jwt.decode(
            ISSUER.issue(TokenKind.ACCESS, "u", 60, {}), options={"verify_signature": False}
        )
        claims.pop(dropped or "", None)
        forged = jwt.encode(
            claims,
            KEYS.private_key,
            algorithm="EdDSA",
            headers={"typ": "at+jwt", "kid": KEYS.kid, **headers},
        )
        with pytest.raises(NotAuthenticated):
            ISSUER.decode(TokenKind.ACCESS, forged)


class TestSeedEncryption:
    """ASVS 2.8.2 / 5.0 13.3.1: TOTP secrets are encrypted at rest (AES-256-GCM)."""

    def test_round_trip_and_no_plaintext(self) -> None:
        keys = totp_secret_keys(add_key(None), NOW)
        secret = totp.new_secret()
        sealed = totp_secrets.encrypt(keys, secret, "user-1")
        assert secret not in sealed
        assert sealed.split(".")[1] == keys.kid
        assert totp_secrets.decrypt(keys, sealed, "user-1") == secret

    def test_ciphertext_is_bound_to_its_user(self) -> None:
        keys = totp_secret_keys(add_key(None), NOW)
        sealed = totp_secrets.encrypt(keys, totp.new_secret(), "user-1")
        with pytest.raises(totp_secrets.TotpSecretUndecryptable):
            totp_secrets.decrypt(keys, sealed, "user-2")

    def test_tampering_and_unknown_keys_are_detected(self) -> None:
        keys = totp_secret_keys(add_key(None), NOW)
        sealed = totp_secrets.encrypt(keys, totp.new_secret(), "u")
        version, kid, nonce, body = sealed.split(".")
        flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
        for bad in (
            f"{version}.{kid}.{nonce}.{flipped}",
            f"{version}.unknown.{nonce}.{body}",
            "garbage",
        ):
            with pytest.raises(totp_secrets.TotpSecretUndecryptable):
                totp_secrets.decrypt(keys, bad, "u")
        with pytest.raises(totp_secrets.TotpSecretUndecryptable):
            totp_secrets.decrypt(totp_secret_keys(add_key(None), NOW), sealed, "u")

    def test_rotation_keeps_old_totp_secrets_readable(self) -> None:
        raw = add_key(None)
        old = totp_secrets.encrypt(totp_secret_keys(raw, NOW), "SECRET", "u")
        rotated = totp_secret_keys(add_key(raw), time.time() + 1 + ACTIVATION_DELAY_SECONDS)
        assert totp_secrets.decrypt(rotated, old, "u") == "SECRET"
        assert (
            totp_secrets.encrypt(rotated, "SECRET", "u").split(".")[1]
            == rotated.kid
            != old.split(".")[1]
        )


class TestRandomBearerValues:
    def test_recovery_codes_have_at_least_112_bits_and_are_distinct(self) -> None:
        """ASVS 2.6.2: recovery codes have >= 112 bits, so a fast hash is enough."""
        batch = recovery_codes.new_recovery_codes()
        assert len(batch) == 10
        assert len(set(batch)) == 10
        for code in batch:
            compact = code.replace("-", "")
            assert len(base64.b32decode(compact.upper())) * 8 >= 112

    def test_recovery_code_digest_ignores_case_spaces_and_hyphens(self) -> None:
        code = recovery_codes.new_recovery_codes()[0]
        typed = code.upper().replace("-", " ")
        assert recovery_codes.recovery_code_digest(typed) == digest(code)
        assert recovery_codes.recovery_code_digest("too-short") is None

    def test_refresh_tokens_carry_256_bits(self) -> None:
        user_id, _, secret = refresh_tokens.new("user-1").partition(".")
        assert user_id == "user-1"
        assert len(base64.urlsafe_b64decode(secret + "=")) == 32


def test_precomputed_dummy_hash_uses_the_configured_parameters() -> None:
    """ASVS 5.0 6.3.8: an unknown username is verified against a hash that costs what a
    real one costs. The precomputed one must carry today's parameters (else every
    container would compute one at init); update it when they change."""
    fresh = passwords.hash_password("anything at all, twelve+")
    parameters = fresh.rsplit("$", 2)[0]
    assert passwords.PRECOMPUTED_DUMMY_HASH.rsplit("$", 2)[0] == parameters
    assert passwords._dummy_hash() == passwords.PRECOMPUTED_DUMMY_HASH
    assert passwords.verify_password("anything at all, twelve+", passwords._dummy_hash()) == (
        False,
        None,
    )
