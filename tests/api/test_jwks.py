"""Another service verifies our access tokens with the JWKS alone (RFC 7517, ASVS 5.0 9.1.x)."""

from __future__ import annotations

from typing import Any

import boto3
import jwt
import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.security.keys import ACTIVATION_DELAY_SECONDS
from infra.secrets import rotate
from tests.support import Directory


class AppJWKClient(jwt.PyJWKClient):
    """pyjwt's JWKS client, fetching from the app instead of a URL."""

    def __init__(self, client: TestClient) -> None:
        super().__init__("http://testserver/.well-known/jwks.json", cache_jwk_set=False)
        self._client = client

    def fetch_data(self) -> Any:
        return self._client.get("/.well-known/jwks.json").json()


def _verify(client: TestClient, token: str, settings: Settings) -> dict[str, Any]:
    key = AppJWKClient(client).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["EdDSA"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        # The service clock is the tests' (it runs minutes ahead of real time here).
        leeway=3600,
    )
    return claims


def test_jwks_publishes_only_public_ed25519_keys(client: TestClient) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    [key] = response.json()["keys"]
    assert key["kty"] == "OKP"
    assert key["crv"] == "Ed25519"
    assert key["alg"] == "EdDSA"
    assert key["use"] == "sig"
    assert "d" not in key  # the private part


def test_another_service_verifies_an_access_token_with_the_jwks_alone(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    account = directory.user()
    claims = _verify(client, account.tokens["access_token"], settings)
    assert claims["sub"] == account.id


def test_after_rotation_new_tokens_use_the_new_key_and_old_ones_still_verify(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    """Rotation by adding a key: warm containers pick it up by themselves, it signs once
    every container can verify it, and older keys verify until their tokens expire."""
    account = directory.user()
    old_token = account.tokens["access_token"]
    rotate(boto3.client("ssm"), "test", "signing")
    # No restart: the SecretStore refreshes on its own, and the new key takes over
    # after the activation delay.
    directory.clock.advance(ACTIVATION_DELAY_SECONDS + 1)
    new_token = directory.sign_in(account).tokens["access_token"]
    assert (
        jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    )
    assert len(client.get("/.well-known/jwks.json").json()["keys"]) == 2
    for token in (old_token, new_token):
        assert _verify(client, token, settings)["sub"] == account.id
        assert (
            client.get("/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )


def test_mfa_token_does_not_verify_as_an_access_token_elsewhere(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    account = directory.create()
    mfa_token = client.post(
        "/auth/login", json={"username": account.username, "password": account.password}
    ).json()["mfa_token"]
    with pytest.raises(jwt.InvalidAudienceError):
        _verify(client, mfa_token, settings)
