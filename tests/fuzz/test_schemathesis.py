"""Schemathesis against the app's own OpenAPI document, inside moto.

Every operation of `/openapi.json` is fuzzed with schema-conforming (positive) and
schema-violating (negative) requests, once without a token, once with a signed-in
user's access token and once with a signed-in admin's, under every check schemathesis
has: no 5xx; a documented status code, content type, headers and body; schema-valid
data accepted and schema-invalid data refused (so the document states what the server
enforces); auth not ignored. The one allowance: a schema-valid request that breaks a
rule JSON Schema cannot state (the password policy beyond its length, an email address
the validator refuses, a cursor this server did not issue, a passkey credential that does
not verify) may be answered 422 naming
that rule; the document describes those rules.

Each (operation, caller) is its own test with a fresh moto and a fresh app. The
operations that end a session or remove a user (logout, logout-all, password change,
MFA reset, delete) get a fresh signed-in caller and a fresh target user for every
example, so no example can spoil the next. The number of examples is bounded
(`AUTHAPI_FUZZ_EXAMPLES`, default 40) so the whole file takes a few minutes in CI;
raise it locally for a deeper run.
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
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi import checks as openapi_checks

from authapi.core.config import Settings
from authapi.main import create_app
from authapi.users.domain import Role
from tests.support import PASSWORD, Account, Directory

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = int(os.environ.get("AUTHAPI_FUZZ_EXAMPLES", "40"))

# Rules JSON Schema cannot state, answered 422 with a detail naming the field ...
RULES_BEYOND_THE_SCHEMA = ("password: ", "email: ", "cursor: ", "credential: ")
# ... and the body limit (16 KiB of bytes on the wire, whatever the fields' lengths),
# answered 413 before any field is read.
BODY_TOO_LARGE = 413


def positive_data_acceptance(ctx: Any, response: Any, case: Case[Any]) -> bool | None:
    """Schemathesis' own check, except for the rules above."""
    try:
        return openapi_checks.positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if response.status_code == BODY_TOO_LARGE:
            return None
        detail = str(response.json().get("detail", "")) if response.status_code == 422 else ""
        if detail.startswith(RULES_BEYOND_THE_SCHEMA):
            return None
        raise


def negative_data_rejection(ctx: Any, response: Any, case: Case[Any]) -> bool | None:
    """Schemathesis' own check, which does not count the body limit's 413 as a refusal."""
    try:
        return openapi_checks.negative_data_rejection(ctx, response, case)
    except AcceptedNegativeData:
        if response.status_code == BODY_TOO_LARGE:
            return None
        raise


_OWN: dict[Callable[..., Any], Callable[..., Any]] = {
    openapi_checks.positive_data_acceptance: positive_data_acceptance,
    openapi_checks.negative_data_rejection: negative_data_rejection,
}


def _all_checks() -> list[Callable[..., Any]]:
    load_all_checks()
    # Every built-in check is a function (class-based ones are for custom checks).
    every = [check for check in CHECKS.get_all() if not isinstance(check, type)]
    assert set(_OWN) <= set(every)
    return [_OWN.get(check, check) for check in every]


CHECKS_RUN = _all_checks()

# Operations after which the caller's session (or the target user) is gone: every
# example gets its own fresh caller and target.
DESTRUCTIVE = {
    ("POST", "/auth/logout"),
    ("POST", "/auth/logout-all"),
    ("POST", "/users/me/password"),
    ("POST", "/users/{user_id}/mfa/reset"),
    ("DELETE", "/users/{user_id}"),
}
FRESH_TARGET = "fresh-target-user"

CALLERS = ("anonymous", "user", "admin")


def _operations() -> list[tuple[str, str, bool]]:
    """(method, path, takes input) for every operation in the document. Building the
    document needs no AWS: create_app only binds the models to the table name."""
    document = create_app(Settings.from_env()).openapi()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            takes_input = bool(operation.get("parameters")) or "requestBody" in operation
            found.append((method.upper(), path, takes_input))
    return found


OPERATIONS = _operations()


def test_every_operation_is_fuzzed() -> None:
    """The parametrization is not silently empty or partial, and every check runs."""
    assert len(OPERATIONS) >= 20
    assert ("POST", "/users", True) in OPERATIONS
    assert ("POST", "/token", True) in OPERATIONS
    assert {(method, path) for method, path, _ in OPERATIONS} >= DESTRUCTIVE
    names = {getattr(check, "__name__", "") for check in CHECKS_RUN}
    assert names >= {
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "positive_data_acceptance",
        "negative_data_rejection",
        "ignored_auth",
        "unsupported_method",
        "missing_required_header",
    }


class Caller:
    """Who sends the fuzzed requests: nobody, or a signed-in user or admin."""

    def __init__(self, directory: Directory, kind: str) -> None:
        self.directory = directory
        self.kind = kind
        self.account: Account | None = None
        self.fresh()

    def fresh(self) -> None:
        if self.kind == "user":
            self.account = self.directory.user()
        elif self.kind == "admin":
            self.account = self.directory.admin()

    @property
    def headers(self) -> dict[str, str]:
        return self.account.headers if self.account else {}


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
    destructive = (method, path) in DESTRUCTIVE

    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    if takes_input:
        # Negative data needs something to break: no parameters and no body, no cases.
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    if "{user_id}" in path:
        # Random ids only ever reach "404 no such user": aim some of the cases at a
        # real user so the success responses are checked against the schema too.
        target = FRESH_TARGET if destructive else directory.create(Role.USER).id
        strategies.append(
            operation.as_strategy(GenerationMode.POSITIVE, path_parameters={"user_id": target})
        )
    if (method, path) == ("POST", "/users/me/password"):
        # Random current passwords only ever reach 401: one example that succeeds.
        strategies.append(
            operation.as_strategy(
                GenerationMode.POSITIVE,
                body={"current_password": PASSWORD, "new_password": "a fresh passphrase 42"},
            )
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
        if destructive:
            caller.fresh()
            if case.path_parameters and case.path_parameters.get("user_id") == FRESH_TARGET:
                case.path_parameters["user_id"] = directory.create(Role.USER).id
        headers = caller.headers
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS_RUN, headers=headers)

    fuzz()
