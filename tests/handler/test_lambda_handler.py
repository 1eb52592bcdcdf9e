"""The Lambda entry point, driven the way AWS drives it.

`authapi.main.handler` is what template.yaml deploys. These tests hand it the events
API Gateway sends (HTTP API payload 2.0, and REST API "aws-proxy" / payload 1.0, from
the JSON fixtures in tests/events) plus a Lambda context, and read the proxy-integration
response the way API Gateway turns it into an HTTP response for the client. They
protect what the TestClient tests cannot see: Mangum's event translation (paths,
headers, base64 form bodies, Content-Length) and the shape of the response.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from mangum.types import LambdaCognitoIdentity, LambdaMobileClientContext

from authapi.core import db
from authapi.core.config import Settings
from authapi.users.schemas import UserOut
from tests.support import Clock, Directory, fill_placeholders

EVENTS = Path(__file__).resolve().parent.parent / "events"
PLACEHOLDER = re.compile(r"__[A-Z0-9_]+__")

V2_LOGIN = "http_api_v2_post_auth_login.json"
V1_LOGIN = "rest_api_v1_post_auth_login.json"
V2_MFA_VERIFY = "http_api_v2_post_auth_mfa_verify.json"
V2_ME = "http_api_v2_get_users_me.json"
V1_ME = "rest_api_v1_get_users_me.json"
V2_TOKEN_FORM = "http_api_v2_post_token_form.json"

TOKEN_FIELDS = {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}
SECRET_FIELDS = {
    "password",
    "password_hash",
    "totp_secret",
    "pending_totp_secret",
    "recovery_codes",
    "recovery_code_hashes",
    "token_version",
    "revoked_sessions",
}

FUNCTION_NAME = "authapi-ApiFunction-Q1W2E3R4T5Y6"
TIMEOUT_MS = 10_000  # template.yaml: Globals.Function.Timeout


@dataclass
class FakeLambdaContext:
    """What the Python Lambda runtime passes as `context` (the attributes Mangum's
    LambdaContext protocol names, plus the remaining-time method)."""

    function_name: str = FUNCTION_NAME
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = f"/aws/lambda/{FUNCTION_NAME}"
    log_stream_name: str = "2025/02/03/[$LATEST]8f4c1e2d3b5a49e6a7c8d9e0f1a2b3c4"
    identity: LambdaCognitoIdentity | None = None
    client_context: LambdaMobileClientContext | None = None
    _deadline: float = field(default_factory=lambda: time.monotonic() + TIMEOUT_MS / 1000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class GatewayResponse:
    """The HTTP response an API Gateway client receives for a proxy-integration result."""

    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


Invoke = Callable[[dict[str, Any]], GatewayResponse]


def load_event(name: str, **values: str) -> dict[str, Any]:
    """A fixture from tests/events with its __PLACEHOLDERS__ filled in.

    Values land in a JSON body JSON-escaped; `content_length` is computed from the
    filled body, as API Gateway computes it. Any placeholder left over is an error.
    """
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    fills = {key.upper(): value for key, value in values.items()}
    body = event.get("body")
    raw_body = b""
    if isinstance(body, str):
        if event["isBase64Encoded"]:
            event["body"] = fill_placeholders(body, fills)
            raw_body = base64.b64decode(event["body"], validate=True)
        else:
            escaped = {key: json.dumps(value)[1:-1] for key, value in fills.items()}
            event["body"] = fill_placeholders(body, escaped)
            raw_body = event["body"].encode()
    fills["CONTENT_LENGTH"] = str(len(raw_body))
    event = fill_placeholders(event, fills)
    leftover = sorted(set(PLACEHOLDER.findall(json.dumps(event))))
    assert not leftover, f"{name}: unfilled placeholders {leftover}"
    return event


def _as_client_sees(result: dict[str, Any], event: dict[str, Any]) -> GatewayResponse:
    """Check the proxy-integration result is well formed, then merge it as API Gateway does."""
    assert isinstance(result["statusCode"], int)
    assert isinstance(result["body"], str)
    # A JSON API answers in text: API Gateway passes the body through untouched.
    assert result["isBase64Encoded"] is False
    headers: dict[str, str] = {}
    for key, value in result.get("headers", {}).items():
        assert isinstance(value, str), (key, value)
        headers[key.lower()] = value
    if event.get("version") != "2.0":
        for key, values in result.get("multiValueHeaders", {}).items():
            headers[key.lower()] = ", ".join(values)
    return GatewayResponse(result["statusCode"], headers, result["body"])


@pytest.fixture
def invoke(aws: None, clock: Clock, settings: Settings) -> Invoke:
    """Call the deployed entry point, `authapi.main.handler`, with a fresh context.

    The module-level app was built when authapi.main was first imported; binding the
    models again points them at this test's moto table with a new connection.
    """
    from authapi.main import handler

    db.bind(settings)

    def call(event: dict[str, Any]) -> GatewayResponse:
        return _as_client_sees(handler(event, FakeLambdaContext()), event)

    return call


def _assert_json(response: GatewayResponse) -> None:
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.text.encode()))


def _assert_tokens(body: dict[str, Any]) -> None:
    assert body.keys() >= TOKEN_FIELDS
    assert body["token_type"] == "bearer"
    assert isinstance(body["access_token"], str)
    assert body["access_token"]
    assert isinstance(body["refresh_token"], str)
    assert body["refresh_token"]
    assert body["expires_in"] > 0
    assert body["refresh_expires_in"] > 0


class TestTwoStepLogin:
    @pytest.mark.parametrize("fixture", [V2_LOGIN, V1_LOGIN])
    def test_step_one_answers_with_an_mfa_token(
        self, invoke: Invoke, directory: Directory, fixture: str
    ) -> None:
        """POST /auth/login through either payload format reaches the route with its
        JSON body intact and answers 200 with a short-lived mfa_token."""
        account = directory.create()
        response = invoke(load_event(fixture, username=account.username, password=account.password))
        assert response.status == 200, response.text
        _assert_json(response)
        body = response.json()
        assert set(body) == {"mfa_token", "mfa", "expires_in", "methods"}
        assert body["mfa"] == "totp"
        assert body["methods"] == ["totp", "recovery_code"]
        assert isinstance(body["mfa_token"], str)
        assert body["mfa_token"]
        assert 0 < body["expires_in"] <= 300

    @pytest.mark.parametrize("fixture", [V2_LOGIN, V1_LOGIN])
    def test_wrong_password_is_the_contract_401(
        self, invoke: Invoke, directory: Directory, fixture: str
    ) -> None:
        """A failed login through the handler keeps the contract's body and the
        WWW-Authenticate header (API Gateway must not lose it)."""
        account = directory.create()
        response = invoke(load_event(fixture, username=account.username, password="not it at all"))
        assert response.status == 401, response.text
        _assert_json(response)
        assert response.json() == {"detail": "Invalid credentials.", "code": "INVALID_CREDENTIALS"}
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("fixture", [V2_LOGIN, V1_LOGIN])
    def test_both_steps_through_the_handler_sign_the_user_in(
        self, invoke: Invoke, directory: Directory, clock: Clock, fixture: str
    ) -> None:
        """The mfa_token from step one (either format) and the current code, sent to
        /auth/mfa/verify as an HTTP API event, give tokens that work on /users/me."""
        account = directory.create()
        clock.next_step()
        challenge = invoke(
            load_event(fixture, username=account.username, password=account.password)
        )
        assert challenge.status == 200, challenge.text
        verified = invoke(
            load_event(
                V2_MFA_VERIFY, mfa_token=challenge.json()["mfa_token"], code=directory.code(account)
            )
        )
        assert verified.status == 200, verified.text
        _assert_json(verified)
        _assert_tokens(verified.json())
        me = invoke(load_event(V2_ME, access_token=verified.json()["access_token"]))
        assert me.status == 200, me.text
        assert me.json()["username"] == account.username


class TestPasswordGrantForm:
    def _form(self, username: str, password: str) -> str:
        form = urlencode({"grant_type": "password", "username": username, "password": password})
        return base64.b64encode(form.encode()).decode()

    def test_base64_form_with_password_and_code_returns_tokens(
        self, invoke: Invoke, directory: Directory, clock: Clock
    ) -> None:
        """API Gateway base64-encodes form bodies: POST /token must decode them, and the
        password-plus-code grant answers 200 with the contract's tokens."""
        account = directory.create()
        clock.next_step()
        body = self._form(account.username, account.password + directory.code(account))
        response = invoke(load_event(V2_TOKEN_FORM, body_base64=body))
        assert response.status == 200, response.text
        _assert_json(response)
        tokens = response.json()
        _assert_tokens(tokens)
        me = invoke(load_event(V1_ME, access_token=tokens["access_token"]))
        assert me.status == 200, me.text
        assert me.json()["id"] == account.id

    def test_base64_form_without_the_code_is_refused(
        self, invoke: Invoke, directory: Directory
    ) -> None:
        """The decoded form is really checked: the bare password (no code) is refused
        (RFC 6749 §5.2's invalid_grant)."""
        account = directory.create()
        body = self._form(account.username, account.password)
        response = invoke(load_event(V2_TOKEN_FORM, body_base64=body))
        assert response.status == 400, response.text
        assert response.json() == {
            "error": "invalid_grant",
            "error_description": "Invalid credentials.",
            "detail": "Invalid credentials.",
            "code": "INVALID_CREDENTIALS",
        }


class TestUsersMe:
    @pytest.mark.parametrize("fixture", [V2_ME, V1_ME])
    def test_valid_token_returns_the_user_without_secrets(
        self, invoke: Invoke, directory: Directory, fixture: str
    ) -> None:
        """GET /users/me with a valid Bearer token: 200, the caller's own user, and
        nothing secret in the body (no hash, TOTP secret or recovery codes)."""
        directory.user()  # someone else, signed in too
        account = directory.user()
        response = invoke(load_event(fixture, access_token=account.tokens["access_token"]))
        assert response.status == 200, response.text
        _assert_json(response)
        body = response.json()
        assert body["username"] == account.username
        assert body["id"] == account.id
        assert body["mfa_enabled"] is True
        assert set(body) == set(UserOut.model_fields)
        assert not SECRET_FIELDS & set(body)
        assert account.totp_secret is not None
        assert account.totp_secret not in response.text
        assert account.password not in response.text
        assert "$argon2" not in response.text
        assert "$2b$" not in response.text
        for code in account.recovery_codes:
            assert code not in response.text

    @pytest.mark.parametrize("fixture", [V2_ME, V1_ME])
    def test_garbage_token_is_not_authenticated(
        self, invoke: Invoke, directory: Directory, fixture: str
    ) -> None:
        """A token that is no JWT at all: 401 NOT_AUTHENTICATED with the contract's
        body and `WWW-Authenticate: Bearer`, never a 500."""
        directory.user()
        response = invoke(load_event(fixture, access_token="garbage.not-a.jwt"))
        assert response.status == 401, response.text
        _assert_json(response)
        body = response.json()
        assert set(body) == {"detail", "code"}
        assert body["code"] == "NOT_AUTHENTICATED"
        assert isinstance(body["detail"], str)
        assert body["detail"]
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("fixture", sorted(path.name for path in EVENTS.glob("*.json")))
def test_event_fixture_is_self_consistent(fixture: str) -> None:
    """Each fixture is a coherent API Gateway event: the path and method appear the same
    in every place API Gateway puts them, v2 headers are lower-case, and v1 headers
    agree with multiValueHeaders (Mangum prefers the latter)."""
    event: dict[str, Any] = json.loads((EVENTS / fixture).read_text(encoding="utf-8"))
    context = event["requestContext"]
    assert context["accountId"].isdigit()
    assert len(context["accountId"]) == 12
    assert context["domainName"] == f"{context['apiId']}.execute-api.us-east-1.amazonaws.com"
    assert context["requestId"]
    if fixture.startswith("http_api_v2_"):
        assert event["version"] == "2.0"
        assert event["routeKey"] == context["routeKey"] == "ANY /{proxy+}"
        assert context["stage"] == "$default"
        assert event["rawPath"] == context["http"]["path"]
        assert event["pathParameters"]["proxy"] == event["rawPath"].lstrip("/")
        assert context["http"]["userAgent"] == event["headers"]["user-agent"]
        assert context["http"]["sourceIp"] == event["headers"]["x-forwarded-for"]
        assert all(name == name.lower() for name in event["headers"])
        assert isinstance(context["timeEpoch"], int)
    else:
        assert fixture.startswith("rest_api_v1_")
        assert "version" not in event  # REST API events carry none
        assert event["resource"] == context["resourcePath"] == "/{proxy+}"
        assert event["httpMethod"] == context["httpMethod"]
        assert context["path"] == f"/{context['stage']}{event['path']}"
        assert event["pathParameters"]["proxy"] == event["path"].lstrip("/")
        assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}
        assert context["identity"]["userAgent"] == event["headers"]["User-Agent"]
        assert isinstance(context["requestTimeEpoch"], int)
    if event.get("isBase64Encoded"):
        assert event["body"] == "__BODY_BASE64__"


def test_passkeys_default_to_the_execute_api_domain_as_relying_party(invoke: Invoke) -> None:
    """With WEBAUTHN_RP_ID / WEBAUTHN_ORIGINS empty (the template's defaults), passkeys
    belong to the domain API Gateway was called at, and the page's origin is its https
    origin (docs/passkeys.md): what Mangum makes of the event's host and proto."""
    event = load_event(V2_LOGIN, username="", password="")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/auth/passkey/options"
    event["pathParameters"]["proxy"] = "auth/passkey/options"
    event["body"] = "{}"
    event["headers"]["content-length"] = "2"
    response = invoke(event)
    assert response.status == 200, response.text
    assert response.json()["publicKey"]["rpId"] == "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
