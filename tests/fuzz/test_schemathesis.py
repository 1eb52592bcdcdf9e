"""Schemathesis against the app's own OpenAPI document, inside moto.

Every operation of `/openapi.json` is fuzzed with schema-conforming (positive) and
schema-violating (negative) requests, once without a token, once with a signed-in
user's access token and once with a signed-in admin's. Each response must not be a
5xx and must agree with the document: a documented status code, a documented content
type and a body matching the documented schema for that status.

Each (operation, caller) is its own test with a fresh moto and a fresh app, so a
request that ends a session or deletes a user cannot leak into another test. The
number of examples is bounded (`AUTHAPI_FUZZ_EXAMPLES`, default 40) so the whole file
takes a couple of minutes in CI; raise it locally for a deeper run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authapi.main import create_app
from authapi.users.domain import Role
from tests.support import Account, Directory

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = int(os.environ.get("AUTHAPI_FUZZ_EXAMPLES", "40"))

CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# Routes after which the caller's tokens no longer work: sign in again so the rest of
# the examples still run with a valid token.
SESSION_ENDING = {("POST", "/auth/logout"), ("POST", "/auth/logout-all")}

CALLERS = ("anonymous", "user", "admin")


def _operations() -> list[tuple[str, str, bool]]:
    """(method, path, takes input) for every operation in the document. Building the
    document needs no AWS: create_app only binds the models to the table name."""
    document = create_app().openapi()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            takes_input = bool(operation.get("parameters")) or "requestBody" in operation
            found.append((method.upper(), path, takes_input))
    return found


OPERATIONS = _operations()


def test_every_operation_is_fuzzed() -> None:
    """The parametrization is not silently empty or partial."""
    assert len(OPERATIONS) >= 20
    assert ("POST", "/users", True) in OPERATIONS
    assert ("POST", "/token", True) in OPERATIONS


class Caller:
    """Who sends the fuzzed requests: nobody, or a signed-in user or admin whose
    tokens are renewed whenever a fuzzed request ended their session."""

    def __init__(self, directory: Directory, kind: str) -> None:
        self.directory = directory
        self.account: Account | None = None
        if kind == "user":
            self.account = directory.user()
        elif kind == "admin":
            self.account = directory.admin()

    @property
    def headers(self) -> dict[str, str]:
        return self.account.headers if self.account else {}

    def after(self, method: str, path: str, status_code: int) -> None:
        if self.account and (method, path) in SESSION_ENDING and status_code < 300:
            self.directory.sign_in(self.account)


@pytest.mark.parametrize("caller_kind", CALLERS)
@pytest.mark.parametrize(
    ("method", "path", "takes_input"),
    [pytest.param(*op, id=f"{op[0]} {op[1]}") for op in OPERATIONS],
)
def test_operation_never_fails_and_keeps_to_its_schema(
    app: FastAPI,
    directory: Directory,
    method: str,
    path: str,
    takes_input: bool,
    caller_kind: str,
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema[path][method]
    caller = Caller(directory, caller_kind)

    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    if takes_input:
        # Negative data needs something to break: no parameters and no body, no cases.
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    if "{user_id}" in path:
        # Random ids only ever reach "404 no such user": aim some of the cases at a
        # real user so the success responses are checked against the schema too.
        target = directory.create(Role.USER)
        strategies.append(
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"user_id": target.id})
        )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(case=st.one_of(strategies))
    def fuzz(case: Case[Any]) -> None:
        headers = caller.headers
        response = case.call(headers=headers)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        finally:
            caller.after(method, path, response.status_code)

    fuzz()
