"""Passkeys (WebAuthn) through the API, with a software authenticator
(tests/passkey_authenticator.py): registration, the second factor, passwordless
sign-in, and every way an answer can be wrong, with what is and is not stored.

Requirements met: ASVS 5.0 6.5.x / 6.6 (phishing-resistant authenticators, single-use
challenges), NIST SP 800-63B 5.1.8 and 5.1.9 (multi-factor cryptographic
authenticators: origin-bound, replay-resistant, user verification), 5.2.5 (verifier
impersonation resistance), 5.2.2 (failure budget).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.main import create_app
from authapi.security.throttle import MFA_TOKEN_FAILURES
from tests.passkey_authenticator import ORIGIN, SoftAuthenticator
from tests.support import PASSWORD, Account, Directory, table_items

INVALID = {"detail": "Invalid credentials.", "code": "INVALID_CREDENTIALS"}


def registration_options(client: TestClient, account: Account) -> dict[str, Any]:
    response = client.post(
        "/users/me/passkeys/options", headers=account.headers, json={"password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()["publicKey"]
    return options


def add_passkey(
    client: TestClient, account: Account, name: str | None = "Laptop"
) -> SoftAuthenticator:
    authenticator = SoftAuthenticator()
    credential = authenticator.create(registration_options(client, account))
    response = client.post(
        "/users/me/passkeys",
        headers=account.headers,
        json={"credential": credential, **({"name": name} if name else {})},
    )
    assert response.status_code == 201, response.text
    return authenticator


def passwordless_options(client: TestClient) -> tuple[dict[str, Any], str]:
    response = client.post("/auth/passkey/options", json={})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["publicKey"], body["passkey_token"]


def passwordless(client: TestClient, authenticator: SoftAuthenticator, **knobs: Any) -> Any:
    options, token = passwordless_options(client)
    return client.post(
        "/auth/passkey/verify",
        json={"passkey_token": token, "credential": authenticator.get(options, **knobs)},
    )


def mfa_token(client: TestClient, account: Account) -> str:
    response = client.post("/auth/login", json={"username": account.username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["mfa_token"]
    return token


def mfa_options(client: TestClient, token: str) -> dict[str, Any]:
    response = client.post("/auth/mfa/passkey/options", json={"mfa_token": token})
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()["publicKey"]
    return options


def audit_types(account: Account, admin: Account, client: TestClient) -> list[str]:
    events = client.get(f"/audit-events?user_id={account.id}", headers=admin.headers).json()
    return [event["type"] for event in events["items"]]


def items_with(settings: Settings, prefix: str) -> list[dict[str, Any]]:
    return [
        item
        for item in table_items(settings.table_name)
        if item["pk"]["S"].startswith(prefix) or item["sk"]["S"].startswith(prefix)
    ]


class TestRegistration:
    def test_options_need_the_password_and_require_a_discoverable_verified_passkey(
        self, client: TestClient, directory: Directory
    ) -> None:
        """ASVS 5.0 6.2.3 (re-authentication for a new authenticator); NIST 800-63B
        5.1.9.1 (user verification). A wrong password counts in the failure budget."""
        account = directory.user()
        wrong = client.post(
            "/users/me/passkeys/options", headers=account.headers, json={"password": "nope"}
        )
        assert (wrong.status_code, wrong.json()) == (401, INVALID)
        first = add_passkey(client, account)
        options = registration_options(client, account)
        assert options["authenticatorSelection"]["residentKey"] == "required"
        assert options["authenticatorSelection"]["userVerification"] == "required"
        assert options["rp"]["id"] == "testserver"
        assert options["timeout"] <= 300_000
        assert [c["id"] for c in options["excludeCredentials"]] == [first.id]

    def test_a_registered_passkey_is_listed_and_stored_as_two_items(
        self, client: TestClient, directory: Directory, settings: Settings
    ) -> None:
        """ASVS 5.0 6.5.x: the credential under its user and its lookup, the AAGUID
        kept; the login step then offers the passkey."""
        account = directory.user()
        authenticator = add_passkey(client, account, name="Work laptop")
        listed = client.get("/users/me/passkeys", headers=account.headers).json()["items"]
        assert [(p["id"], p["name"], p["last_used_at"]) for p in listed] == [
            (authenticator.passkey_id, "Work laptop", None)
        ]
        assert set(listed[0]) == {"id", "name", "created_at", "last_used_at"}
        stored = {(i["pk"]["S"], i["sk"]["S"]) for i in items_with(settings, "PASSKEY#")}
        key = f"PASSKEY#{authenticator.passkey_id}"
        assert stored == {(f"USER#{account.id}", key), (key, "LOOKUP")}
        [user_side] = [i for i in items_with(settings, "PASSKEY#") if i["sk"]["S"] == key]
        assert user_side["aaguid"]["S"] == "01234567-89ab-cdef-0123-456789abcdef"
        methods = client.post(
            "/auth/login", json={"username": account.username, "password": PASSWORD}
        ).json()["methods"]
        assert methods == ["totp", "passkey", "recovery_code"]

    def test_self_attestation_is_accepted(self, client: TestClient, directory: Directory) -> None:
        """WebAuthn §8.2 "packed" self attestation (no certificate), as some keys send."""
        account = directory.user()
        authenticator = SoftAuthenticator()
        credential = authenticator.create(
            registration_options(client, account), self_attestation=True
        )
        response = client.post(
            "/users/me/passkeys", headers=account.headers, json={"credential": credential}
        )
        assert response.status_code == 201, response.text
        assert response.json()["name"] == "Passkey"

    @pytest.mark.parametrize(
        "knobs",
        [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}, {"uv": False}],
        ids=["wrong-origin", "wrong-rp-id", "no-uv"],
    )
    def test_a_wrong_answer_registers_nothing(
        self, client: TestClient, directory: Directory, settings: Settings, knobs: Any
    ) -> None:
        """NIST 800-63B 5.2.5 (origin and RP ID binding) and 5.1.9.1 (UV) at
        registration: nothing stored."""
        account = directory.user()
        credential = SoftAuthenticator().create(registration_options(client, account), **knobs)
        response = client.post(
            "/users/me/passkeys", headers=account.headers, json={"credential": credential}
        )
        assert response.status_code == 422
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert not [i for i in items_with(settings, "PASSKEY#")]

    def test_a_registration_challenge_works_once_and_for_its_user_only(
        self, client: TestClient, directory: Directory
    ) -> None:
        """ASVS 5.0 6.6.x: challenges are single use and bound to whom they were issued."""
        alice, bob = directory.user(), directory.user()
        options = registration_options(client, alice)
        stolen = client.post(
            "/users/me/passkeys",
            headers=bob.headers,
            json={"credential": SoftAuthenticator().create(options)},
        )
        assert stolen.status_code == 422
        authenticator = SoftAuthenticator()
        body = {"credential": authenticator.create(options)}
        assert (
            client.post("/users/me/passkeys", headers=alice.headers, json=body).status_code == 201
        )
        # The same answer again: the challenge is spent.
        replay = client.post("/users/me/passkeys", headers=alice.headers, json=body)
        assert replay.status_code == 422
        other = {"credential": SoftAuthenticator().create(options)}
        assert (
            client.post("/users/me/passkeys", headers=alice.headers, json=other).status_code == 422
        )

    def test_an_expired_registration_challenge_is_refused(
        self, client: TestClient, directory: Directory
    ) -> None:
        """ASVS 5.0 6.6.x: a challenge lives at most 5 minutes."""
        account = directory.user()
        options = registration_options(client, account)
        directory.clock.advance(301)
        credential = SoftAuthenticator().create(options)
        response = client.post(
            "/users/me/passkeys", headers=account.headers, json={"credential": credential}
        )
        assert response.status_code == 422

    def test_a_credential_registers_once_across_all_users(
        self, client: TestClient, directory: Directory
    ) -> None:
        """One credential id, one owner: the lookup item is put with attribute_not_exists."""
        alice, bob = directory.user(), directory.user()
        authenticator = add_passkey(client, alice)
        again = authenticator.create(registration_options(client, bob))
        response = client.post(
            "/users/me/passkeys", headers=bob.headers, json={"credential": again}
        )
        assert response.status_code == 409
        assert response.json()["code"] == "CONFLICT"
        assert client.get("/users/me/passkeys", headers=bob.headers).json()["items"] == []

    def test_rename_and_remove(
        self, client: TestClient, directory: Directory, settings: Settings
    ) -> None:
        """ASVS 5.0 6.4.x: users manage their own authenticators, and only their own."""
        alice, bob = directory.user(), directory.user()
        authenticator = add_passkey(client, alice)
        path = f"/users/me/passkeys/{authenticator.passkey_id}"
        renamed = client.patch(path, headers=alice.headers, json={"name": "Phone"})
        assert (renamed.status_code, renamed.json()["name"]) == (200, "Phone")
        # Another user's passkey is not theirs to see or remove.
        assert client.delete(path, headers=bob.headers).status_code == 404
        assert client.delete(path, headers=alice.headers).status_code == 204
        assert client.delete(path, headers=alice.headers).status_code == 404
        assert items_with(settings, "PASSKEY#") == []
        methods = client.post(
            "/auth/login", json={"username": alice.username, "password": PASSWORD}
        ).json()["methods"]
        assert "passkey" not in methods


class TestPasswordless:
    def test_a_passkey_alone_signs_in_with_the_session_transaction(
        self, client: TestClient, directory: Directory
    ) -> None:
        """NIST 800-63B 5.1.9: a multi-factor cryptographic authenticator (possession
        and user verification) is enough on its own; the session is a normal one."""
        admin = directory.admin()
        account = directory.user()
        authenticator = add_passkey(client, account)
        response = passwordless(client, authenticator)
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert set(tokens) >= {"access_token", "refresh_token", "expires_in"}
        me = client.get("/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.json()["id"] == account.id
        refreshed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        listed = client.get("/users/me/passkeys", headers=account.headers).json()["items"]
        assert listed[0]["last_used_at"] is not None
        events = client.get(f"/audit-events?user_id={account.id}", headers=admin.headers).json()
        [success] = [e for e in events["items"] if e["type"] == "login_succeeded"][:1]
        assert success["detail"]["factor"] == "passwordless_passkey"
        assert "passkey_registered" in audit_types(account, admin, client)

    @pytest.mark.parametrize(
        "knobs",
        [
            {"origin": "https://evil.example"},
            {"rp_id": "evil.example"},
            {"uv": False},
            {"tamper": True},
        ],
        ids=["wrong-origin", "wrong-rp-id", "no-uv", "tampered-signature"],
    )
    def test_a_wrong_assertion_is_refused_and_counted(
        self, client: TestClient, directory: Directory, knobs: Any
    ) -> None:
        """NIST 800-63B 5.2.5 (origin binding), 5.1.9.1 (UV), 5.2.2 (counted)."""
        admin = directory.admin()
        account = directory.user()
        authenticator = add_passkey(client, account)
        response = passwordless(client, authenticator, **knobs)
        assert (response.status_code, response.json()) == (401, INVALID)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        events = client.get(f"/audit-events?user_id={account.id}", headers=admin.headers).json()
        failed = [e for e in events["items"] if e["type"] == "login_failed"]
        assert failed[0]["detail"]["factor"] == "passwordless_passkey"
        # Counted: five failures later the sixth attempt is throttled unchecked.
        for _ in range(4):
            assert passwordless(client, authenticator, **knobs).status_code == 401
        assert passwordless(client, authenticator).status_code == 429

    def test_a_sign_in_refills_the_failure_budget(
        self, client: TestClient, directory: Directory, settings: Settings
    ) -> None:
        """NIST 800-63B 5.2.2: the same session transaction as a TOTP sign-in, which
        refills the budget the failures before it spent."""
        account = directory.user()
        authenticator = add_passkey(client, account)
        for _ in range(3):
            assert passwordless(client, authenticator, uv=False).status_code == 401

        def failures() -> Any:
            key = {"pk": {"S": f"USER#{account.id}"}, "sk": {"S": "USER"}}
            user = boto3.client("dynamodb").get_item(TableName=settings.table_name, Key=key)
            return user["Item"].get("login_failures", {}).get("N")

        assert failures() == "3"
        assert passwordless(client, authenticator).status_code == 200
        assert failures() is None

    def test_a_challenge_works_once(self, client: TestClient, directory: Directory) -> None:
        """ASVS 5.0 6.6.x / NIST 800-63B 5.2.8: replay resistance."""
        account = directory.user()
        authenticator = add_passkey(client, account)
        options, token = passwordless_options(client)
        body = {"passkey_token": token, "credential": authenticator.get(options)}
        assert client.post("/auth/passkey/verify", json=body).status_code == 200
        body = {"passkey_token": token, "credential": authenticator.get(options)}
        replay = client.post("/auth/passkey/verify", json=body)
        assert (replay.status_code, replay.json()) == (401, INVALID)

    def test_a_challenge_needs_its_passkey_token(
        self, client: TestClient, directory: Directory
    ) -> None:
        """ASVS 5.0 6.6.x: a challenge is bound to whom it was issued."""
        account = directory.user()
        authenticator = add_passkey(client, account)
        options, _ = passwordless_options(client)
        _, other_token = passwordless_options(client)
        body = {"passkey_token": other_token, "credential": authenticator.get(options)}
        assert client.post("/auth/passkey/verify", json=body).status_code == 401

    def test_an_expired_challenge_is_refused(
        self, client: TestClient, directory: Directory
    ) -> None:
        """ASVS 5.0 6.6.x / NIST 800-63B 5.2.8: a challenge lives at most 5 minutes."""
        account = directory.user()
        authenticator = add_passkey(client, account)
        options, token = passwordless_options(client)
        directory.clock.advance(301)
        body = {"passkey_token": token, "credential": authenticator.get(options)}
        assert client.post("/auth/passkey/verify", json=body).status_code == 401

    def test_unknown_and_deleted_credentials_are_refused(
        self, client: TestClient, directory: Directory, settings: Settings
    ) -> None:
        """NIST 800-63B 6.1.2.2: a removed authenticator stops working at once."""
        account = directory.user()
        assert passwordless(client, SoftAuthenticator()).status_code == 401
        authenticator = add_passkey(client, account)
        path = f"/users/me/passkeys/{authenticator.passkey_id}"
        assert client.delete(path, headers=account.headers).status_code == 204
        response = passwordless(client, authenticator)
        assert (response.status_code, response.json()) == (401, INVALID)
        sessions = [i for i in items_with(settings, "SESSION#") if account.id in i["pk"]["S"]]
        assert len(sessions) == 1  # the TOTP sign-in's only

    def test_a_counter_that_does_not_move_on_is_refused_and_audited(
        self, client: TestClient, directory: Directory
    ) -> None:
        """A cloned authenticator (WebAuthn §6.1.1): the counter of a credential that
        counts must increase; the refusal is a security event."""
        admin = directory.admin()
        account = directory.user()
        authenticator = add_passkey(client, account)
        assert passwordless(client, authenticator, sign_count=7).status_code == 200
        assert passwordless(client, authenticator, sign_count=7).status_code == 401
        assert passwordless(client, authenticator, sign_count=3).status_code == 401
        assert "passkey_counter_regressed" in audit_types(account, admin, client)
        assert passwordless(client, authenticator, sign_count=8).status_code == 200

    def test_a_disabled_user_is_refused(self, client: TestClient, directory: Directory) -> None:
        """ASVS 5.0 7.4.2: a disabled account signs in with no factor."""
        admin = directory.admin()
        account = directory.user()
        authenticator = add_passkey(client, account)
        client.patch(f"/users/{account.id}", headers=admin.headers, json={"disabled": True})
        response = passwordless(client, authenticator)
        assert (response.status_code, response.json()) == (401, INVALID)


class TestSecondFactor:
    def test_password_then_passkey(self, client: TestClient, directory: Directory) -> None:
        """NIST 800-63B 4.2: password plus a cryptographic authenticator (AAL2)."""
        admin = directory.admin()
        account = directory.user()
        authenticator = add_passkey(client, account)
        token = mfa_token(client, account)
        options = mfa_options(client, token)
        assert [c["id"] for c in options["allowCredentials"]] == [authenticator.id]
        response = client.post(
            "/auth/mfa/verify",
            json={"mfa_token": token, "credential": authenticator.get(options)},
        )
        assert response.status_code == 200, response.text
        events = client.get(f"/audit-events?user_id={account.id}", headers=admin.headers).json()
        [success] = [e for e in events["items"] if e["type"] == "login_succeeded"][:1]
        assert success["detail"]["factor"] == "passkey"
        # One mfa_token, one session.
        again = mfa_options(client, token)
        second = client.post(
            "/auth/mfa/verify", json={"mfa_token": token, "credential": authenticator.get(again)}
        )
        assert second.status_code == 401

    def test_an_mfa_token_has_its_own_small_budget_for_passkeys_too(
        self, client: TestClient, directory: Directory
    ) -> None:
        """ASVS 5.0 6.3.1: the same per-token budget as TOTP codes."""
        account = directory.user()
        authenticator = add_passkey(client, account)
        token = mfa_token(client, account)
        for _ in range(MFA_TOKEN_FAILURES):
            options = mfa_options(client, token)
            bad = authenticator.get(options, origin="https://evil.example")
            answer = client.post("/auth/mfa/verify", json={"mfa_token": token, "credential": bad})
            assert answer.status_code == 401
        spent = client.post("/auth/mfa/passkey/options", json={"mfa_token": token})
        assert (spent.status_code, spent.json()["code"]) == (401, "NOT_AUTHENTICATED")

    def test_another_users_credential_is_refused(
        self, client: TestClient, directory: Directory
    ) -> None:
        """NIST 800-63B 4.2.1: the second factor must be bound to the same subscriber."""
        alice, bob = directory.user(), directory.user()
        add_passkey(client, alice)
        bobs = add_passkey(client, bob)
        token = mfa_token(client, alice)
        options = mfa_options(client, token)
        response = client.post(
            "/auth/mfa/verify", json={"mfa_token": token, "credential": bobs.get(options)}
        )
        assert (response.status_code, response.json()) == (401, INVALID)

    def test_a_passwordless_challenge_is_no_second_factor_challenge(
        self, client: TestClient, directory: Directory
    ) -> None:
        """ASVS 5.0 6.6.x: a challenge works only for the purpose it was issued for."""
        account = directory.user()
        authenticator = add_passkey(client, account)
        token = mfa_token(client, account)
        options, _ = passwordless_options(client)
        response = client.post(
            "/auth/mfa/verify", json={"mfa_token": token, "credential": authenticator.get(options)}
        )
        assert response.status_code == 401

    def test_code_and_credential_are_exclusive(
        self, client: TestClient, directory: Directory
    ) -> None:
        """One factor per step: a code or a passkey, never both, never none (422)."""
        account = directory.user()
        token = mfa_token(client, account)
        both = client.post(
            "/auth/mfa/verify", json={"mfa_token": token, "code": "123456", "credential": {}}
        )
        assert both.status_code == 422
        assert client.post("/auth/mfa/verify", json={"mfa_token": token}).status_code == 422

    def test_malformed_credentials_are_refused_never_a_500(
        self, client: TestClient, directory: Directory
    ) -> None:
        """ASVS 5.0 1.x / the contract: no request, however malformed, gets a 500."""
        account = directory.user()
        known = add_passkey(client, account).id
        garbage: list[dict[str, Any]] = [
            {},
            {"rawId": "!!"},
            {"rawId": "AAAA", "response": "x"},
            {"rawId": known, "response": "x"},
            {"rawId": known, "response": {"userHandle": 5, "clientDataJSON": 7}},
            {
                "rawId": known,
                "id": known,
                "type": "public-key",
                "response": {"clientDataJSON": "e30"},
            },
        ]
        for credential in garbage:
            body = {"credential": credential}
            response = client.post("/users/me/passkeys", headers=account.headers, json=body)
            assert response.status_code == 422, response.text
        for credential in garbage:
            directory.clock.advance(3600)  # the budget forgets: each case is checked
            token = mfa_token(client, account)
            response = client.post(
                "/auth/mfa/verify", json={"mfa_token": token, "credential": credential}
            )
            assert response.status_code == 401, response.text
            _, passkey_token = passwordless_options(client)
            response = client.post(
                "/auth/passkey/verify",
                json={"passkey_token": passkey_token, "credential": credential},
            )
            assert response.status_code == 401, response.text


class TestAdministration:
    def test_admin_lists_and_removes_a_users_passkeys(
        self, client: TestClient, directory: Directory, settings: Settings
    ) -> None:
        """ASVS 5.0 6.4.x: an admin can revoke a lost authenticator; audited (ASVS 5.0 16.3)."""
        admin = directory.admin()
        account = directory.user()
        authenticator = add_passkey(client, account)
        listed = client.get(f"/users/{account.id}/passkeys", headers=admin.headers)
        assert [p["id"] for p in listed.json()["items"]] == [authenticator.passkey_id]
        assert (
            client.get(f"/users/{account.id}/passkeys", headers=account.headers).status_code == 403
        )
        assert client.get("/users/nobody/passkeys", headers=admin.headers).status_code == 404
        path = f"/users/{account.id}/passkeys/{authenticator.passkey_id}"
        assert client.delete(path, headers=admin.headers).status_code == 204
        assert client.delete(path, headers=admin.headers).status_code == 404
        assert items_with(settings, "PASSKEY#") == []
        assert "passkey_removed" in audit_types(account, admin, client)

    def test_mfa_reset_and_user_deletion_remove_passkeys_and_lookups(
        self, client: TestClient, directory: Directory, settings: Settings
    ) -> None:
        """NIST 800-63B 6.1.2.2: reset and deletion leave no usable authenticator and
        no orphaned lookup."""
        admin = directory.admin()
        reset, deleted = directory.user(), directory.user()
        reset_key = add_passkey(client, reset)
        add_passkey(client, reset)
        add_passkey(client, deleted)
        assert client.post(f"/users/{reset.id}/mfa/reset", headers=admin.headers).status_code == 204
        assert client.delete(f"/users/{deleted.id}", headers=admin.headers).status_code == 204
        assert items_with(settings, "PASSKEY#") == []
        assert passwordless(client, reset_key).status_code == 401
        challenge = client.post(
            "/auth/login", json={"username": reset.username, "password": PASSWORD}
        ).json()
        assert (challenge["mfa"], challenge["methods"]) == ("setup", [])


def test_the_configured_relying_party_wins_over_the_host(
    directory: Directory, settings: Settings
) -> None:
    """WEBAUTHN_RP_ID / WEBAUTHN_ORIGINS: e.g. a custom domain in front of the API."""
    account = directory.user()
    configured = replace(
        settings, webauthn_rp_id="example.com", webauthn_origins=("https://login.example.com",)
    )
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        options = registration_options(client, account)
        assert options["rp"]["id"] == "example.com"
        authenticator = SoftAuthenticator()
        at_host = authenticator.create(options, origin=ORIGIN)
        # The API's own origin is not configured: refused.
        body = {"credential": at_host}
        refused = client.post("/users/me/passkeys", headers=account.headers, json=body)
        assert refused.status_code == 422
        options = registration_options(client, account)
        good = {"credential": authenticator.create(options, origin="https://login.example.com")}
        response = client.post("/users/me/passkeys", headers=account.headers, json=good)
        assert response.status_code == 201
