"""Faults: DynamoDB and SSM throttled, failing or unreachable.

The contract (/work/shared/API.md): 503 SERVICE_UNAVAILABLE with Retry-After when
DynamoDB or SSM are throttled or down, nothing half-written, and the service recovers
by itself once they answer again.

How faults are injected: `botocore.endpoint.Endpoint._do_get_response` (one HTTP
attempt) is wrapped, so a fault replaces the HTTP exchange itself and everything above
it is real: botocore's response parsing, its "standard" retry mode with its retry quota
and back-off, pynamodb's error wrapping, the app's error mapping. Error kinds:

- throttle:   HTTP 400 ProvisionedThroughputExceededException (DynamoDB) /
              ThrottlingException (SSM), as the services send them
- internal:   HTTP 500 InternalServerError
- timeout:    botocore.exceptions.ReadTimeoutError
- connection: botocore.exceptions.EndpointConnectionError
- lost:       the request reaches moto and is applied, then ReadTimeoutError (the
              answer was lost): botocore retries a write that already happened

Every attempt is recorded (service, operation, botocore's invocation id, attempt number),
which is how the retry bound is measured. Back-off sleeps are recorded instead of slept
(`botocore.endpoint.time` is replaced for the test), so the delays botocore computes are
checked too and the suite stays fast.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
import botocore.endpoint
import httpx2
import pyotp
import pytest
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.endpoint import Endpoint, convert_to_response_dict
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from fastapi.testclient import TestClient

from authapi.core import secrets
from authapi.core.config import Settings
from authapi.core.secrets import REFRESH_SECONDS
from authapi.users.domain import Role
from tests.support import PASSWORD, Account, Clock, Directory

KINDS = ("throttle", "internal", "timeout", "connection")
# The SecretStore maps every botocore error alike; the full cold-start matrix runs with an
# error answer and an exception, test_cold_start_while_ssm_is_down_then_back with all four.
SSM_KINDS = ("throttle", "timeout")
# botocore "standard" mode, as configured by authapi.core.aws (SSM) and db.TableItem.Meta
# (DynamoDB, max_retry_attempts=2): the first attempt and two retries.
MAX_ATTEMPTS = 3
NEW_PASSWORD = "an entirely different passphrase 42"

_ERROR_BODIES: dict[tuple[str, str], tuple[int, str, str]] = {
    ("dynamodb", "throttle"): (
        400,
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    ("dynamodb", "internal"): (
        500,
        "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "Internal server error",
    ),
    ("ssm", "throttle"): (400, "ThrottlingException", "Rate exceeded"),
    ("ssm", "internal"): (500, "InternalServerError", "Internal server error"),
}


# ---- the fault injector ------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    service: str
    operation: str
    invocation: str
    number: int
    failed: bool


@dataclass
class Fault:
    kind: str
    service: str | None = None  # None: every service
    operations: frozenset[str] | None = None  # None: every operation
    after: str | None = None  # only once this operation has succeeded since arming
    calls: int | None = None  # how many API calls fail (None: all that match)
    attempts: int | None = None  # how many attempts of a failing call fail (None: all)
    after_seen: bool = False
    failing: set[str] = field(default_factory=set)  # invocation ids chosen to fail

    def matches(self, service: str, operation: str) -> bool:
        return (self.service is None or self.service == service) and (
            self.operations is None or operation in self.operations
        )


class _RecordedSleep:
    """Stands in for the `time` module inside botocore.endpoint (only `sleep` is used)."""

    def __init__(self, sleeps: list[float]) -> None:
        self._sleeps = sleeps

    def sleep(self, seconds: float) -> None:
        self._sleeps.append(seconds)


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class FaultInjector:
    def __init__(self) -> None:
        self.attempts: list[Attempt] = []
        self.sleeps: list[float] = []
        self._fault: Fault | None = None
        self._lock = threading.Lock()

    @contextmanager
    def __call__(
        self,
        kind: str,
        service: str | None = None,
        *,
        operations: set[str] | None = None,
        after: str | None = None,
        calls: int | None = None,
        attempts: int | None = None,
    ) -> Iterator[Fault]:
        fault = Fault(
            kind,
            service,
            None if operations is None else frozenset(operations),
            after,
            calls,
            attempts,
        )
        self.attempts.clear()
        self.sleeps.clear()
        self._fault = fault
        try:
            yield fault
        finally:
            self._fault = None

    def clear(self) -> None:
        self.attempts.clear()
        self.sleeps.clear()

    def _decide(self, service: str, operation: str, invocation: str, number: int) -> bool:
        fault = self._fault
        if fault is None or not fault.matches(service, operation):
            return False
        if fault.after is not None and not fault.after_seen:
            return False
        if invocation not in fault.failing:
            if number > 1 or (fault.calls is not None and len(fault.failing) >= fault.calls):
                return False
            fault.failing.add(invocation)
        return fault.attempts is None or number <= fault.attempts

    def _succeeded(self, operation: str) -> None:
        fault = self._fault
        if fault is not None and fault.after == operation:
            fault.after_seen = True

    def send(
        self,
        original: Callable[..., Any],
        endpoint: Endpoint,
        request: Any,
        operation_model: Any,
        context: dict[str, Any],
    ) -> Any:
        service = str(operation_model.service_model.service_name)
        operation = str(operation_model.name)
        retries = context.get("retries", {})
        invocation = str(retries.get("invocation-id") or uuid.uuid4())
        number = int(retries.get("attempt", 1))
        with self._lock:
            failed = self._decide(service, operation, invocation, number)
            kind = self._fault.kind if self._fault is not None else ""
            self.attempts.append(Attempt(service, operation, invocation, number, failed))
        if kind == "lost" and failed:
            # The service applied the request; its answer never arrived.
            original(endpoint, request, operation_model, context)
            return None, ReadTimeoutError(endpoint_url=request.url)
        if not failed:
            result = original(endpoint, request, operation_model, context)
            success, exception = result
            if exception is None and success is not None and success[0].status_code < 300:
                with self._lock:
                    self._succeeded(operation)
            return result
        if kind == "timeout":
            return None, ReadTimeoutError(endpoint_url=request.url)
        if kind == "connection":
            return None, EndpointConnectionError(endpoint_url=request.url)
        status, code, message = _ERROR_BODIES[(service, kind)]
        http_response = AWSResponse(
            request.url,
            status,
            HeadersDict(
                {
                    "x-amzn-RequestId": uuid.uuid4().hex,
                    "Content-Type": "application/x-amz-json-1.0",
                }
            ),
            _Body(json.dumps({"__type": code, "message": message}).encode()),
        )
        response_dict = convert_to_response_dict(http_response, operation_model)
        parser = endpoint._response_parser_factory.create_parser(
            operation_model.service_model.resolved_protocol
        )
        parsed = parser.parse(response_dict, operation_model.output_shape)
        return (http_response, parsed), None

    # ---- what was measured

    def calls(self, service: str | None = None) -> dict[str, list[Attempt]]:
        """Attempts grouped by API call (botocore's invocation id), in order."""
        grouped: dict[str, list[Attempt]] = {}
        for attempt in self.attempts:
            if service is None or attempt.service == service:
                grouped.setdefault(attempt.invocation, []).append(attempt)
        return grouped

    def failed_calls(self, service: str | None = None) -> list[list[Attempt]]:
        return [
            attempts
            for attempts in self.calls(service).values()
            if any(attempt.failed for attempt in attempts)
        ]


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> FaultInjector:
    injector = FaultInjector()
    original = Endpoint._do_get_response

    def do_get_response(
        self: Endpoint, request: Any, operation_model: Any, context: dict[str, Any]
    ) -> Any:
        return injector.send(original, self, request, operation_model, context)

    monkeypatch.setattr(Endpoint, "_do_get_response", do_get_response)
    monkeypatch.setattr(botocore.endpoint, "time", _RecordedSleep(injector.sleeps))
    return injector


# ---- the table, before and after ---------------------------------------------------------


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: sorted(inner) if key in {"SS", "NS", "BS"} else _normalized(inner)
            for key, inner in value.items()
        }
    if isinstance(value, list):
        return [_normalized(inner) for inner in value]
    return value


def table_dump(settings: Settings) -> list[dict[str, Any]]:
    """Every item of the table (a Scan: fine in a test), in key order."""
    items: list[dict[str, Any]] = []
    paginator = boto3.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=settings.table_name, ConsistentRead=True):
        items.extend(_normalized(item) for item in page["Items"])
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def dump_diff(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, list[str]]:
    def keyed(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(item["pk"]["S"], item["sk"]["S"]): item for item in items}

    old, new = keyed(before), keyed(after)
    changed = []
    for key in sorted(old.keys() & new.keys()):
        names = sorted(
            name
            for name in old[key].keys() | new[key].keys()
            if old[key].get(name) != new[key].get(name)
        )
        if names:
            changed.append(f"{key[0]}/{key[1]}: {', '.join(names)}")
    return {
        "added": [f"{pk}/{sk}" for pk, sk in sorted(new.keys() - old.keys())],
        "removed": [f"{pk}/{sk}" for pk, sk in sorted(old.keys() - new.keys())],
        "changed": changed,
    }


def assert_unavailable(response: httpx2.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    if response.request.url.path in ("/token", "/revoke"):  # RFC 6749 §5.2 beside our fields
        assert body.pop("error") == "temporarily_unavailable", body
        assert body.pop("error_description") == body["detail"], body
    assert body == {
        "detail": "A backing service is unavailable; retry shortly.",
        "code": "SERVICE_UNAVAILABLE",
    }
    retry_after = response.headers.get("retry-after", "")
    assert retry_after.isdigit(), response.headers
    assert 1 <= int(retry_after) <= 60


def assert_bounded(faults: FaultInjector, service: str, kind: str) -> None:
    """Every failed call was retried by botocore, and no more than MAX_ATTEMPTS times."""
    failed = faults.failed_calls(service)
    assert failed, f"no {service} call was faulted"
    assert all(len(attempts) <= MAX_ATTEMPTS for attempts in failed), failed
    # The first faulted call, with a full retry quota, makes exactly MAX_ATTEMPTS attempts.
    assert len(failed[0]) == MAX_ATTEMPTS, failed[0]
    assert [attempt.number for attempt in failed[0]] == list(range(1, MAX_ATTEMPTS + 1))
    # Back-off between attempts stays short: rand * 1 s, rand * 2 s for throttling,
    # tens of milliseconds otherwise.
    assert MAX_ATTEMPTS - 1 <= len(faults.sleeps) <= (MAX_ATTEMPTS - 1) * len(failed)
    assert all(0 <= seconds <= 2 for seconds in faults.sleeps), faults.sleeps
    if kind != "throttle":
        assert all(seconds <= 0.2 for seconds in faults.sleeps), faults.sleeps


# ---- every endpoint ------------------------------------------------------------------------


class Scene:
    """The accounts a case needs, created (and signed in) on first use only."""

    def __init__(self, client: TestClient, directory: Directory, clock: Clock) -> None:
        self.client = client
        self.directory = directory
        self.clock = clock

    @cached_property
    def admin(self) -> Account:
        return self.directory.admin()

    @cached_property
    def user(self) -> Account:
        return self.directory.user()

    @cached_property
    def target(self) -> Account:
        """A signed-in user that the admin acts on."""
        return self.directory.user()

    @cached_property
    def pending(self) -> Account:
        """A user created without TOTP: the next login goes through setup."""
        return self.directory.create(enrolled=False)

    def challenge(self, account: Account) -> str:
        response = self.client.post(
            "/auth/login", json={"username": account.username, "password": account.password}
        )
        assert response.status_code == 200, response.text
        return str(response.json()["mfa_token"])


@pytest.fixture
def scene(client: TestClient, directory: Directory, clock: Clock) -> Scene:
    return Scene(client, directory, clock)


Request = Callable[[], httpx2.Response]


def _get_me(s: Scene) -> Request:
    headers = s.user.headers
    return lambda: s.client.get("/users/me", headers=headers)


def _patch_me_name(s: Scene) -> Request:
    headers = s.user.headers
    return lambda: s.client.patch("/users/me", headers=headers, json={"full_name": "Neu"})


def _patch_me_email(s: Scene) -> Request:
    """Moves the email claim: a transaction, then a read of the result."""
    headers = s.user.headers
    return lambda: s.client.patch("/users/me", headers=headers, json={"email": "moved@example.com"})


def _change_password(s: Scene) -> Request:
    headers = s.user.headers
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    return lambda: s.client.post("/users/me/password", headers=headers, json=body)


def _recovery_codes(s: Scene) -> Request:
    headers = s.user.headers
    s.clock.next_step()
    body = {"password": PASSWORD, "code": s.directory.code(s.user)}
    return lambda: s.client.post("/users/me/mfa/recovery-codes", headers=headers, json=body)


def _login(s: Scene) -> Request:
    body = {"username": s.user.username, "password": PASSWORD}
    return lambda: s.client.post("/auth/login", json=body)


def _token(s: Scene) -> Request:
    user = s.user
    s.clock.next_step()
    form = {"username": user.username, "password": PASSWORD + s.directory.code(user)}
    return lambda: s.client.post("/token", data=form)


def _mfa_verify(s: Scene) -> Request:
    user = s.user
    s.clock.next_step()
    body = {"mfa_token": s.challenge(user), "code": s.directory.code(user)}
    return lambda: s.client.post("/auth/mfa/verify", json=body)


def _mfa_verify_recovery_code(s: Scene) -> Request:
    user = s.user
    body = {"mfa_token": s.challenge(user), "code": user.recovery_codes[0]}
    return lambda: s.client.post("/auth/mfa/verify", json=body)


def _mfa_setup(s: Scene) -> Request:
    body = {"mfa_token": s.challenge(s.pending)}
    return lambda: s.client.post("/auth/mfa/setup", json=body)


def _mfa_setup_confirm(s: Scene) -> Request:
    mfa_token = s.challenge(s.pending)
    setup = s.client.post("/auth/mfa/setup", json={"mfa_token": mfa_token})
    assert setup.status_code == 200, setup.text
    code = pyotp.TOTP(setup.json()["secret"]).at(s.clock.now())
    body = {"mfa_token": mfa_token, "code": code}
    return lambda: s.client.post("/auth/mfa/setup/confirm", json=body)


def _refresh(s: Scene) -> Request:
    body = {"refresh_token": s.user.tokens["refresh_token"]}
    return lambda: s.client.post("/auth/refresh", json=body)


def _logout(s: Scene) -> Request:
    headers = s.user.headers
    body = {"refresh_token": s.user.tokens["refresh_token"]}
    return lambda: s.client.post("/auth/logout", headers=headers, json=body)


def _logout_all(s: Scene) -> Request:
    headers = s.user.headers
    return lambda: s.client.post("/auth/logout-all", headers=headers)


def _create_user(s: Scene) -> Request:
    headers = s.admin.headers
    body = {"username": "newcomer", "email": "newcomer@example.com", "password": PASSWORD}
    return lambda: s.client.post("/users", headers=headers, json=body)


def _list_users(s: Scene) -> Request:
    headers = s.admin.headers
    return lambda: s.client.get("/users?limit=2", headers=headers)


def _admin_on_target(s: Scene) -> tuple[dict[str, str], str]:
    headers = s.admin.headers
    return headers, f"/users/{s.target.id}"


def _get_user(s: Scene) -> Request:
    headers, path = _admin_on_target(s)
    return lambda: s.client.get(path, headers=headers)


def _patch_user_name(s: Scene) -> Request:
    headers, path = _admin_on_target(s)
    return lambda: s.client.patch(path, headers=headers, json={"full_name": "Renamed"})


def _patch_user_role(s: Scene) -> Request:
    """Role change: the admin count moves in a transaction, then the result is read."""
    headers, path = _admin_on_target(s)
    return lambda: s.client.patch(path, headers=headers, json={"role": "admin"})


def _patch_user_disabled(s: Scene) -> Request:
    headers, path = _admin_on_target(s)
    return lambda: s.client.patch(path, headers=headers, json={"disabled": True})


def _delete_user(s: Scene) -> Request:
    headers, path = _admin_on_target(s)
    return lambda: s.client.delete(path, headers=headers)


def _reset_mfa(s: Scene) -> Request:
    headers, path = _admin_on_target(s)
    return lambda: s.client.post(f"{path}/mfa/reset", headers=headers)


def _audit_events(s: Scene) -> Request:
    headers = s.admin.headers
    return lambda: s.client.get("/audit-events?limit=5", headers=headers)


def _audit_events_of_user(s: Scene) -> Request:
    headers = s.admin.headers
    path = f"/audit-events?user_id={s.user.id}&limit=5"
    return lambda: s.client.get(path, headers=headers)


def _jwks(s: Scene) -> Request:
    return lambda: s.client.get("/.well-known/jwks.json")


def _health(s: Scene) -> Request:
    return lambda: s.client.get("/health")


@dataclass(frozen=True)
class Case:
    prepare: Callable[[Scene], Request]
    ok: int
    dynamodb: bool = True  # touches DynamoDB
    ssm: bool = True  # needs the key sets from SSM


CASES: dict[str, Case] = {
    "GET /users/me": Case(_get_me, 200),
    "PATCH /users/me full_name": Case(_patch_me_name, 200),
    "PATCH /users/me email": Case(_patch_me_email, 200),
    "POST /users/me/password": Case(_change_password, 200),
    "POST /users/me/mfa/recovery-codes": Case(_recovery_codes, 200),
    "POST /auth/login": Case(_login, 200),
    "POST /token": Case(_token, 200),
    "POST /auth/mfa/verify totp": Case(_mfa_verify, 200),
    "POST /auth/mfa/verify recovery code": Case(_mfa_verify_recovery_code, 200),
    "POST /auth/mfa/setup": Case(_mfa_setup, 200),
    "POST /auth/mfa/setup/confirm": Case(_mfa_setup_confirm, 200),
    "POST /auth/refresh": Case(_refresh, 200),
    "POST /auth/logout": Case(_logout, 204),
    "POST /auth/logout-all": Case(_logout_all, 204),
    "POST /users": Case(_create_user, 201),
    "GET /users": Case(_list_users, 200),
    "GET /users/{id}": Case(_get_user, 200),
    "PATCH /users/{id} full_name": Case(_patch_user_name, 200),
    "PATCH /users/{id} role": Case(_patch_user_role, 200),
    "PATCH /users/{id} disabled": Case(_patch_user_disabled, 200),
    "DELETE /users/{id}": Case(_delete_user, 204),
    "POST /users/{id}/mfa/reset": Case(_reset_mfa, 204),
    "GET /audit-events": Case(_audit_events, 200),
    "GET /audit-events?user_id": Case(_audit_events_of_user, 200),
    "GET /.well-known/jwks.json": Case(_jwks, 200, dynamodb=False),
    "GET /health": Case(_health, 200, dynamodb=False, ssm=False),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", list(CASES))
def test_dynamodb_down(
    scene: Scene, faults: FaultInjector, settings: Settings, name: str, kind: str
) -> None:
    """Every DynamoDB call fails: 503 with Retry-After, the table exactly as before, retries
    bounded; once DynamoDB answers, the very same request succeeds."""
    case = CASES[name]
    send = case.prepare(scene)
    before = table_dump(settings)
    with faults(kind, "dynamodb"):
        response = send()
    if case.dynamodb:
        assert_unavailable(response)
        assert_bounded(faults, "dynamodb", kind)
    else:
        assert response.status_code == case.ok, response.text
        assert not faults.calls("dynamodb")
    assert table_dump(settings) == before, dump_diff(before, table_dump(settings))
    recovered = send()
    assert recovered.status_code == case.ok, recovered.text


@pytest.mark.parametrize("kind", SSM_KINDS)
@pytest.mark.parametrize("name", list(CASES))
def test_ssm_down_at_cold_start(
    scene: Scene, faults: FaultInjector, settings: Settings, name: str, kind: str
) -> None:
    """A fresh container (nothing cached) while SSM fails: 503 with Retry-After, nothing
    written; once SSM answers, the same container loads the keys and serves."""
    case = CASES[name]
    send = case.prepare(scene)
    before = table_dump(settings)
    secrets.reset_cache()
    with faults(kind, "ssm"):
        response = send()
        if case.ssm:
            # Still down: a second request tries SSM again (nothing cached) and is a 503 too.
            assert_unavailable(send())
    if case.ssm:
        assert_unavailable(response)
        assert_bounded(faults, "ssm", kind)
        # The key sets are needed before anything else: no DynamoDB call was made.
        assert not faults.calls("dynamodb")
    else:
        assert response.status_code == case.ok, response.text
        assert not faults.calls("ssm")
    assert table_dump(settings) == before, dump_diff(before, table_dump(settings))
    faults.clear()
    recovered = send()
    assert recovered.status_code == case.ok, recovered.text
    if case.ssm:
        assert len(faults.calls("ssm")) == 1  # loaded once, then cached


# ---- recovery and retry behaviour ------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("service", ["dynamodb", "ssm"])
def test_one_failed_attempt_is_absorbed_by_botocore_retries(
    scene: Scene, faults: FaultInjector, settings: Settings, service: str, kind: str
) -> None:
    """A blip (only the first attempt of each call fails) costs a retry, not a 503."""
    admin = scene.admin
    token = _token(scene)
    if service == "ssm":
        secrets.reset_cache()
    with faults(kind, service, attempts=1):
        me = scene.client.get("/users/me", headers=admin.headers)
        signed_in = token()
    assert me.status_code == 200, me.text
    assert signed_in.status_code == 200, signed_in.text
    failed = faults.failed_calls(service)
    assert failed
    assert all(len(attempts) == 2 for attempts in failed), failed
    assert all(attempts[-1].failed is False for attempts in failed)


def test_dynamodb_outage_across_many_requests_stays_bounded_and_recovers(
    scene: Scene, faults: FaultInjector, settings: Settings
) -> None:
    """A long outage: every request is a 503 with at most MAX_ATTEMPTS attempts per call
    (fewer once botocore's retry quota is spent), and the first request after the outage
    succeeds without a restart."""
    user = scene.user
    before = table_dump(settings)
    with faults("timeout", "dynamodb"):
        for _ in range(25):
            assert_unavailable(scene.client.get("/users/me", headers=user.headers))
            assert_unavailable(
                scene.client.post(
                    "/auth/login", json={"username": user.username, "password": PASSWORD}
                )
            )
        per_call = [len(attempts) for attempts in faults.calls("dynamodb").values()]
    assert max(per_call) <= MAX_ATTEMPTS
    assert table_dump(settings) == before
    assert scene.client.get("/users/me", headers=user.headers).status_code == 200
    scene.directory.sign_in(user)


def test_health_never_touches_aws(faults: FaultInjector, client: TestClient) -> None:
    secrets.reset_cache()
    with faults("connection"):
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert faults.attempts == []


def _serve_through_ssm_outage(scene: Scene, faults: FaultInjector, clock: Clock) -> list[int]:
    """Past the refresh interval, SSM failing: four requests. Returns the number of SSM
    calls each request made."""
    user = scene.user
    clock.advance(REFRESH_SECONDS + 1)
    per_request = []
    with faults("timeout", "ssm"):
        for _ in range(3):
            calls = len(faults.calls("ssm"))
            me = scene.client.get("/users/me", headers=user.headers)
            assert me.status_code == 200, me.text
            per_request.append(len(faults.calls("ssm")) - calls)
        calls = len(faults.calls("ssm"))
        jwks = scene.client.get("/.well-known/jwks.json")
        assert jwks.status_code == 200
        per_request.append(len(faults.calls("ssm")) - calls)
        assert all(len(attempts) <= MAX_ATTEMPTS for attempts in faults.calls("ssm").values())
    return per_request


def test_warm_container_keeps_serving_through_an_ssm_outage(
    scene: Scene, faults: FaultInjector, clock: Clock
) -> None:
    """The keys already loaded keep serving, each refresh attempt is bounded, and the
    refresh succeeds once SSM is back (at the next retry, a minute after the failure)."""
    from authapi.core.secrets import RETRY_AFTER_FAILURE_SECONDS

    user = scene.user
    _serve_through_ssm_outage(scene, faults, clock)
    faults.clear()
    clock.advance(RETRY_AFTER_FAILURE_SECONDS)
    assert scene.client.get("/users/me", headers=user.headers).status_code == 200
    assert scene.client.get("/users/me", headers=user.headers).status_code == 200
    assert len(faults.calls("ssm")) == 1  # refreshed once, then cached again


def test_warm_container_does_not_pay_for_the_ssm_outage_on_every_request(
    scene: Scene, faults: FaultInjector, clock: Clock
) -> None:
    """Once a refresh has failed, the stale keys serve without calling SSM again at once:
    only the first request of the outage waits for SSM."""
    per_request = _serve_through_ssm_outage(scene, faults, clock)
    assert sum(per_request) <= 1, per_request


@pytest.mark.parametrize("kind", KINDS)
def test_cold_start_while_ssm_is_down_then_back(
    faults: FaultInjector, client: TestClient, directory: Directory, settings: Settings, kind: str
) -> None:
    """The whole story of one container: SSM down at its first request, then back."""
    account = directory.create()
    directory.clock.next_step()
    secrets.reset_cache()
    before = table_dump(settings)
    with faults(kind, "ssm"):
        login = client.post(
            "/auth/login", json={"username": account.username, "password": PASSWORD}
        )
        jwks = client.get("/.well-known/jwks.json")
        health = client.get("/health")
    assert_unavailable(login)
    assert_unavailable(jwks)
    assert_bounded(faults, "ssm", kind)
    assert health.status_code == 200
    assert table_dump(settings) == before
    assert client.get("/.well-known/jwks.json").status_code == 200
    directory.sign_in(account)
    assert client.get("/users/me", headers=account.headers).status_code == 200


# ---- partial failures: one operation fails, the others work --------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_login_whose_session_write_fails(
    scene: Scene, faults: FaultInjector, settings: Settings, clock: Clock, kind: str
) -> None:
    """Both factors pass, then the sign-in transaction fails: nothing is written (the
    TOTP step is spent in the same transaction that opens the session), and a retry
    with the very same code signs the user in. The contract: a 503 leaves nothing
    half-written."""
    user = scene.user
    clock.next_step()
    mfa_token = scene.challenge(user)
    code = scene.directory.code(user)
    before = table_dump(settings)
    with faults(kind, "dynamodb", operations={"TransactWriteItems"}):
        response = scene.client.post(
            "/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code}
        )
    assert_unavailable(response)
    assert_bounded(faults, "dynamodb", kind)
    assert table_dump(settings) == before, dump_diff(before, table_dump(settings))
    retry = scene.client.post("/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})
    assert retry.status_code == 200, retry.text
    # The retry spent the code: it cannot be replayed.
    replay = scene.client.post("/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})
    assert replay.status_code == 401, replay.text


def test_login_whose_session_write_fails_records_no_success(
    scene: Scene, faults: FaultInjector, settings: Settings, clock: Clock
) -> None:
    """The audit trail must not say "login_succeeded" for a login that answered 503."""
    user = scene.user
    clock.next_step()
    mfa_token = scene.challenge(user)
    code = scene.directory.code(user)
    before = table_dump(settings)
    with faults("throttle", "dynamodb", operations={"TransactWriteItems"}):
        response = scene.client.post(
            "/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code}
        )
    assert_unavailable(response)
    added = [
        item
        for item in table_dump(settings)
        if item not in before and item["pk"]["S"].startswith("AUDIT#")
    ]
    assert [item["type"]["S"] for item in added] == []


def test_token_grant_whose_session_write_fails(
    scene: Scene, faults: FaultInjector, settings: Settings, clock: Clock
) -> None:
    """Same for the one-step grant: a 503 with nothing written, then the same code works."""
    user = scene.user
    clock.next_step()
    form = {
        "username": user.username,
        "password": PASSWORD + scene.directory.code(user),
    }
    before = table_dump(settings)
    with faults("internal", "dynamodb", operations={"TransactWriteItems"}):
        assert_unavailable(scene.client.post("/token", data=form))
    assert table_dump(settings) == before, dump_diff(before, table_dump(settings))
    assert scene.client.post("/token", data=form).status_code == 200


def test_recovery_code_login_whose_session_write_fails(
    scene: Scene, faults: FaultInjector, settings: Settings
) -> None:
    """A recovery code is spent in the sign-in's transaction: after a 503 the user still
    has every code, and the same one signs them in."""
    user = scene.user
    mfa_token = scene.challenge(user)
    body = {"mfa_token": mfa_token, "code": user.recovery_codes[0]}
    before = table_dump(settings)
    with faults("throttle", "dynamodb", operations={"TransactWriteItems"}):
        response = scene.client.post("/auth/mfa/verify", json=body)
    assert_unavailable(response)
    assert table_dump(settings) == before, dump_diff(before, table_dump(settings))
    again = scene.client.post("/auth/mfa/verify", json=body)
    assert again.status_code == 200, again.text
    spent = scene.client.post("/auth/mfa/verify", json=body)
    assert spent.status_code == 401, spent.text


def test_refresh_whose_rotation_fails_keeps_the_old_token_working(
    scene: Scene, faults: FaultInjector, settings: Settings
) -> None:
    refresh_token = scene.user.tokens["refresh_token"]
    before = table_dump(settings)
    with faults("timeout", "dynamodb", operations={"TransactWriteItems"}):
        assert_unavailable(
            scene.client.post("/auth/refresh", json={"refresh_token": refresh_token})
        )
    assert table_dump(settings) == before
    rotated = scene.client.post("/auth/refresh", json={"refresh_token": refresh_token})
    assert rotated.status_code == 200, rotated.text


def test_create_user_whose_transaction_fails_leaves_no_claims(
    scene: Scene, faults: FaultInjector, settings: Settings
) -> None:
    send = _create_user(scene)
    before = table_dump(settings)
    with faults("throttle", "dynamodb", operations={"TransactWriteItems"}):
        assert_unavailable(send())
    assert table_dump(settings) == before
    created = send()
    assert created.status_code == 201, created.text


def test_create_user_whose_answer_is_lost_is_created_once_and_answers_201(
    scene: Scene, faults: FaultInjector, settings: Settings
) -> None:
    """The create transaction commits but its answer is lost; botocore retries it and
    the retry's conditions fail on the very items the first attempt wrote. That is the
    same user, created once: 201, never a 409 with a user behind it."""
    send = _create_user(scene)
    before = table_dump(settings)
    with faults("lost", "dynamodb", operations={"TransactWriteItems"}, calls=1, attempts=1):
        created = send()
    assert created.status_code == 201, created.text
    assert [len(attempts) for attempts in faults.failed_calls("dynamodb")] == [2]
    added = dump_diff(before, table_dump(settings))["added"]
    users = [key for key in added if key.startswith("USER#") and key.endswith("/USER")]
    assert users == [f"USER#{created.json()['id']}/USER"], added
    # A second, separate request for the same name is a real clash.
    again = send()
    assert (again.status_code, again.json()["code"]) == (409, "USERNAME_TAKEN")


def test_logout_whose_transaction_fails_writes_nothing_and_a_retry_completes(
    scene: Scene, faults: FaultInjector, settings: Settings
) -> None:
    """Ending a session (deleting its refresh chain and revoking its access tokens) is one
    transaction: when it fails nothing changed, and a retried logout completes it."""
    user = scene.user
    body = {"refresh_token": user.tokens["refresh_token"]}
    before = table_dump(settings)
    with faults("throttle", "dynamodb", operations={"TransactWriteItems"}):
        assert_unavailable(scene.client.post("/auth/logout", headers=user.headers, json=body))
    assert table_dump(settings) == before, dump_diff(before, table_dump(settings))
    retried = scene.client.post("/auth/logout", headers=user.headers, json=body)
    assert retried.status_code == 204, retried.text
    assert scene.client.get("/users/me", headers=user.headers).status_code == 401
    assert scene.client.post("/auth/refresh", json=body).status_code == 401


@pytest.mark.parametrize("name", ["PATCH /users/{id} role", "PATCH /users/me email"])
def test_committed_update_needs_no_read_back(
    scene: Scene, faults: FaultInjector, settings: Settings, name: str
) -> None:
    """Once the transaction commits, the answer is the success code: the result is not
    read back, so a read failing afterwards cannot turn a stored change into a 503."""
    send = CASES[name].prepare(scene)
    with faults("throttle", "dynamodb", operations={"GetItem"}, after="TransactWriteItems"):
        response = send()
    assert response.status_code == CASES[name].ok, response.text
    assert not faults.failed_calls("dynamodb")


def test_admin_mfa_reset_whose_session_cleanup_fails(
    scene: Scene, faults: FaultInjector, settings: Settings
) -> None:
    """The user item is updated (TOTP gone, token version bumped), then the sessions are
    listed and deleted. If that part fails, a retry finishes the job."""
    target = scene.target
    send = _reset_mfa(scene)
    with faults("throttle", "dynamodb", operations={"Query"}, after="UpdateItem"):
        response = send()
    assert response.status_code in {204, 503}, response.text
    if response.status_code == 503:
        assert_unavailable(response)
    retried = send()
    assert retried.status_code == 204, retried.text
    sessions = [
        item
        for item in table_dump(settings)
        if item["pk"]["S"] == f"USER#{target.id}" and item["sk"]["S"].startswith("SESSION#")
    ]
    assert sessions == []
    assert scene.client.get("/users/me", headers=target.headers).status_code == 401


def test_audit_write_failure_does_not_fail_the_request(
    scene: Scene, faults: FaultInjector, settings: Settings
) -> None:
    """By design (audit.service.record_event): the audit copy in DynamoDB is best effort,
    the log line holds the event. Everything else of the request is stored."""
    send = _patch_user_role(scene)
    with faults("throttle", "dynamodb", operations={"PutItem"}):
        response = send()
    assert response.status_code == 200, response.text
    assert response.json()["role"] == Role.ADMIN.value
    assert faults.failed_calls("dynamodb")


def test_sign_in_whose_answer_is_lost(
    scene: Scene, faults: FaultInjector, settings: Settings, clock: Clock
) -> None:
    """The sign-in transaction (TOTP step + session + refresh token) is applied but its
    answer is lost; botocore retries it. The retry finds its own session written (the
    id is random, so nothing else wrote it) and the sign-in succeeds, once: one session,
    and the code is spent."""
    user = scene.user
    clock.next_step()
    mfa_token = scene.challenge(user)
    code = scene.directory.code(user)
    before = table_dump(settings)
    with faults("lost", "dynamodb", operations={"TransactWriteItems"}, calls=1, attempts=1):
        response = scene.client.post(
            "/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code}
        )
    assert response.status_code == 200, response.text
    assert [len(attempts) for attempts in faults.failed_calls("dynamodb")] == [2]
    added = dump_diff(before, table_dump(settings))["added"]
    assert len([key for key in added if "/SESSION#" in key]) == 1, added
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert scene.client.get("/users/me", headers=headers).status_code == 200
    replay = scene.client.post("/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})
    assert replay.status_code == 401, replay.text


@pytest.mark.parametrize(
    ("service", "kind", "error"),
    [
        ("dynamodb", "throttle", "ProvisionedThroughputExceededException"),
        ("dynamodb", "internal", "InternalServerError"),
        ("dynamodb", "timeout", "ReadTimeoutError"),
        ("ssm", "throttle", "ThrottlingException"),
        ("ssm", "connection", "EndpointConnectionError"),
    ],
)
def test_a_503_logs_its_cause_without_the_message(
    scene: Scene,
    faults: FaultInjector,
    caplog: pytest.LogCaptureFixture,
    service: str,
    kind: str,
    error: str,
) -> None:
    """ASVS 5.0 16.3.4 (log errors the operator can act on): the response says only
    SERVICE_UNAVAILABLE; the log line names the service and AWS's error code. AWS's
    message text is left out (it can quote request values)."""
    user = scene.user
    if service == "ssm":
        secrets.reset_cache()
    with caplog.at_level("ERROR", logger="authapi"), faults(kind, service):
        assert_unavailable(scene.client.get("/users/me", headers=user.headers))
    logged = [
        json.loads(record.getMessage())
        for record in caplog.records
        if "aws_unavailable" in record.getMessage()
    ]
    assert logged == [{"event": "aws_unavailable", "service": service, "error": error}]
    text = caplog.text
    assert "throughput for the table was exceeded" not in text
    assert "Rate exceeded" not in text
