"""Shared fixtures. Every test runs against moto (in-process or a loopback server):
fake credentials, no real AWS endpoint is ever configured."""

from __future__ import annotations

import os

# Before anything imports botocore or authapi: fake credentials, test names, and no
# endpoint override inherited from the developer's shell.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": "authapi-test",
        "SSM_PARAMETER_PREFIX": "/authapi/test",
    }
)

from collections.abc import Iterator  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from moto import mock_aws  # noqa: E402

from authapi.core import db, secrets  # noqa: E402
from authapi.core.config import Settings  # noqa: E402
from authapi.main import create_app  # noqa: E402
from infra.moto_atomic import serialize_dynamodb_writes  # noqa: E402
from infra.secrets import ensure_secrets  # noqa: E402
from infra.template import create_tables  # noqa: E402
from tests.support import Clock, Directory  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def moto_as_in_the_local_run() -> Iterator[None]:
    """moto's DynamoDB as the local run has it (infra/moto_atomic.py), for every moto in
    this process, in-process or server: DynamoDB's per-item atomicity, so that the race
    tests check *our* conditions, and transactions that copy only the items they touch."""
    undo = serialize_dynamodb_writes()
    yield
    undo()


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture
def aws(settings: Settings) -> Iterator[None]:
    """A fresh in-process moto with the template's table and the stage's secrets, the
    table bound as at start-up (create_app binds it again)."""
    with mock_aws():
        create_tables(boto3.client("dynamodb"), {"UsersTable": settings.table_name})
        ensure_secrets(boto3.client("ssm"), "test")
        secrets.reset_cache()
        db.bind(settings)
        yield
        secrets.reset_cache()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The service clock, under the test's control (e.g. to reach the next TOTP step)."""
    fake = Clock()
    monkeypatch.setattr("authapi.core.clock.now", fake.now)
    return fake


@pytest.fixture
def app(aws: None, settings: Settings, clock: Clock) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def directory(client: TestClient, settings: Settings, clock: Clock) -> Directory:
    """Users in the table, and the moves a real client makes to sign them in."""
    return Directory(client, settings, clock)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto *server* on loopback, for tests that need real HTTP and real
    concurrency (parallel requests racing for one conditional write)."""
    from moto.server import ThreadedMotoServer

    from infra.local import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def server_aws(
    moto_endpoint: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Point the app at the moto server, freshly reset, with the table and secrets."""
    import urllib.request

    reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(reset).close()  # noqa: S310 - the loopback moto server
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    create_tables(boto3.client("dynamodb"), {"UsersTable": settings.table_name})
    ensure_secrets(boto3.client("ssm"), "test")
    secrets.reset_cache()
    db.bind(settings)
    yield moto_endpoint
    secrets.reset_cache()


@pytest.fixture
def server_client(server_aws: str, settings: Settings, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client
