"""API docs work offline: every asset comes from the app itself, never a CDN."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from authapi.core import errors
from authapi.core.config import Settings
from authapi.main import create_app
from authapi.users.domain import USERNAME_PATTERN


@pytest.fixture
def plain_client() -> TestClient:
    return TestClient(create_app(Settings.from_env()))


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_only_local_assets(plain_client: TestClient, page: str) -> None:
    response = plain_client.get(page)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", response.text)
    assert urls
    for url in urls:
        assert not re.match(r"(https?:)?//", url), url
        assert plain_client.get(url).status_code == 200, url


def test_redoc_bundle_loads_no_logo_from_a_cdn(plain_client: TestClient) -> None:
    """The bundled ReDoc would fetch the Redocly logo from cdn.redoc.ly (docs.py)."""
    bundle = plain_client.get("/docs-assets/redoc.standalone.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert b"cdn.redoc.ly" not in bundle.content


def test_openapi_declares_the_password_flow_and_error_bodies(plain_client: TestClient) -> None:
    spec = plain_client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "token"
    login_responses = spec["paths"]["/auth/login"]["post"]["responses"]
    assert login_responses["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }


def test_api_responses_are_never_cached(client: TestClient) -> None:
    """RFC 6749 §5.1 / ASVS 5.0 14.3.2: tokens and user data carry Cache-Control: no-store."""
    for response in (
        client.post("/auth/login", json={"username": "nobody", "password": "x"}),
        client.get("/health"),
    ):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"


def test_openapi_states_what_the_server_enforces(plain_client: TestClient) -> None:
    """The document's constraints are the server's (schemathesis checks the rest)."""
    spec = plain_client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    settings = Settings.from_env()
    assert schemas["ErrorOut"]["properties"]["code"]["enum"] == errors.error_codes()
    assert {"INVALID_CREDENTIALS", "METHOD_NOT_ALLOWED", "PAYLOAD_TOO_LARGE"} <= set(
        errors.error_codes()
    )
    password = schemas["UserCreate"]["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (
        settings.password_min_length,
        settings.password_max_length,
    )
    assert schemas["UserCreate"]["properties"]["username"]["pattern"] == USERNAME_PATTERN
    assert schemas["UserCreate"]["properties"]["email"]["format"] == "idn-email"
    token = spec["paths"]["/token"]["post"]["responses"]
    assert set(token) == {"200", "400", "413", "429", "503"}
    assert token["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OAuthErrorOut"
    }
    assert set(spec["paths"]["/users/{user_id}"]["delete"]["responses"]) == {
        "204",
        "401",
        "403",
        "404",
        "409",
        "413",
        "422",
        "503",
    }
