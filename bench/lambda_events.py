"""API Gateway HTTP API (payload 2.0) events and a Lambda context, as the runtime passes them.

Every event starts from a fixture in tests/events (captured shapes, so the benchmarks
exercise Mangum exactly as Lambda does) with its placeholders filled in.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tests.support import fill_placeholders

from .report import ROOT

EVENTS = ROOT / "tests" / "events"
PLACEHOLDER = re.compile(r"__[A-Z0-9_]+__")
GET_TEMPLATE = "http_api_v2_get_users_me.json"
LOGIN_TEMPLATE = "http_api_v2_post_auth_login.json"
TOKEN_TEMPLATE = "http_api_v2_post_token_form.json"  # noqa: S105 - a file name


def load(name: str) -> dict[str, Any]:
    template: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return template


def _fresh(event: dict[str, Any]) -> dict[str, Any]:
    """A unique request id and the current time, as every real request has; and no
    placeholder left, so a fixture change cannot send a literal __TOKEN__ silently."""
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
    leftover = sorted(set(PLACEHOLDER.findall(json.dumps(event))))
    if leftover:
        raise RuntimeError(f"unfilled placeholders in an event: {leftover}")
    return event


def with_body(template: dict[str, Any], body: bytes, **values: str) -> dict[str, Any]:
    """A copy of a fixture with its body, Content-Length and placeholders set."""
    event: dict[str, Any] = json.loads(json.dumps(template))
    if event["isBase64Encoded"]:
        event["body"] = base64.b64encode(body).decode("ascii")
    else:
        event["body"] = body.decode("utf-8")
    fills = {key.upper(): value for key, value in values.items()}
    fills["CONTENT_LENGTH"] = str(len(body))
    return _fresh(fill_placeholders(event, fills))


def request(
    method: str,
    path: str,
    *,
    token: str | None = None,
    json_body: Any = None,
    query: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Any request, built on the `GET /users/me` fixture (the catch-all `ANY /{proxy+}`
    route of the template's HTTP API): method, path, bearer token, JSON body, query."""
    event = load(GET_TEMPLATE)
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"proxy": path.lstrip("/")}
    headers = event["headers"]
    if token is None:
        del headers["authorization"]
    else:
        headers["authorization"] = f"Bearer {token}"
    if query:
        event["rawQueryString"] = urlencode(query)
        event["queryStringParameters"] = dict(query)
    if json_body is not None:
        body = json.dumps(json_body)
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(body.encode()))
        event["body"] = body
    return _fresh(event)


def login(username: str, password: str) -> dict[str, Any]:
    """`POST /auth/login` with a JSON body (tests/events fixture)."""
    body = json.dumps({"username": username, "password": password}).encode()
    return with_body(load(LOGIN_TEMPLATE), body)


def token(username: str, password_and_code: str) -> dict[str, Any]:
    """`POST /token`, the OAuth2 password grant as a form (tests/events fixture)."""
    form = {"grant_type": "password", "username": username, "password": password_and_code}
    return with_body(load(TOKEN_TEMPLATE), urlencode(form).encode())


# The same context, as source for the driver processes that run with the standard library
# only (bench.cold_start, bench.memory): what Mangum reads of the Lambda runtime's.
CONTEXT_SOURCE = """
class Context:
    function_name = "authapi-ApiFunction"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:authapi-ApiFunction"
    memory_limit_in_mb = 1024
    aws_request_id = "driver"
    log_group_name = "/aws/lambda/authapi-ApiFunction"
    log_stream_name = "driver"
    identity = None
    client_context = None

    def get_remaining_time_in_millis(self):
        return 10000
"""


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's `context` that Mangum reads."""

    function_name: str = "authapi-bench"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:authapi-bench"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/authapi-bench"
    log_stream_name: str = "bench"
    identity: None = None
    client_context: None = None

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
