"""OAuth 2 conformance (API.md "OAuth 2 conformance"): /token speaks RFC 6749 (password
and refresh-token grants, §5.2 errors, no-cache headers), /revoke is RFC 7009 and the
metadata is RFC 8414. Standard clients are driven against a real server in
tests/clients; these tests pin the wire format."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from authapi.core import errors
from authapi.core.config import Settings
from tests.support import PASSWORD, Account, Directory


def _password_grant(directory: Directory, account: Account, **extra: str) -> dict[str, str]:
    return {"username": account.username, "password": PASSWORD + directory.code(account), **extra}


def _oauth_error(response: Any, status: int, error: str, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "error_description", "detail", "code"}, body
    assert (body["error"], body["code"]) == (error, code), body
    assert body["error_description"] == body["detail"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    return body


class TestTokenEndpoint:
    @pytest.mark.parametrize("grant_type", [None, "password"])
    def test_password_grant_with_or_without_grant_type(
        self, client: TestClient, directory: Directory, grant_type: str | None
    ) -> None:
        account = directory.create()
        extra = {"grant_type": grant_type} if grant_type else {}
        response = client.post("/token", data=_password_grant(directory, account, **extra))
        assert response.status_code == 200, response.text
        assert response.json()["token_type"] == "bearer"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"

    def test_client_credentials_and_scope_are_ignored(
        self, client: TestClient, directory: Directory
    ) -> None:
        """What requests-oauthlib and Swagger UI send along: Basic auth with an empty
        secret, client_id and an empty scope in the body."""
        account = directory.create()
        form = _password_grant(directory, account, client_id="my-app", scope="")
        response = client.post("/token", data=form, auth=("my-app", ""))
        assert response.status_code == 200, response.text

    def test_refresh_grant_rotates_and_a_reused_token_ends_the_session(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create()
        first = client.post("/token", data=_password_grant(directory, account)).json()
        form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        second = client.post("/token", data=form)
        assert second.status_code == 200, second.text
        assert second.headers["pragma"] == "no-cache"
        rotated = second.json()
        assert rotated["refresh_token"] != first["refresh_token"]
        headers = {"Authorization": f"Bearer {rotated['access_token']}"}
        assert client.get("/users/me", headers=headers).status_code == 200
        # The used one again: theft. invalid_grant, and the whole session ends.
        _oauth_error(client.post("/token", data=form), 400, "invalid_grant", "NOT_AUTHENTICATED")
        assert client.get("/users/me", headers=headers).status_code == 401
        again = {"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]}
        _oauth_error(client.post("/token", data=again), 400, "invalid_grant", "NOT_AUTHENTICATED")

    def test_refresh_grant_and_auth_refresh_share_one_chain(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.sign_in(directory.create())
        form = {"grant_type": "refresh_token", "refresh_token": account.tokens["refresh_token"]}
        assert client.post("/token", data=form).status_code == 200
        reused = client.post(
            "/auth/refresh", json={"refresh_token": account.tokens["refresh_token"]}
        )
        assert reused.status_code == 401  # /auth/refresh keeps its own statuses
        assert reused.json()["code"] == "NOT_AUTHENTICATED"

    @pytest.mark.parametrize(
        "refresh_token", ["garbage", "no-such-user.secret", "a.b.c", "x" * 300 + ".y"]
    )
    def test_a_bad_refresh_token_is_invalid_grant(
        self, client: TestClient, refresh_token: str
    ) -> None:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        _oauth_error(client.post("/token", data=form), 400, "invalid_grant", "NOT_AUTHENTICATED")

    def test_an_expired_refresh_token_is_invalid_grant(
        self, client: TestClient, directory: Directory, settings: Settings
    ) -> None:
        account = directory.sign_in(directory.create())
        directory.clock.advance(settings.refresh_token_ttl_seconds + 1)
        form = {"grant_type": "refresh_token", "refresh_token": account.tokens["refresh_token"]}
        _oauth_error(client.post("/token", data=form), 400, "invalid_grant", "NOT_AUTHENTICATED")

    def test_wrong_credentials_are_invalid_grant(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create()
        form = {"username": account.username, "password": "wrong password" + "123456"}
        body = _oauth_error(
            client.post("/token", data=form), 400, "invalid_grant", "INVALID_CREDENTIALS"
        )
        assert body["detail"] == errors.InvalidCredentials.detail

    def test_a_user_who_must_enroll_first_is_invalid_grant(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create(enrolled=False)
        form = {"username": account.username, "password": PASSWORD + "123456"}
        _oauth_error(client.post("/token", data=form), 400, "invalid_grant", "MFA_SETUP_REQUIRED")

    @pytest.mark.parametrize(
        "form",
        [
            {},
            {"username": "alice"},
            {"grant_type": "password", "password": "x"},
            {"grant_type": "refresh_token"},
            {"grant_type": "refresh_token", "refresh_token": "x" * 4097},
        ],
    )
    def test_missing_or_malformed_parameters_are_invalid_request(
        self, client: TestClient, form: dict[str, str]
    ) -> None:
        _oauth_error(client.post("/token", data=form), 400, "invalid_request", "VALIDATION_ERROR")

    def test_a_json_body_is_invalid_request(self, client: TestClient) -> None:
        response = client.post("/token", json={"username": "alice", "password": "x"})
        _oauth_error(response, 400, "invalid_request", "VALIDATION_ERROR")

    @pytest.mark.parametrize("grant_type", ["client_credentials", "authorization_code", "x"])
    def test_an_unknown_grant_is_unsupported_grant_type(
        self, client: TestClient, grant_type: str
    ) -> None:
        form = {"grant_type": grant_type, "username": "alice", "password": "x"}
        _oauth_error(
            client.post("/token", data=form), 400, "unsupported_grant_type", "VALIDATION_ERROR"
        )

    def test_a_spent_failure_budget_is_429_with_retry_after(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.create()
        form = {"username": account.username, "password": "wrong password 123456"}
        answers = [client.post("/token", data=form) for _ in range(6)]
        assert [answer.status_code for answer in answers[:5]] == [400] * 5
        body = _oauth_error(answers[5], 429, "temporarily_unavailable", "TOO_MANY_ATTEMPTS")
        assert int(answers[5].headers["retry-after"]) > 0
        assert "try again" in body["detail"]

    def test_other_endpoints_keep_their_statuses(self, client: TestClient) -> None:
        """Only /token changed: the two-step login still answers 401 and 422."""
        wrong = client.post("/auth/login", json={"username": "nobody", "password": "x"})
        assert wrong.status_code == 401
        assert set(wrong.json()) == {"detail", "code"}
        assert client.post("/auth/login", json={}).status_code == 422


class TestRevocation:
    def test_revoking_a_refresh_token_ends_its_session(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.sign_in(directory.create())
        directory.clock.next_step()  # a fresh code for the second session
        other = client.post("/token", data=_password_grant(directory, account)).json()
        response = client.post(
            "/revoke",
            data={"token": account.tokens["refresh_token"], "token_type_hint": "refresh_token"},
        )
        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["pragma"] == "no-cache"
        assert client.get("/users/me", headers=account.headers).status_code == 401
        form = {"grant_type": "refresh_token", "refresh_token": account.tokens["refresh_token"]}
        assert client.post("/token", data=form).status_code == 400
        # Only that session: the user's other session goes on.
        other_headers = {"Authorization": f"Bearer {other['access_token']}"}
        assert client.get("/users/me", headers=other_headers).status_code == 200

    def test_revoking_an_access_token_ends_its_session(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.sign_in(directory.create())
        response = client.post("/revoke", data={"token": account.tokens["access_token"]})
        assert response.status_code == 200
        assert client.get("/users/me", headers=account.headers).status_code == 401
        form = {"grant_type": "refresh_token", "refresh_token": account.tokens["refresh_token"]}
        assert client.post("/token", data=form).status_code == 400

    @pytest.mark.parametrize(
        "token", ["garbage", "no-such-user.secret", "a.b.c", "x" * 300 + ".y", "é" * 10]
    )
    def test_any_other_token_is_answered_200(self, client: TestClient, token: str) -> None:
        response = client.post("/revoke", data={"token": token, "token_type_hint": "whatever"})
        assert response.status_code == 200

    def test_a_revoked_token_revoked_again_is_200(
        self, client: TestClient, directory: Directory
    ) -> None:
        account = directory.sign_in(directory.create())
        for _ in range(2):
            response = client.post("/revoke", data={"token": account.tokens["refresh_token"]})
            assert response.status_code == 200

    def test_a_missing_token_is_invalid_request(self, client: TestClient) -> None:
        _oauth_error(client.post("/revoke", data={}), 400, "invalid_request", "VALIDATION_ERROR")


def test_authorization_server_metadata(client: TestClient) -> None:
    response = client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    metadata = response.json()
    issuer = "http://testserver"
    assert metadata == {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/token",
        "revocation_endpoint": f"{issuer}/revoke",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "grant_types_supported": ["password", "refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "service_documentation": f"{issuer}/docs",
    }
    for url in (metadata["jwks_uri"], metadata["service_documentation"]):
        assert client.get(url).status_code == 200


def test_metadata_follows_the_host_the_client_used(client: TestClient) -> None:
    """Behind API Gateway the base URL is the gateway's (Host and X-Forwarded-Proto, which
    Mangum turns into the request's scheme and server)."""
    response = client.get(
        "/.well-known/oauth-authorization-server",
        headers={"Host": "abc123.execute-api.eu-west-1.amazonaws.com"},
    )
    assert response.json()["issuer"] == "http://abc123.execute-api.eu-west-1.amazonaws.com"
