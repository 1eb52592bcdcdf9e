"""The signed-in user's credentials: password change and recovery-code regeneration."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import PASSWORD, Directory

NEW_PASSWORD = "a brand new passphrase for bob"


def _me(client: TestClient, access_token: str) -> int:
    return client.get("/users/me", headers={"Authorization": f"Bearer {access_token}"}).status_code


def _change(
    client: TestClient, headers: dict[str, str], current: str, new: str
) -> tuple[int, dict[str, object]]:
    response = client.post(
        "/users/me/password",
        headers=headers,
        json={"current_password": current, "new_password": new},
    )
    return response.status_code, response.json()


class TestPasswordChange:
    def test_asvs_2_1_5_change_ends_every_other_session(
        self, client: TestClient, directory: Directory
    ) -> None:
        """ASVS 2.1.5 / 5.0 6.2.2 and 7.4.3: needs the current password, returns fresh
        tokens, and every token issued before stops working at once."""
        account = directory.user()
        laptop = dict(account.tokens)
        phone = directory.sign_in(account).tokens
        status, body = _change(client, account.headers, PASSWORD, NEW_PASSWORD)
        assert status == 200
        assert set(body) >= {"access_token", "refresh_token", "expires_in"}
        for old in (laptop, phone):
            assert _me(client, old["access_token"]) == 401
            refresh = client.post("/auth/refresh", json={"refresh_token": old["refresh_token"]})
            assert refresh.status_code == 401
        assert _me(client, str(body["access_token"])) == 200
        # The new password signs in, the old one no longer does.
        assert (
            client.post(
                "/auth/login", json={"username": account.username, "password": PASSWORD}
            ).status_code
            == 401
        )
        account.password = NEW_PASSWORD
        directory.sign_in(account)

    def test_wrong_current_password_changes_nothing(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.user()
        status, body = _change(client, account.headers, "not my password", NEW_PASSWORD)
        assert (status, body["code"]) == (401, "INVALID_CREDENTIALS")
        assert _me(client, account.tokens["access_token"]) == 200
        directory.sign_in(account)  # still the old password

    def test_new_password_must_meet_the_policy(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.user()
        for weak in ("short", f"{account.username}-and-more-text", "password1234"):
            status, body = _change(client, account.headers, PASSWORD, weak)
            assert (status, body["code"]) == (422, "VALIDATION_ERROR")
            assert "password" in str(body["detail"])
        assert _me(client, account.tokens["access_token"]) == 200

    def test_a_stolen_access_token_cannot_grind_the_password(
        self, client: TestClient, directory: Directory
    ) -> None:
        """NIST 5.2.2: wrong current passwords spend the account's failure budget."""
        account = directory.user()
        for _ in range(5):
            assert _change(client, account.headers, "guess", NEW_PASSWORD)[0] == 401
        status, body = _change(client, account.headers, "guess", NEW_PASSWORD)
        assert (status, body["code"]) == (429, "TOO_MANY_ATTEMPTS")

    def test_requires_an_access_token(self, client: TestClient) -> None:
        assert _change(client, {}, PASSWORD, NEW_PASSWORD)[0] == 401


class TestRecoveryCodeRegeneration:
    def _regenerate(
        self, client: TestClient, headers: dict[str, str], password: str, code: str
    ) -> tuple[int, dict[str, object]]:
        response = client.post(
            "/users/me/mfa/recovery-codes",
            headers=headers,
            json={"password": password, "code": code},
        )
        return response.status_code, response.json()

    def _verify_with(self, client: TestClient, username: str, code: str) -> int:
        mfa_token = client.post(
            "/auth/login", json={"username": username, "password": PASSWORD}
        ).json()["mfa_token"]
        return client.post(
            "/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code}
        ).status_code

    def test_asvs_2_6_new_set_replaces_the_old_one(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.user()
        directory.clock.next_step()
        status, body = self._regenerate(client, account.headers, PASSWORD, directory.code(account))
        assert status == 200
        fresh = body["recovery_codes"]
        assert isinstance(fresh, list)
        assert len(fresh) == 10
        assert not set(fresh) & set(account.recovery_codes)
        assert self._verify_with(client, account.username, account.recovery_codes[0]) == 401
        assert self._verify_with(client, account.username, fresh[0]) == 200

    def test_needs_the_password_and_an_unused_code(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.user()
        directory.clock.next_step()
        code = directory.code(account)
        assert self._regenerate(client, account.headers, "not my password", code)[0] == 401
        assert self._regenerate(client, account.headers, PASSWORD, "000000")[0] == 401
        assert self._regenerate(client, account.headers, PASSWORD, code)[0] == 200
        # The same code again is a replay.
        assert self._regenerate(client, account.headers, PASSWORD, code)[0] == 401
        # The one successful regeneration retired the original codes.
        assert self._verify_with(client, account.username, account.recovery_codes[0]) == 401
