"""Standard OAuth 2 client libraries, unmodified, against a real server (API.md "OAuth 2
conformance"): authlib (its httpx client) and requests-oauthlib (`LegacyApplicationClient`,
the password grant) fetch tokens, refresh them (explicitly and when the token has
expired), revoke them, and raise their own `invalid_grant` error for a wrong password.
Access tokens are checked with joserfc from the JWKS alone: no PyJWT, no shared code."""

from __future__ import annotations

import time
import warnings
from typing import Any

import httpx2
import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import KeySet
from oauthlib.oauth2 import InvalidGrantError, LegacyApplicationClient
from requests_oauthlib import OAuth2Session

from tests.support import PASSWORD, Account, Directory

pytestmark = pytest.mark.usefixtures("base_url")


def verify_with_jwks(base_url: str, access_token: str, directory: Directory) -> dict[str, Any]:
    """What any resource server can do: fetch the JWKS (found through the RFC 8414
    metadata) and check signature, type, issuer, audience and expiry (at the service's
    clock, which the tests move)."""
    settings = directory.settings
    metadata = httpx2.get(f"{base_url}/.well-known/oauth-authorization-server").json()
    keys = KeySet.import_key_set(httpx2.get(metadata["jwks_uri"]).json())
    with warnings.catch_warnings():
        # RFC 9864 names the fully specified "Ed25519" as the successor of "EdDSA", the
        # `alg` these tokens carry (and PyJWT signs); joserfc still verifies it.
        warnings.filterwarnings("ignore", "EdDSA is deprecated", SecurityWarning)
        token = jwt.decode(access_token, keys, algorithms=["EdDSA"])
    assert token.header["typ"] == "at+jwt"
    jwt.JWTClaimsRegistry(
        now=int(directory.clock.now()),
        iss={"essential": True, "value": settings.jwt_issuer},
        aud={"essential": True, "value": settings.jwt_audience},
        sub={"essential": True},
        exp={"essential": True},
    ).validate(token.claims)
    return dict(token.claims)


def _password(directory: Directory, account: Account) -> str:
    directory.clock.next_step()  # a fresh TOTP step: every code works once
    return PASSWORD + directory.code(account)


class TestAuthlib:
    def test_fetch_refresh_revoke(self, base_url: str, directory: Directory) -> None:
        account = directory.create()
        renewed: list[dict[str, Any]] = []
        with OAuth2Client(
            token_endpoint=f"{base_url}/token",
            token_endpoint_auth_method="none",
            update_token=lambda token, **_: renewed.append(token),
        ) as client:
            token = client.fetch_token(
                username=account.username, password=_password(directory, account)
            )
            claims = verify_with_jwks(base_url, token["access_token"], directory)
            assert claims["sub"] == account.id
            assert client.get(f"{base_url}/users/me").json()["id"] == account.id

            refreshed = client.refresh_token()
            assert refreshed["refresh_token"] != token["refresh_token"]
            verify_with_jwks(base_url, refreshed["access_token"], directory)

            # An expired token is refreshed by the library before the request.
            client.token["expires_at"] = int(time.time()) - 1
            assert client.get(f"{base_url}/users/me").status_code == 200
            assert renewed[-1]["refresh_token"] != refreshed["refresh_token"]

            revoked = client.revoke_token(
                f"{base_url}/revoke",
                token=client.token["refresh_token"],
                token_type_hint="refresh_token",
            )
            assert revoked.status_code == 200
            assert client.get(f"{base_url}/users/me").status_code == 401
            with pytest.raises(OAuthError) as refused:
                client.refresh_token()
            assert refused.value.error == "invalid_grant"

    def test_wrong_password_is_the_libraries_invalid_grant(
        self, base_url: str, directory: Directory
    ) -> None:
        account = directory.create()
        with (
            OAuth2Client(token_endpoint_auth_method="none") as client,
            pytest.raises(OAuthError) as refused,
        ):
            client.fetch_token(
                f"{base_url}/token",
                username=account.username,
                password="not the password" + directory.code(account),
            )
        assert refused.value.error == "invalid_grant"
        assert refused.value.description == "Invalid credentials."


@pytest.fixture
def plain_http_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """oauthlib refuses http:// URLs unless told that this is a local test server."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.mark.usefixtures("plain_http_allowed")
class TestRequestsOAuthlib:
    def test_fetch_refresh_revoke(self, base_url: str, directory: Directory) -> None:
        account = directory.create()
        renewed: list[dict[str, Any]] = []
        session = OAuth2Session(
            client=LegacyApplicationClient(client_id="authapi-tests"),
            auto_refresh_url=f"{base_url}/token",
            token_updater=renewed.append,
        )
        with session:
            token = session.fetch_token(
                f"{base_url}/token",
                username=account.username,
                password=_password(directory, account),
            )
            assert verify_with_jwks(base_url, token["access_token"], directory)["sub"] == account.id
            assert session.get(f"{base_url}/users/me").json()["id"] == account.id

            refreshed = session.refresh_token(f"{base_url}/token")
            assert refreshed["refresh_token"] != token["refresh_token"]

            # An expired token is refreshed by the library before the request.
            session.token = {**session.token, "expires_at": time.time() - 1}
            assert session.get(f"{base_url}/users/me").status_code == 200
            assert len(renewed) == 1
            assert renewed[0]["refresh_token"] != refreshed["refresh_token"]

            url, headers, body = session._client.prepare_token_revocation_request(
                f"{base_url}/revoke", session.token["refresh_token"], "refresh_token"
            )
            assert session.post(url, headers=headers, data=body).status_code == 200
            with pytest.raises(InvalidGrantError):
                session.refresh_token(f"{base_url}/token")

    def test_wrong_password_is_the_libraries_invalid_grant(
        self, base_url: str, directory: Directory
    ) -> None:
        account = directory.create()
        session = OAuth2Session(client=LegacyApplicationClient(client_id="authapi-tests"))
        with session, pytest.raises(InvalidGrantError) as refused:
            session.fetch_token(
                f"{base_url}/token",
                username=account.username,
                password="not the password" + directory.code(account),
            )
        assert refused.value.description == "Invalid credentials."
