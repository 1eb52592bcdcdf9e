"""The login paths, probed the way users and attackers use them."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

import boto3
import pyotp
import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.users import repository
from tests.support import PASSWORD, Account, Directory

INVALID = {"detail": "Invalid credentials.", "code": "INVALID_CREDENTIALS"}
# /token answers in RFC 6749 §5.2's shape, with the same detail and code.
GRANT_INVALID = {"error": "invalid_grant", "error_description": "Invalid credentials.", **INVALID}


def _token(client: TestClient, username: str, password: str) -> tuple[int, dict[str, object]]:
    response = client.post("/token", data={"username": username, "password": password})
    return response.status_code, response.json()


def _challenge(client: TestClient, username: str) -> dict[str, Any]:
    """Step one of the two-step login with the right password."""
    response = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _enroll(client: TestClient, directory: Directory, username: str) -> Account:
    """First login of a user created without TOTP: setup + confirm."""
    challenge = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert challenge.status_code == 200
    assert challenge.json()["mfa"] == "setup"
    mfa_token = challenge.json()["mfa_token"]
    setup = client.post("/auth/mfa/setup", json={"mfa_token": mfa_token})
    assert setup.status_code == 200
    secret = setup.json()["secret"]
    code = pyotp.TOTP(secret).at(directory.clock.now())
    confirm = client.post("/auth/mfa/setup/confirm", json={"mfa_token": mfa_token, "code": code})
    assert confirm.status_code == 200, confirm.text
    body = confirm.json()
    user = repository.find_for_login(username)
    assert user is not None
    return Account(user.id, username, PASSWORD, secret, body["recovery_codes"], body)


class TestPasswordGrant:
    def test_password_followed_by_code_returns_the_contract_tokens(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create()
        status, body = _token(client, account.username, PASSWORD + directory.code(account))
        assert status == 200
        assert set(body) == {
            "access_token",
            "token_type",
            "expires_in",
            "refresh_token",
            "refresh_expires_in",
        }
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 900
        me = client.get("/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200
        assert me.json()["id"] == account.id

    def test_username_is_case_insensitive(self, client: TestClient, directory: Directory) -> None:
        account = directory.create()
        status, _ = _token(client, account.username.upper(), PASSWORD + directory.code(account))
        assert status == 200

    def test_password_without_code_never_issues_a_token(
        self, client: TestClient, directory: Directory
    ) -> None:
        """Contract: /token never issues a token without a verified TOTP code."""
        account = directory.create()
        status, body = _token(client, account.username, PASSWORD)
        assert (status, body) == (400, GRANT_INVALID)

    def test_wrong_code_is_refused(self, client: TestClient, directory: Directory) -> None:
        account = directory.create()
        wrong = f"{(int(directory.code(account)) + 1) % 1_000_000:06d}"
        status, body = _token(client, account.username, PASSWORD + wrong)
        assert (status, body) == (400, GRANT_INVALID)

    def test_asvs_2_8_4_a_code_is_single_use(
        self, client: TestClient, directory: Directory
    ) -> None:
        """ASVS 2.8.4 / RFC 6238 §5.2: a TOTP code cannot be replayed, not even on the
        other login path, and not the previous step's code either."""
        account = directory.create()
        code = directory.code(account)
        assert _token(client, account.username, PASSWORD + code)[0] == 200
        assert _token(client, account.username, PASSWORD + code) == (400, GRANT_INVALID)
        challenge = _challenge(client, account.username)
        replay = client.post(
            "/auth/mfa/verify", json={"mfa_token": challenge["mfa_token"], "code": code}
        )
        assert replay.status_code == 401
        assert replay.json() == INVALID
        # The next step's code works: single use is per step, not a lockout.
        directory.clock.next_step()
        assert _token(client, account.username, PASSWORD + directory.code(account))[0] == 200

    def test_one_step_of_clock_drift_is_tolerated_but_not_two(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create()
        assert account.totp_secret is not None
        totp = pyotp.TOTP(account.totp_secret)
        two_steps_ahead = totp.at(directory.clock.now() + 60)
        assert _token(client, account.username, PASSWORD + two_steps_ahead) == (
            400,
            GRANT_INVALID,
        )
        one_step_behind = totp.at(directory.clock.now() - 30)
        assert _token(client, account.username, PASSWORD + one_step_behind)[0] == 200

    def test_user_without_totp_is_told_to_enroll_only_after_a_correct_password(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create(enrolled=False)
        status, body = _token(client, account.username, PASSWORD + "123456")
        assert status == 400
        assert (body["error"], body["code"]) == ("invalid_grant", "MFA_SETUP_REQUIRED")
        status, body = _token(client, account.username, "wrong password 123456")
        assert (status, body) == (400, GRANT_INVALID)

    def test_password_longer_than_bcrypt_limit_gets_a_normal_answer(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create()
        status, body = _token(client, account.username, "é" * 100 + directory.code(account))
        assert (status, body) == (400, GRANT_INVALID)


class TestNoUserEnumeration:
    """OWASP Authentication Cheat Sheet, ASVS 5.0 6.3.8: every failed login looks the same."""

    @pytest.mark.parametrize("path", ["/token", "/auth/login"])
    def test_unknown_user_wrong_password_and_disabled_user_answer_identically(
        self, client: TestClient, directory: Directory, path: str
    ) -> None:
        known = directory.create()
        disabled = directory.create()
        _disable(disabled.id)

        def attempt(username: str, password: str) -> tuple[int, dict[str, object], str | None]:
            if path == "/token":
                response = client.post(
                    path, data={"username": username, "password": password + "123456"}
                )
            else:
                response = client.post(path, json={"username": username, "password": password})
            return (
                response.status_code,
                response.json(),
                response.headers.get("www-authenticate"),
            )

        answers = [
            attempt("nobody-here", PASSWORD),
            attempt("Not A Valid Name!", PASSWORD),
            attempt(known.username, "wrong password!!"),
            attempt(disabled.username, PASSWORD),
        ]
        if path == "/token":  # RFC 6749 §5.2: 400 invalid_grant, no WWW-Authenticate
            assert answers == [(400, GRANT_INVALID, None)] * 4
        else:
            assert answers == [(401, INVALID, "Bearer")] * 4


def _disable(user_id: str) -> None:
    from authapi.users.models import USER_SK, UserItem, user_pk

    UserItem(user_pk(user_id), USER_SK).update(actions=[UserItem.disabled.set(True)])


class TestTwoStepLogin:
    def test_first_login_enrolls_totp_and_returns_recovery_codes_once(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create(enrolled=False)
        enrolled = _enroll(client, directory, account.username)
        assert len(enrolled.recovery_codes) == 10
        assert len(set(enrolled.recovery_codes)) == 10
        stored = repository.get_user(account.id)
        assert stored is not None
        assert stored.mfa_enabled
        # Stored hashed only: no recovery code appears in the stored record.
        assert not set(enrolled.recovery_codes) & stored.recovery_code_hashes
        assert stored.pending_totp_secret is None
        # From now on the user signs in with password + code, on both paths.
        directory.clock.next_step()
        assert _token(client, account.username, PASSWORD + directory.code(enrolled))[0] == 200
        directory.clock.next_step()
        directory.sign_in(enrolled)

    def test_setup_returns_a_scannable_secret(
        self, client: TestClient, directory: Directory
    ) -> None:
        """RFC 4226 §4: at least 128 (we use 160) bits of secret; standard app parameters."""
        account = directory.create(enrolled=False)
        challenge = _challenge(client, account.username)
        setup = client.post("/auth/mfa/setup", json={"mfa_token": challenge["mfa_token"]}).json()
        assert set(setup) == {"secret", "otpauth_uri", "qr_svg"}
        assert len(setup["secret"]) * 5 >= 160
        parsed = pyotp.parse_uri(setup["otpauth_uri"])
        assert parsed.secret == setup["secret"]
        assert parsed.issuer == "AuthAPI"
        assert parsed.digits == 6
        assert isinstance(parsed, pyotp.TOTP)
        assert parsed.interval == 30
        # A standalone SVG document (decoded from a rendering in tests/browser/test_qr_code.py).
        svg = ElementTree.fromstring(setup["qr_svg"])  # noqa: S314 - our own server's output
        assert svg.tag == "{http://www.w3.org/2000/svg}svg"
        assert svg.get("viewBox") == f"0 0 {svg.get('width')} {svg.get('height')}"

    def test_confirm_with_a_wrong_code_does_not_enable_totp(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create(enrolled=False)
        challenge = _challenge(client, account.username)
        client.post("/auth/mfa/setup", json={"mfa_token": challenge["mfa_token"]})
        confirm = client.post(
            "/auth/mfa/setup/confirm",
            json={"mfa_token": challenge["mfa_token"], "code": "000000"},
        )
        assert confirm.status_code == 401
        stored = repository.get_user(account.id)
        assert stored is not None
        assert not stored.mfa_enabled

    def test_enrolled_user_cannot_restart_setup(
        self, client: TestClient, directory: Directory
    ) -> None:
        """A stolen password alone must not be enough to replace the user's authenticator."""
        account = directory.create()
        before = repository.get_user(account.id)
        challenge = _challenge(client, account.username)
        assert challenge["mfa"] == "totp"
        setup = client.post("/auth/mfa/setup", json={"mfa_token": challenge["mfa_token"]})
        assert setup.status_code == 401
        stored = repository.get_user(account.id)
        assert stored is not None
        assert before is not None
        assert stored.totp_secret == before.totp_secret
        assert stored.pending_totp_secret is None

    def test_asvs_2_6_recovery_code_works_once(
        self, client: TestClient, directory: Directory
    ) -> None:
        """ASVS 2.6.1-2.6.3: a recovery code replaces the TOTP code exactly once."""
        account = directory.create()
        code = account.recovery_codes[0]

        def verify(recovery_code: str) -> int:
            challenge = _challenge(client, account.username)
            return client.post(
                "/auth/mfa/verify",
                json={"mfa_token": challenge["mfa_token"], "code": recovery_code},
            ).status_code

        assert verify(code.upper().replace("-", " ")) == 200
        assert verify(code) == 401
        assert verify(account.recovery_codes[1]) == 200

    def test_mfa_token_is_not_an_access_token_and_vice_versa(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create()
        challenge = _challenge(client, account.username)
        as_access = client.get(
            "/users/me", headers={"Authorization": f"Bearer {challenge['mfa_token']}"}
        )
        assert as_access.status_code == 401
        assert as_access.json()["code"] == "NOT_AUTHENTICATED"
        signed_in = directory.sign_in(account)
        as_mfa = client.post(
            "/auth/mfa/verify",
            json={"mfa_token": signed_in.tokens["access_token"], "code": directory.code(account)},
        )
        assert as_mfa.status_code == 401
        assert as_mfa.json()["code"] == "NOT_AUTHENTICATED"

    def test_mfa_token_expires_within_five_minutes(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create()
        challenge = _challenge(client, account.username)
        assert 0 < challenge["expires_in"] <= 300
        directory.clock.advance(301)
        late = client.post(
            "/auth/mfa/verify",
            json={"mfa_token": challenge["mfa_token"], "code": directory.code(account)},
        )
        assert late.status_code == 401
        assert late.json()["code"] == "NOT_AUTHENTICATED"


def test_legacy_bcrypt_hash_is_upgraded_to_argon2id_at_login(
    client: TestClient, directory: Directory
) -> None:
    """A bcrypt hash (e.g. imported from the tutorial) works once more, then is argon2id."""
    import bcrypt

    from authapi.users.models import USER_SK, UserItem, user_pk

    account = directory.create()
    legacy = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    UserItem(user_pk(account.id), USER_SK).update(actions=[UserItem.password_hash.set(legacy)])
    status, _ = _token(client, account.username, PASSWORD + directory.code(account))
    assert status == 200
    stored = repository.get_user(account.id)
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    directory.sign_in(account)


def test_asvs_2_8_2_a_table_dump_reveals_no_usable_totp_secret(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    """ASVS 2.8.2 / 5.0 13.3.1: TOTP secrets are stored encrypted (AES-256-GCM)."""
    account = directory.create(enrolled=False)
    enrolled = _enroll(client, directory, account.username)
    pending = directory.create(enrolled=False)
    challenge = _challenge(client, pending.username)
    pending_secret = client.post(
        "/auth/mfa/setup", json={"mfa_token": challenge["mfa_token"]}
    ).json()["secret"]
    dump = json.dumps(boto3.client("dynamodb").scan(TableName=settings.table_name)["Items"])
    for secret in (enrolled.totp_secret, pending_secret):
        assert secret is not None
        assert secret not in dump
        assert secret.lower() not in dump.lower()
