"""AWS calls per request: deterministic budgets, counted at the botocore layer."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.client import BaseClient
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from tests.support import PASSWORD, Clock, Directory


class CallLog:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def clear(self) -> None:
        self.calls.clear()

    @property
    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> CallLog:
    log = CallLog()
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        log.calls.append((operation, params))
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return log


def test_get_me_is_one_consistent_read(
    client: TestClient, directory: Directory, aws_calls: CallLog
) -> None:
    account = directory.user()
    aws_calls.clear()
    assert client.get("/users/me", headers=account.headers).status_code == 200
    assert aws_calls.operations == ["GetItem"]
    assert aws_calls.calls[0][1]["ConsistentRead"] is True


def test_ssm_is_read_once_per_container(
    client: TestClient, directory: Directory, aws_calls: CallLog, settings: Settings
) -> None:
    account = directory.user()
    for _ in range(3):
        client.get("/users/me", headers=account.headers)
        directory.sign_in(account)
    ssm_calls = [params for op, params in aws_calls.calls if op.startswith("GetParameter")]
    # One call, at the first request, fetching every key set the service needs.
    assert len(ssm_calls) == 1
    assert set(ssm_calls[0]["Names"]) == {
        settings.signing_keys_parameter,
        settings.totp_keys_parameter,
    }


def test_login_reads_at_most_two_items(
    client: TestClient, directory: Directory, aws_calls: CallLog
) -> None:
    """Login by username = username claim + user: two consistent reads, no Query/Scan."""
    account = directory.create()
    client.post("/auth/login", json={"username": "warm-up", "password": PASSWORD})
    aws_calls.clear()
    response = client.post(
        "/token",
        data={"username": account.username, "password": PASSWORD + directory.code(account)},
    )
    assert response.status_code == 200
    reads = [op for op in aws_calls.operations if op in {"GetItem", "Query", "Scan"}]
    assert reads == ["GetItem", "GetItem"]
    # Writes its controls need: the attempt reserved in the failure budget before any
    # check (ASVS 5.0 6.3.1 under concurrency), one transaction with the TOTP step claim
    # (single use), the session, its refresh token and the budget refill, then the audit
    # event (once the session exists).
    writes = [op for op in aws_calls.operations if op not in {"GetItem", "GetParameters"}]
    assert writes == ["UpdateItem", "TransactWriteItems", "PutItem"]
    [transaction] = [params for op, params in aws_calls.calls if op == "TransactWriteItems"]
    kinds = [next(iter(action)) for action in transaction["TransactItems"]]
    assert kinds == ["Put", "Put", "Update"], kinds


def test_two_step_sign_in_call_budget(
    client: TestClient, directory: Directory, aws_calls: CallLog
) -> None:
    """Step one reserves an attempt and gives it back (the password was right); step two
    reserves one, then spends the code and the mfa_token and refills the budget in the
    session transaction."""
    account = directory.create()
    client.post("/auth/login", json={"username": "warm-up", "password": PASSWORD})
    aws_calls.clear()
    challenge = client.post(
        "/auth/login", json={"username": account.username, "password": PASSWORD}
    )
    assert challenge.status_code == 200
    assert aws_calls.operations == ["GetItem", "GetItem", "UpdateItem", "UpdateItem"]
    aws_calls.clear()
    verify = client.post(
        "/auth/mfa/verify",
        json={"mfa_token": challenge.json()["mfa_token"], "code": directory.code(account)},
    )
    assert verify.status_code == 200
    assert aws_calls.operations == ["GetItem", "UpdateItem", "TransactWriteItems", "PutItem"]
    [transaction] = [params for op, params in aws_calls.calls if op == "TransactWriteItems"]
    kinds = [next(iter(action)) for action in transaction["TransactItems"]]
    assert kinds == ["Put", "Put", "Put", "Update"], kinds  # session, refresh, mfa_token, user


def test_no_scan_anywhere_in_a_full_flow(
    client: TestClient, directory: Directory, aws_calls: CallLog
) -> None:
    admin = directory.admin()
    created = client.post(
        "/users",
        headers=admin.headers,
        json={"username": "carol", "email": "carol@example.com", "password": PASSWORD},
    )
    client.get(f"/users/{created.json()['id']}", headers=admin.headers)
    client.patch("/users/me", headers=admin.headers, json={"email": "boss@example.com"})
    client.post("/auth/refresh", json={"refresh_token": admin.tokens["refresh_token"]})
    client.post("/auth/logout-all", headers=admin.headers)
    assert aws_calls.operations
    assert "Scan" not in aws_calls.operations


@pytest.mark.parametrize("username", ["nobody-here", "Not A Valid Name!"])
def test_unknown_username_costs_the_same_reads_as_a_known_one(
    client: TestClient, directory: Directory, aws_calls: CallLog, username: str
) -> None:
    """ASVS 5.0 6.3.8: the database round trips of a login do not reveal whether the
    account exists (the password hash cost is equalised separately, see BENCHMARKS.md)."""
    account = directory.create()
    client.post("/auth/login", json={"username": "warm-up", "password": PASSWORD})

    def reads_for(name: str, password: str) -> list[str]:
        aws_calls.clear()
        response = client.post("/auth/login", json={"username": name, "password": password})
        assert response.status_code == 401
        return aws_calls.operations

    assert reads_for(username, PASSWORD) == reads_for(account.username, "wrong password!!")
    # The claim, then the user (or the unknown name's budget); then the failure recorded
    # in the budget and in the audit trail.
    assert reads_for(username, PASSWORD) == ["GetItem", "GetItem", "UpdateItem", "PutItem"]


def test_key_sets_are_refreshed_rarely_and_kept_when_ssm_fails(
    aws: None, settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warm containers pick up a rotated key set within REFRESH_SECONDS, and an SSM
    outage during a refresh keeps the container serving with the keys it has."""
    from botocore.exceptions import EndpointConnectionError

    from authapi.core import aws as aws_clients
    from authapi.core.secrets import REFRESH_SECONDS, secret_store

    calls: list[str] = []
    real_client = aws_clients.client

    def counting_client(service: str, region: str) -> Any:
        calls.append(service)
        return real_client(service, region)

    monkeypatch.setattr(aws_clients, "client", counting_client)
    store = secret_store(settings)
    first = store.get(settings.signing_keys_parameter)
    clock.advance(REFRESH_SECONDS - 1)
    assert store.get(settings.signing_keys_parameter) == first
    assert calls == ["ssm"]
    clock.advance(2)
    store.get(settings.signing_keys_parameter)
    assert calls == ["ssm", "ssm"]

    def unreachable(service: str, region: str) -> Any:
        raise EndpointConnectionError(endpoint_url="https://ssm.invalid")

    monkeypatch.setattr(aws_clients, "client", unreachable)
    clock.advance(REFRESH_SECONDS)
    assert store.get(settings.signing_keys_parameter) == first


def test_container_init_prepares_clients_and_keys(
    aws: None, settings: Settings, aws_calls: CallLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cold start: what every request needs is made during Lambda's init, so the first
    request pays for none of it; an SSM failure at init does not fail the init."""
    from authapi import warmup
    from authapi.core import secrets
    from authapi.core.errors import ServiceUnavailable

    secrets.reset_cache()
    warmup.prepare_container(settings)
    assert [op for op, _ in aws_calls.calls] == ["GetParameters"]
    # The keys are cached: the first request asks SSM nothing.
    aws_calls.clear()
    secrets.secret_store(settings).get(settings.totp_keys_parameter)
    assert aws_calls.calls == []

    def unavailable(*_: object) -> Any:
        raise ServiceUnavailable()

    secrets.reset_cache()
    monkeypatch.setattr(secrets.SecretStore, "_fetch", unavailable)
    warmup.prepare_container(settings)  # logs, does not raise


def test_passwordless_sign_in_reads_two_items(
    client: TestClient, directory: Directory, aws_calls: CallLog
) -> None:
    """A passkey alone: the credential record (owner, public key, counter) and the user,
    then the same writes as a TOTP sign-in: the attempt reserved first, the challenge
    spent (one conditional write, before the signature is checked), one transaction
    (session, refresh token, budget refill, the counter and last use), the audit event."""
    from tests.api.test_passkeys import add_passkey, passwordless_options

    account = directory.user()
    authenticator = add_passkey(client, account)
    options, token = passwordless_options(client)
    aws_calls.clear()
    response = client.post(
        "/auth/passkey/verify",
        json={"passkey_token": token, "credential": authenticator.get(options)},
    )
    assert response.status_code == 200, response.text
    assert aws_calls.operations == [
        "GetItem",
        "GetItem",
        "UpdateItem",
        "UpdateItem",
        "TransactWriteItems",
        "PutItem",
    ]
    [transaction] = [params for op, params in aws_calls.calls if op == "TransactWriteItems"]
    kinds = [next(iter(action)) for action in transaction["TransactItems"]]
    assert kinds == ["Put", "Put", "Update", "Update", "Update"], kinds
