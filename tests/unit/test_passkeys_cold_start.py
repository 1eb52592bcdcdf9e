"""Cold start: the WebAuthn library (with pyOpenSSL, pyasn1 and cbor2) is imported by
the passkey routes on first use, never by the app or the routes that do not use it."""

from __future__ import annotations

from tests.support import run_fresh_python

SCRIPT = """
import os, sys
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_DEFAULT_REGION="us-east-1", TABLE_NAME="authapi-cold",
                  SSM_PARAMETER_PREFIX="/authapi/cold")
os.environ.pop("AWS_ENDPOINT_URL", None)
import boto3
from moto import mock_aws
from fastapi.testclient import TestClient
from infra.secrets import ensure_secrets
from infra.template import create_tables

with mock_aws():
    create_tables(boto3.client("dynamodb"), {"UsersTable": "authapi-cold"})
    ensure_secrets(boto3.client("ssm"), "cold")
    from authapi.main import app
    client = TestClient(app)
    assert client.get("/users/me").status_code == 401
    assert client.post("/auth/login", json={"username": "x", "password": "y"}).status_code == 401
    assert "webauthn" not in sys.modules, "imported by a route that does not use it"
    assert client.post("/auth/passkey/options", json={}).status_code == 200
    assert "webauthn" in sys.modules
"""


def test_webauthn_is_imported_only_by_the_passkey_routes() -> None:
    run_fresh_python(SCRIPT)
