"""An attacker's test suite: OWASP ASVS 4.0.3 L2 / 5.0 and RFC 8725 (JWT BCP), over HTTP.

Every case attacks the API the way an outsider (or a signed-in user going too far)
would, and asserts the exact status and error `code` the contract (shared/API.md)
gives for it, the `WWW-Authenticate: Bearer` challenge on every 401, and, where the
attack could have written something, that storage is unchanged.

Forged tokens are built by hand (base64url JSON + signature), so that pyjwt's own
refusals on the *attacker's* side never hide what the *server* accepts. Tokens that
are properly signed with our own private key but carry bad claims show that the claim
checks, not the signature, stop them; a control test proves the forging harness mints
tokens the server accepts when nothing is wrong.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx2
import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.security.keys import load_signing_keys
from authapi.users import repository
from authapi.users.domain import Role, User
from authapi.users.models import USER_SK, UserItem, user_pk
from tests.support import PASSWORD, Account, Directory

WRONG_PASSWORD = "definitely not the password"
NEW_PASSWORD = "violet tractor umbrella 1987 harbour"
Signer = Callable[[bytes], bytes]

# ---- helpers ---------------------------------------------------------------------------


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _segment(value: dict[str, Any]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def _jws(header: dict[str, Any], claims: dict[str, Any], sign: Signer | None) -> str:
    """A compact JWS built by hand; `sign=None` leaves the signature empty (alg none)."""
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = "" if sign is None else _b64url(sign(signing_input.encode("ascii")))
    return f"{signing_input}.{signature}"


def _claims_of(token: str) -> dict[str, Any]:
    """The payload of one of our tokens, unverified (what any holder can read)."""
    claims: dict[str, Any] = json.loads(_b64url_decode(token.split(".")[1]))
    return claims


def _header_of(token: str) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(_b64url_decode(token.split(".")[0]))
    return header


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _me(client: TestClient, token: str) -> httpx2.Response:
    return client.get("/users/me", headers=_bearer(token))


def _post_json(client: TestClient, path: str, body: dict[str, Any]) -> httpx2.Response:
    """POST JSON encoded with \\u escapes, so even a lone surrogate reaches the server
    (httpx itself encodes JSON as UTF-8 and cannot send one)."""
    return client.post(
        path, content=json.dumps(body).encode("ascii"), headers={"content-type": "application/json"}
    )


def _refresh(client: TestClient, refresh_token: str) -> httpx2.Response:
    return _post_json(client, "/auth/refresh", {"refresh_token": refresh_token})


def _assert_error(response: httpx2.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "code"}, body
    assert body["code"] == code, body
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def _assert_not_authenticated(response: httpx2.Response) -> None:
    _assert_error(response, 401, "NOT_AUTHENTICATED")


def _assert_invalid_credentials(response: httpx2.Response) -> None:
    _assert_error(response, 401, "INVALID_CREDENTIALS")


def _assert_invalid_grant(response: httpx2.Response) -> None:
    """/token's failed logins are RFC 6749 §5.2 bodies (400) beside the same `code`."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["error"], body["code"]) == ("invalid_grant", "INVALID_CREDENTIALS"), body


def _stored(user_id: str) -> User:
    user = repository.get_user(user_id)
    assert user is not None
    return user


def _our_kid(client: TestClient) -> str:
    [key] = client.get("/.well-known/jwks.json").json()["keys"]
    return str(key["kid"])


def _sign_with_ours(settings: Settings) -> tuple[str, Signer]:
    """Our live kid and a signer with our *private* key: for claim-check attacks."""
    keys = load_signing_keys(settings)
    return keys.kid, keys.private_key.sign


def _access_header(kid: str) -> dict[str, Any]:
    return {"alg": "EdDSA", "typ": "at+jwt", "kid": kid}


def _mfa_token(client: TestClient, account: Account) -> str:
    response = client.post(
        "/auth/login", json={"username": account.username, "password": account.password}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["mfa_token"])


def _token_grant(client: TestClient, username: str, password: str) -> httpx2.Response:
    return client.post("/token", data={"username": username, "password": password})


def _verify(client: TestClient, mfa_token: str, code: str) -> httpx2.Response:
    return _post_json(client, "/auth/mfa/verify", {"mfa_token": mfa_token, "code": code})


# ---- 1. forged access tokens (RFC 8725, ASVS 4.0.3 3.5.3 / 5.0 9.1.1-9.2.x) ----------


def test_control_a_correctly_minted_token_is_accepted(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    """Harness check: re-signing a real token's claims with our key is accepted, so every
    refusal below is caused by the one defect each forgery introduces."""
    victim = directory.user()
    kid, sign = _sign_with_ours(settings)
    token = _jws(_access_header(kid), _claims_of(victim.tokens["access_token"]), sign)
    response = _me(client, token)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == victim.id


@pytest.mark.parametrize("with_kid", [True, False], ids=["our-kid", "no-kid"])
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_rfc8725_3_1_alg_none_unsigned_token_is_refused(
    client: TestClient, directory: Directory, with_kid: bool, alg: str
) -> None:
    """RFC 8725 §3.1 / ASVS 4.0.3 3.5.3: an unsigned `alg: none` token is never accepted."""
    victim = directory.user()
    header: dict[str, Any] = {"alg": alg, "typ": "at+jwt"}
    if with_kid:
        header["kid"] = _our_kid(client)
    token = _jws(header, _claims_of(victim.tokens["access_token"]), None)
    _assert_not_authenticated(_me(client, token))


@pytest.mark.parametrize("secret_form", ["raw-x-bytes", "x-string", "pem"])
def test_rfc8725_3_1_hs256_signed_with_the_published_public_key_is_refused(
    client: TestClient, directory: Directory, secret_form: str
) -> None:
    """RFC 8725 §2.1/§3.1 algorithm confusion: an HMAC keyed with our *public* key
    (from /.well-known/jwks.json) must not verify."""
    victim = directory.user()
    [jwk] = client.get("/.well-known/jwks.json").json()["keys"]
    raw_public = _b64url_decode(jwk["x"])
    secrets_by_form = {
        "raw-x-bytes": raw_public,
        "x-string": jwk["x"].encode(),
        "pem": jwt.algorithms.OKPAlgorithm.from_jwk(json.dumps(jwk)).public_bytes(  # type: ignore[union-attr]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }
    secret = secrets_by_form[secret_form]

    def sign(data: bytes) -> bytes:
        return hmac.new(secret, data, hashlib.sha256).digest()

    header = {"alg": "HS256", "typ": "at+jwt", "kid": jwk["kid"]}
    token = _jws(header, _claims_of(victim.tokens["access_token"]), sign)
    _assert_not_authenticated(_me(client, token))


def test_rfc7515_tampered_payload_with_an_admin_sub_is_refused(
    client: TestClient, directory: Directory
) -> None:
    """ASVS 4.0.3 3.5.3 / 5.0 9.1.1: changing `sub` to an admin's id, keeping the
    signature, breaks the signature."""
    admin = directory.admin()
    attacker = directory.user()
    header_b64, _, signature_b64 = attacker.tokens["access_token"].split(".")
    claims = {**_claims_of(attacker.tokens["access_token"]), "sub": admin.id}
    token = f"{header_b64}.{_segment(claims)}.{signature_b64}"
    _assert_not_authenticated(_me(client, token))
    # Nor does it open an admin route.
    _assert_not_authenticated(client.get(f"/users/{admin.id}", headers=_bearer(token)))


def test_rfc8725_3_10_unknown_kid_is_refused_even_with_a_valid_signature(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    """RFC 8725 §3.10 / ASVS 5.0 9.1.3: the kid must name one of our keys; a token
    signed with our own key but an unknown kid is refused."""
    victim = directory.user()
    _, sign = _sign_with_ours(settings)
    header = _access_header("attacker-controlled-kid")
    token = _jws(header, _claims_of(victim.tokens["access_token"]), sign)
    _assert_not_authenticated(_me(client, token))
    for hostile_kid in ["../../etc/passwd", "", 0, None, {"kid": "x"}]:
        header = {**_access_header("x"), "kid": hostile_kid}
        forged = _jws(header, _claims_of(victim.tokens["access_token"]), sign)
        _assert_not_authenticated(_me(client, forged))


def test_rfc8725_3_1_token_signed_by_another_ed25519_key_with_our_kid_is_refused(
    client: TestClient, directory: Directory
) -> None:
    """ASVS 5.0 9.1.1: only our key's signature verifies, whatever kid the token names."""
    victim = directory.user()
    attacker_key = Ed25519PrivateKey.generate()
    header = _access_header(_our_kid(client))
    token = _jws(header, _claims_of(victim.tokens["access_token"]), attacker_key.sign)
    _assert_not_authenticated(_me(client, token))


def test_asvs_3_5_3_expired_access_token_is_refused(
    client: TestClient, directory: Directory
) -> None:
    """ASVS 4.0.3 3.5.3 / 5.0 9.2.1: `exp` is enforced."""
    victim = directory.user()
    assert _me(client, victim.tokens["access_token"]).status_code == 200
    directory.clock.advance(int(victim.tokens["expires_in"]))
    _assert_not_authenticated(_me(client, victim.tokens["access_token"]))
    directory.clock.advance(3600)
    _assert_not_authenticated(_me(client, victim.tokens["access_token"]))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"aud": "someone-else"}, id="wrong-aud"),
        pytest.param({"aud": ["someone-else"]}, id="wrong-aud-list"),
        pytest.param({"iss": "https://evil.example"}, id="wrong-iss"),
        pytest.param({"exp": None}, id="missing-exp"),
        pytest.param({"sub": None}, id="missing-sub"),
        pytest.param({"iss": None}, id="missing-iss"),
        pytest.param({"aud": None}, id="missing-aud"),
        pytest.param({"jti": None}, id="missing-jti"),
        pytest.param({"iat": None}, id="missing-iat"),
        pytest.param({"exp": "9999999999"}, id="string-exp"),
        pytest.param({"sub": ["x"]}, id="non-string-sub"),
    ],
)
def test_rfc8725_3_8_3_9_claims_are_checked_even_with_a_valid_signature(
    client: TestClient, directory: Directory, settings: Settings, change: dict[str, Any]
) -> None:
    """RFC 8725 §3.8 (iss), §3.9 (aud), RFC 7519 required claims; ASVS 5.0 9.2.1-9.2.3.
    Signed with our real private key, so only the claim checks can stop these."""
    victim = directory.user()
    kid, sign = _sign_with_ours(settings)
    claims = _claims_of(victim.tokens["access_token"])
    for name, value in change.items():
        if value is None:
            del claims[name]
        else:
            claims[name] = value
    _assert_not_authenticated(_me(client, _jws(_access_header(kid), claims, sign)))


@pytest.mark.parametrize(("ahead", "accepted"), [(10**6, False), (3600, False), (10, True)])
def test_rfc7519_4_1_6_tokens_issued_in_the_future_are_refused(
    client: TestClient, directory: Directory, settings: Settings, ahead: int, accepted: bool
) -> None:
    """RFC 7519 §4.1.6 / RFC 8725 §3.10: an `iat` beyond a small clock-skew leeway was not
    stamped by us; such a token is refused even with a valid signature and expiry. A few
    seconds of skew between containers is tolerated (the control case)."""
    victim = directory.user()
    kid, sign = _sign_with_ours(settings)
    claims = _claims_of(victim.tokens["access_token"])
    claims["iat"] += ahead
    claims["exp"] += ahead
    response = _me(client, _jws(_access_header(kid), claims, sign))
    if accepted:
        assert response.status_code == 200, response.text
    else:
        _assert_not_authenticated(response)


@pytest.mark.parametrize("typ", ["JWT", "mfa+jwt", None])
def test_rfc8725_3_11_explicit_typing_is_enforced(
    client: TestClient, directory: Directory, settings: Settings, typ: str | None
) -> None:
    """RFC 8725 §3.11 / RFC 9068: an access token must carry `typ: at+jwt`."""
    victim = directory.user()
    kid, sign = _sign_with_ours(settings)
    header: dict[str, Any] = {"alg": "EdDSA", "kid": kid}
    if typ is not None:
        header["typ"] = typ
    token = _jws(header, _claims_of(victim.tokens["access_token"]), sign)
    _assert_not_authenticated(_me(client, token))


# ---- 2. token substitution between kinds (RFC 8725 §2.8/§3.12, ASVS 5.0 9.2.2) --------


@pytest.mark.parametrize(("method", "path"), [("GET", "/users/me"), ("POST", "/auth/logout-all")])
def test_rfc8725_3_12_mfa_token_is_not_an_access_token(
    client: TestClient, directory: Directory, method: str, path: str
) -> None:
    """A password-only mfa_token never opens the API (it would bypass the second factor)."""
    account = directory.create()
    before = _stored(account.id)
    mfa_token = _mfa_token(client, account)
    _assert_not_authenticated(client.request(method, path, headers=_bearer(mfa_token)))
    assert _stored(account.id) == before  # logout-all did not bump the token version


def test_rfc8725_3_12_access_token_is_not_an_mfa_token_on_verify(
    client: TestClient, directory: Directory
) -> None:
    """An access token (even with a valid code) cannot stand in for an mfa_token."""
    account = directory.user()
    directory.clock.next_step()
    before = _stored(account.id)
    response = _verify(client, account.tokens["access_token"], directory.code(account))
    _assert_not_authenticated(response)
    assert _stored(account.id) == before  # the code was not consumed, nothing recorded


def test_rfc8725_3_12_access_token_is_not_an_mfa_token_on_setup(
    client: TestClient, directory: Directory
) -> None:
    account = directory.user()
    before = _stored(account.id)
    response = client.post("/auth/mfa/setup", json={"mfa_token": account.tokens["access_token"]})
    _assert_not_authenticated(response)
    after = _stored(account.id)
    assert after == before
    assert after.pending_totp_secret is None


# ---- 3. tokens of deleted and disabled users (ASVS 5.0 7.4.2, 8.3.x) ------------------


def test_asvs_7_4_2_tokens_of_a_deleted_user_are_refused(
    client: TestClient, directory: Directory
) -> None:
    account = directory.user()
    UserItem(user_pk(account.id), USER_SK).delete()
    _assert_not_authenticated(_me(client, account.tokens["access_token"]))
    _assert_not_authenticated(_refresh(client, account.tokens["refresh_token"]))
    assert repository.get_user(account.id) is None  # refresh did not resurrect anything


def test_asvs_7_4_2_tokens_of_a_disabled_user_are_refused(
    client: TestClient, directory: Directory
) -> None:
    account = directory.user()
    UserItem(user_pk(account.id), USER_SK).update(actions=[UserItem.disabled.set(True)])
    _assert_not_authenticated(_me(client, account.tokens["access_token"]))
    _assert_not_authenticated(_refresh(client, account.tokens["refresh_token"]))
    assert _stored(account.id).disabled


# ---- 4. revocation (ASVS 4.0.3 3.3.3 / 5.0 7.4.1, 7.4.2, 6.2.x) ---------------------


def test_asvs_3_3_3_tokens_after_logout_all_are_refused(
    client: TestClient, directory: Directory
) -> None:
    account = directory.user()
    stolen = dict(account.tokens)
    other = dict(directory.sign_in(account).tokens)
    response = client.post("/auth/logout-all", headers=_bearer(other["access_token"]))
    assert response.status_code == 204
    for tokens in (stolen, other):
        _assert_not_authenticated(_me(client, tokens["access_token"]))
        _assert_not_authenticated(_refresh(client, tokens["refresh_token"]))
        _assert_not_authenticated(
            client.post("/auth/logout-all", headers=_bearer(tokens["access_token"]))
        )


def test_asvs_3_3_3_tokens_after_a_password_change_are_refused(
    client: TestClient, directory: Directory
) -> None:
    account = directory.user()
    stolen = dict(account.tokens)
    response = client.post(
        "/users/me/password",
        headers=account.headers,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 200, response.text
    fresh = response.json()
    _assert_not_authenticated(_me(client, stolen["access_token"]))
    _assert_not_authenticated(_refresh(client, stolen["refresh_token"]))
    # The session that changed the password continues with its new tokens.
    assert _me(client, fresh["access_token"]).status_code == 200


# ---- 5. one-time codes (ASVS 4.0.3 2.8.4, 2.8.1, 2.6.1 / 5.0 6.5.1, 6.5.5) ----------


def test_asvs_2_8_4_totp_code_used_at_token_cannot_be_replayed_on_the_two_step_path(
    client: TestClient, directory: Directory
) -> None:
    account = directory.create()
    code = directory.code(account)
    assert _token_grant(client, account.username, PASSWORD + code).status_code == 200
    _assert_invalid_credentials(_verify(client, _mfa_token(client, account), code))
    _assert_invalid_grant(_token_grant(client, account.username, PASSWORD + code))


def test_asvs_2_8_4_totp_code_used_on_the_two_step_path_cannot_be_replayed_at_token(
    client: TestClient, directory: Directory
) -> None:
    account = directory.create()
    code = directory.code(account)
    assert _verify(client, _mfa_token(client, account), code).status_code == 200
    _assert_invalid_grant(_token_grant(client, account.username, PASSWORD + code))
    _assert_invalid_credentials(_verify(client, _mfa_token(client, account), code))


def test_asvs_2_8_1_a_code_two_steps_old_is_refused(
    client: TestClient, directory: Directory
) -> None:
    """ASVS 4.0.3 2.8.1 / 5.0 6.5.5: a code is valid for its step plus one step of drift."""
    account = directory.create()
    stale = directory.code(account)
    directory.clock.next_step()
    directory.clock.next_step()
    # (Skip the ~1e-6 chance that the stale code is also a valid code of a nearby step.)
    assert account.totp_secret is not None
    totp = pyotp.TOTP(account.totp_secret)
    while stale in {totp.at(directory.clock.now() + delta) for delta in (-30, 0, 30)}:
        directory.clock.next_step()
    before = _stored(account.id)
    _assert_invalid_grant(_token_grant(client, account.username, PASSWORD + stale))
    _assert_invalid_credentials(_verify(client, _mfa_token(client, account), stale))
    after = _stored(account.id)
    assert after.totp_last_step == before.totp_last_step


def test_asvs_2_6_1_a_used_recovery_code_is_refused(
    client: TestClient, directory: Directory
) -> None:
    account = directory.create()
    recovery = account.recovery_codes[0]
    assert _verify(client, _mfa_token(client, account), recovery).status_code == 200
    remaining = _stored(account.id).recovery_code_hashes
    assert len(remaining) == len(account.recovery_codes) - 1
    for typed in (recovery, recovery.upper(), recovery.replace("-", "")):
        _assert_invalid_credentials(_verify(client, _mfa_token(client, account), typed))
    assert _stored(account.id).recovery_code_hashes == remaining


# ---- 6. brute force (ASVS 4.0.3 2.2.1 / 5.0 6.1.1, 6.3.1, 6.3.8) ---------------------


def _login_attempt(client: TestClient, username: str) -> tuple[int, Any, dict[str, str]]:
    response = client.post("/auth/login", json={"username": username, "password": WRONG_PASSWORD})
    return response.status_code, response.json(), dict(response.headers)


def test_asvs_2_2_1_five_wrong_passwords_then_429_with_retry_after(
    client: TestClient, directory: Directory
) -> None:
    account = directory.create()
    for _ in range(5):
        status, body, _ = _login_attempt(client, account.username)
        assert (status, body["code"]) == (401, "INVALID_CREDENTIALS")
    response = client.post(
        "/auth/login", json={"username": account.username, "password": WRONG_PASSWORD}
    )
    _assert_error(response, 429, "TOO_MANY_ATTEMPTS")
    assert response.headers["retry-after"].isdigit()
    assert int(response.headers["retry-after"]) >= 1
    # While the wait runs, not even the right password and code get through, and the
    # code is not consumed.
    before = _stored(account.id)
    response = _token_grant(client, account.username, PASSWORD + directory.code(account))
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "TOO_MANY_ATTEMPTS"
    assert response.headers["retry-after"].isdigit()
    assert _stored(account.id).totp_last_step == before.totp_last_step


def test_asvs_5_0_6_3_8_unknown_username_is_throttled_identically(
    client: TestClient, directory: Directory
) -> None:
    """A 429 (or its absence) must not reveal whether an account exists: the same
    statuses, bodies and headers, Retry-After included, for both."""
    account = directory.create()
    known = [_login_attempt(client, account.username) for _ in range(6)]
    unknown = [_login_attempt(client, "no-such-user-anywhere") for _ in range(6)]
    assert [status for status, _, _ in known] == [401] * 5 + [429]
    assert known[-1][1]["code"] == "TOO_MANY_ATTEMPTS"
    assert known[-1][2]["retry-after"].isdigit()
    assert unknown == known


def test_asvs_5_0_6_3_8_unknown_username_is_throttled_identically_at_token(
    client: TestClient, directory: Directory
) -> None:
    account = directory.create()

    def attempts(username: str) -> list[tuple[int, Any, dict[str, str]]]:
        answers = []
        for _ in range(6):
            response = _token_grant(client, username, WRONG_PASSWORD + "123456")
            answers.append((response.status_code, response.json(), dict(response.headers)))
        return answers

    known = attempts(account.username)
    unknown = attempts("no-such-user-at-token")
    assert [status for status, _, _ in known] == [400] * 5 + [429]
    assert unknown == known


# ---- 7. mass assignment and vertical privilege escalation (ASVS 4.0.3 4.1.x, 5.1.2) --


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize(
    "body",
    [
        {"role": "admin"},
        {"disabled": False},
        {"mfa_enabled": False},
        {"id": "x"},
        {"full_name": "Mallory", "role": "admin"},
    ],
    ids=["role", "disabled", "mfa_enabled", "id", "role-with-a-real-field"],
)
def test_asvs_5_1_2_self_promotion_via_users_me_is_422_and_changes_nothing(
    client: TestClient, directory: Directory, method: str, body: dict[str, Any]
) -> None:
    """ASVS 4.0.3 5.1.2 / 5.0 15.3.3 mass assignment."""
    user = directory.user()
    before = _stored(user.id)
    response = client.request(method, "/users/me", headers=user.headers, json=body)
    _assert_error(response, 422, "VALIDATION_ERROR")
    after = _stored(user.id)
    assert after == before
    assert after.role is Role.USER
    assert client.get("/users/me", headers=user.headers).json()["role"] == "user"


def test_asvs_4_1_1_user_cannot_create_users(client: TestClient, directory: Directory) -> None:
    """ASVS 4.0.3 4.1.1 / 4.2.1: admin-only routes refuse other roles with 403."""
    user = directory.user()
    response = client.post(
        "/users",
        headers=user.headers,
        json={
            "username": "sockpuppet",
            "email": "sockpuppet@example.com",
            "password": NEW_PASSWORD,
            "role": "admin",
        },
    )
    _assert_error(response, 403, "FORBIDDEN")
    assert repository.find_for_login("sockpuppet") is None


def test_asvs_4_1_1_user_cannot_call_admin_read(client: TestClient, directory: Directory) -> None:
    user = directory.user()
    other = directory.create()
    _assert_error(client.get(f"/users/{other.id}", headers=user.headers), 403, "FORBIDDEN")


# ---- 8. horizontal access (IDOR: ASVS 4.0.3 4.2.1 / 5.0 8.2.2) -----------------------


def test_asvs_4_2_1_non_admin_cannot_read_another_users_record(
    client: TestClient, directory: Directory
) -> None:
    user = directory.user()
    victim = directory.user()
    _assert_error(client.get(f"/users/{victim.id}", headers=user.headers), 403, "FORBIDDEN")
    # No oracle: a missing id answers exactly like an existing one.
    _assert_error(client.get("/users/does-not-exist", headers=user.headers), 403, "FORBIDDEN")


def test_asvs_4_2_1_anonymous_cannot_read_a_users_record(
    client: TestClient, directory: Directory
) -> None:
    victim = directory.create()
    _assert_not_authenticated(client.get(f"/users/{victim.id}"))
    _assert_not_authenticated(client.get("/users/does-not-exist"))


# ---- 9. refresh-token attacks (RFC 9700 / OAuth BCP §4.14, ASVS 5.0 10.4.x) ---------


def test_rfc9700_4_14_2_refresh_token_reuse_ends_the_chain(
    client: TestClient, directory: Directory
) -> None:
    account = directory.user()
    stolen = account.tokens["refresh_token"]
    rotated = _refresh(client, stolen)
    assert rotated.status_code == 200
    successor = rotated.json()
    assert _me(client, successor["access_token"]).status_code == 200
    _assert_not_authenticated(_refresh(client, stolen))  # the attacker's replay ...
    _assert_not_authenticated(_refresh(client, successor["refresh_token"]))  # ... ends it all
    _assert_not_authenticated(_me(client, successor["access_token"]))
    _assert_not_authenticated(_me(client, account.tokens["access_token"]))


def test_rfc9700_refresh_token_with_another_users_id_prefix_is_refused(
    client: TestClient, directory: Directory
) -> None:
    """The id prefix only locates the token: A's secret under B's id is worthless, and
    the attempt harms neither A's nor B's session."""
    alice = directory.user()
    bob = directory.user()
    _, _, alice_secret = alice.tokens["refresh_token"].partition(".")
    bob_before, alice_before = _stored(bob.id), _stored(alice.id)
    _assert_not_authenticated(_refresh(client, f"{bob.id}.{alice_secret}"))
    _assert_not_authenticated(_refresh(client, f"{alice.id}.{alice.tokens['refresh_token']}"))
    assert (_stored(bob.id), _stored(alice.id)) == (bob_before, alice_before)
    assert _refresh(client, alice.tokens["refresh_token"]).status_code == 200
    assert _refresh(client, bob.tokens["refresh_token"]).status_code == 200


def test_rfc9700_access_token_is_not_a_refresh_token(
    client: TestClient, directory: Directory
) -> None:
    account = directory.user()
    before = _stored(account.id)
    _assert_not_authenticated(_refresh(client, account.tokens["access_token"]))
    assert _stored(account.id) == before
    assert _refresh(client, account.tokens["refresh_token"]).status_code == 200


def test_rfc9700_mfa_token_is_not_a_refresh_token(client: TestClient, directory: Directory) -> None:
    account = directory.create()
    _assert_not_authenticated(_refresh(client, _mfa_token(client, account)))


# ---- 10. oversized and hostile input (ASVS 4.0.3 5.1.x, 13.1.x / 5.0 1.x, 4.x) -------


def test_asvs_13_1_body_over_16_kib_is_413(client: TestClient) -> None:
    body = {"username": "a" * 20_000, "password": "x"}
    response = client.post("/auth/login", json=body)
    _assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    response = client.post("/token", data={"username": "a" * 20_000, "password": "x"})
    _assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_asvs_5_1_4_five_thousand_char_username_at_token_is_invalid_credentials(
    client: TestClient,
) -> None:
    response = _token_grant(client, "a" * 5000, WRONG_PASSWORD + "123456")
    _assert_invalid_grant(response)


HOSTILE_STRINGS = [
    "admin\x00",
    "\x00",
    "a\x00" * 100,
    "\u0430dmin",  # Cyrillic a: a homoglyph of "admin"
    "\uff41\uff44\uff4d\uff49\uff4e",  # fullwidth "admin"
    "\u202eadmin",  # right-to-left override
    "e\u0301\u0301\u0301",  # combining marks
    "😀" * 50,
    "\ud800",  # a lone surrogate: not encodable as UTF-8
    "admin'--",
    '{"$ne": null}',
    "USER#x",
]


def _acceptable_refusal(response: httpx2.Response) -> None:
    if response.request.url.path == "/token":  # RFC 6749 §5.2
        assert response.status_code == 400, response.text
        assert response.json()["error"] in {"invalid_grant", "invalid_request"}, response.text
        return
    assert response.status_code in {401, 422}, response.text
    code = response.json()["code"]
    assert code == {401: "INVALID_CREDENTIALS", 422: "VALIDATION_ERROR"}[response.status_code]


@pytest.mark.parametrize("hostile", HOSTILE_STRINGS)
def test_asvs_5_1_3_hostile_username_and_password_at_login_never_500(
    client: TestClient, directory: Directory, hostile: str
) -> None:
    """NUL bytes, homoglyphs, bidi controls, surrogates: a refusal, never a 500."""
    account = directory.create(username="admin")
    before = _stored(account.id)
    for username, password in [
        (hostile, WRONG_PASSWORD),
        (hostile, PASSWORD),
        (account.username, hostile),
        (account.username, PASSWORD + hostile),
    ]:
        response = _post_json(client, "/auth/login", {"username": username, "password": password})
        _acceptable_refusal(response)
    after = _stored(account.id)
    assert (after.password_hash, after.role, after.token_version) == (
        before.password_hash,
        before.role,
        before.token_version,
    )


@pytest.mark.parametrize("hostile", [s for s in HOSTILE_STRINGS if s != "\ud800"])
def test_asvs_5_1_3_hostile_username_and_password_at_token_never_500(
    client: TestClient, directory: Directory, hostile: str
) -> None:
    account = directory.create(username="admin")
    for username, password in [
        (hostile, WRONG_PASSWORD + "123456"),
        (hostile, PASSWORD + directory.code(account)),
        (account.username, hostile + "123456"),
        (account.username, PASSWORD + hostile),
    ]:
        _acceptable_refusal(_token_grant(client, username, password))


def test_asvs_5_1_3_form_that_is_not_utf8_never_500(client: TestClient) -> None:
    for raw in [b"username=%FF%FE%00&password=%C0%80", b"username=\xff\xfe&password=\xc0\x80"]:
        response = client.post(
            "/token",
            content=raw,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        _acceptable_refusal(response)


@pytest.mark.parametrize("hostile", ["\ud800", "\x00" * 10, "😀" * 30, "a.\ud800"])
def test_asvs_5_1_3_hostile_strings_in_token_fields_never_500(
    client: TestClient, directory: Directory, hostile: str
) -> None:
    """The same for refresh tokens, mfa tokens and codes (401 or 422, never 500)."""
    account = directory.create()
    for response in [
        _refresh(client, hostile),
        _refresh(client, f"{account.id}.{hostile}"),
        _verify(client, hostile, "123456"),
        _verify(client, _mfa_token(client, account), hostile),
        _post_json(client, "/auth/mfa/setup", {"mfa_token": hostile}),
    ]:
        assert response.status_code in {401, 422}, response.text
        assert response.json()["code"] in {
            "NOT_AUTHENTICATED",
            "INVALID_CREDENTIALS",
            "VALIDATION_ERROR",
        }
