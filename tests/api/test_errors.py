"""Every error path answers with the contract's body; nothing ever leaks a traceback."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.main import create_app
from tests.support import PASSWORD, Directory


def test_health_answers_without_aws() -> None:
    """No moto, no credentials needed: /health never touches AWS."""
    with TestClient(create_app()) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("path", "kwargs", "field"),
    [
        ("/auth/login", {"json": {"username": "alice"}}, "password"),
        (
            "/auth/login",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            "",
        ),
        ("/auth/login", {"json": ["a", "list"]}, ""),
        ("/auth/mfa/verify", {"json": {"mfa_token": "x", "code": "1" * 65}}, "code"),
        ("/auth/refresh", {"json": {}}, "refresh_token"),
    ],
)
def test_malformed_requests_are_422_with_the_contract_body(
    client: TestClient, path: str, kwargs: dict[str, object], field: str
) -> None:
    response = client.post(path, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "VALIDATION_ERROR"
    assert field in body["detail"]


def test_body_over_16_kib_is_413(client: TestClient) -> None:
    response = client.post("/auth/login", json={"username": "alice", "password": "x" * (17 * 1024)})
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is too large.",
        "code": "PAYLOAD_TOO_LARGE",
    }


def test_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 1024

    response = client.post(
        "/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_unknown_route_and_wrong_method(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"
    wrong = client.delete("/health")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer not.a.jwt", "Basic YWxpY2U6c2VjcmV0", "Bearer " + "a" * 5000]
)
def test_bad_authorization_headers_are_401(client: TestClient, header: str) -> None:
    response = client.get("/users/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated.", "code": "NOT_AUTHENTICATED"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_dynamodb_down_is_503_with_retry_after(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    admin = directory.admin()
    boto3.client("dynamodb").delete_table(TableName=settings.table_name)
    response = client.get("/users/me", headers=admin.headers)
    assert response.status_code == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert response.headers["retry-after"].isdigit()
    login = client.post("/auth/login", json={"username": admin.username, "password": PASSWORD})
    assert login.status_code == 503


def test_missing_signing_key_is_503_and_recovers(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    """SSM trouble is a 503, not a 500, and nothing is cached until SSM answers."""
    ssm = boto3.client("ssm")
    key = ssm.get_parameter(Name=settings.signing_keys_parameter, WithDecryption=True)
    ssm.delete_parameter(Name=settings.signing_keys_parameter)
    account = directory.create()
    login = client.post("/auth/login", json={"username": account.username, "password": PASSWORD})
    assert login.status_code == 503
    assert login.json()["code"] == "SERVICE_UNAVAILABLE"
    ssm.put_parameter(
        Name=settings.signing_keys_parameter,
        Value=key["Parameter"]["Value"],
        Type="SecureString",
    )
    login = client.post("/auth/login", json={"username": account.username, "password": PASSWORD})
    assert login.status_code == 200


def test_unexpected_errors_are_a_bare_500(
    client: TestClient, directory: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = directory.user()

    def explode(*_: object) -> None:
        raise RuntimeError("secret internals: table=authapi-test key=abc")

    monkeypatch.setattr("authapi.users.service.update_profile", explode)
    response = client.patch("/users/me", headers=account.headers, json={"full_name": "x"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal error.", "code": "INTERNAL_ERROR"}
    assert "secret internals" not in response.text
