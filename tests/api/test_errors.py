"""Every error path answers with the contract's body; nothing ever leaks a traceback."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import httpx2
import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.main import create_app
from tests.support import PASSWORD, Directory


def test_health_answers_without_aws() -> None:
    """No moto, no credentials needed: /health never touches AWS."""
    with TestClient(create_app(Settings.from_env())) as client:
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


SECURITY_HEADERS = {"cache-control": "no-store", "x-content-type-options": "nosniff"}


def _assert_security_headers(response: httpx2.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.status_code, name)


def test_asvs_14_3_2_every_error_answer_carries_the_security_headers(
    client: TestClient, directory: Directory, settings: Settings
) -> None:
    """ASVS 5.0 14.3.2 / 3.4.x: error answers made by middleware (413), the router (404,
    405), validation (422) and the domain (401, 429, 503) are not cached or sniffed."""
    account = directory.create()
    answers = {
        404: client.get("/nope"),
        405: client.delete("/health"),
        413: client.post("/auth/login", content=b"x" * (17 * 1024)),
        422: client.post("/auth/login", json={"username": 1}),
        401: client.get("/users/me"),
    }
    for _ in range(5):
        client.post("/auth/login", json={"username": account.username, "password": "wrong!"})
    answers[429] = client.post(
        "/auth/login", json={"username": account.username, "password": "wrong!"}
    )
    boto3.client("dynamodb").delete_table(TableName=settings.table_name)
    answers[503] = client.post("/auth/login", json={"username": "x", "password": "y"})
    for status, response in answers.items():
        assert response.status_code == status, (status, response.text)
        _assert_security_headers(response)


@pytest.mark.parametrize("length", [1025, 4097, 16_000])
def test_huge_password_at_token_is_a_failed_login_not_a_500(
    client: TestClient, directory: Directory, length: int
) -> None:
    """Longer than any password is checked (passwords.MAX_CHECKED_CHARS): still the
    contract's failed login, counted in the budget, never a 500."""
    account = directory.create()
    form = {"username": account.username, "password": "p" * length}
    response = client.post("/token", data=form)
    assert response.status_code == 400, response.text  # RFC 6749 §5.2 invalid_grant
    assert response.json()["code"] == "INVALID_CREDENTIALS"
    # Unknown names too (their dummy verification gets the same input).
    response = client.post("/token", data={"username": "nobody-here", "password": "p" * length})
    assert response.status_code == 400, response.text


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
    _assert_security_headers(response)
