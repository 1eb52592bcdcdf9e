"""How routes are built and where blocking work runs (authapi/routing.py, core/blocking.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from mangum import Mangum

from authapi.core.blocking import run_blocking
from authapi.core.request_context import RequestContextMiddleware
from authapi.routing import DeferredAPIRoute
from bench import lambda_events
from bench.lambda_events import LambdaContext
from tests.support import run_fresh_python

# A fresh process: the routers' routes are module-level objects, built once per process.
FRESH_PROCESS = """
import os
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_DEFAULT_REGION="us-east-1", TABLE_NAME="authapi-routes",
                  SSM_PARAMETER_PREFIX="/authapi/routes")
os.environ.pop("AWS_ENDPOINT_URL", None)
import boto3
from moto import mock_aws
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from authapi.routing import DeferredAPIRoute
from infra.secrets import ensure_secrets
from infra.template import create_tables

def models_of(module):  # the Pydantic models that module has created (none before it runs)
    found, stack = set(), [BaseModel]
    while stack:
        for cls in stack.pop().__subclasses__():
            stack.append(cls)
            if cls.__module__ == module:
                found.add(cls.__name__)
    return found

RARELY_SERVED = ("authapi.auth.schemas", "authapi.passkeys.schemas", "authapi.audit.schemas")

def unbuilt(app):
    return {(method, route.path) for route in app.router.routes
            if isinstance(route, APIRoute) and "_deferred_options" in vars(route)
            for method in route.methods}

with mock_aws():
    create_tables(boto3.client("dynamodb"), {"UsersTable": "authapi-routes"})
    ensure_secrets(boto3.client("ssm"), "routes")
    from authapi.main import app
    routes = [route for route in app.router.routes if isinstance(route, APIRoute)]
    eager = [route.path for route in routes if not isinstance(route, DeferredAPIRoute)]
    assert eager == [], f"built at import (a router without route_class?): {eager}"
    before = unbuilt(app)
    assert len(before) >= 30, before
    client = TestClient(app)
    assert client.get("/users/me").status_code == 401
    assert before - unbuilt(app) == {("GET", "/users/me")}, before - unbuilt(app)
    for module in RARELY_SERVED:  # bodies of routes not served yet: not created
        assert models_of(module) == set(), (module, models_of(module))
    assert "UserOut" in models_of("authapi.users.schemas")
    assert "get" in client.get("/openapi.json").json()["paths"]["/users/me"]
    assert unbuilt(app) == set(), "the OpenAPI document builds every route"
    assert {"LoginRequest", "TokensOut"} <= models_of("authapi.auth.schemas")
    assert "AuditEventPage" in models_of("authapi.audit.schemas")
"""


def test_routes_are_built_on_first_use_only() -> None:
    """Importing the app builds no route (a new router that forgets
    `route_class=DeferredAPIRoute` fails here) and creates none of the request and
    response bodies of rarely served routes (core.lazy_imports.imported_on_first_use); a request
    builds the route it reaches, and only that one; the OpenAPI document builds them all."""
    run_fresh_python(FRESH_PROCESS)


def test_a_built_route_is_what_fastapi_would_have_built() -> None:
    router = APIRouter(route_class=DeferredAPIRoute)

    @router.put("/things/{thing_id}", status_code=202, name="put_thing")
    def put_thing(thing_id: int, label: str) -> dict[str, int | str]:
        """Put a thing."""
        return {"id": thing_id, "label": label}

    [deferred] = router.routes
    assert isinstance(deferred, DeferredAPIRoute)
    plain = APIRoute(
        "/things/{thing_id}", put_thing, methods=["PUT"], status_code=202, name="put_thing"
    )
    # What matching reads is there before the build, as FastAPI computes it.
    for attribute in ("path", "name", "methods", "path_format", "include_in_schema"):
        assert getattr(deferred, attribute) == getattr(plain, attribute), attribute
    assert deferred.path_regex.pattern == plain.path_regex.pattern
    assert "_deferred_options" in vars(deferred)
    # The first other attribute read builds it.
    assert deferred.status_code == 202
    assert "_deferred_options" not in vars(deferred)
    assert deferred.description == "Put a thing."
    assert [param.name for param in deferred.dependant.path_params] == ["thing_id"]
    assert [param.name for param in deferred.dependant.query_params] == ["label"]
    app = FastAPI()
    app.router.routes.append(deferred)
    with TestClient(app) as client:
        answer = client.put("/things/7", params={"label": "x"})
        assert (answer.status_code, answer.json()) == (202, {"id": 7, "label": "x"})
        assert client.put("/things/seven", params={"label": "x"}).status_code == 422


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _blocking_call_on_loop(request: Request) -> bool:
    del request
    return await run_blocking(_on_event_loop)


def _where(dependency_on_loop: Annotated[bool, Depends(_blocking_call_on_loop)]) -> dict[str, bool]:
    return {"endpoint": _on_event_loop(), "dependency": dependency_on_loop}


def _reporting_app() -> FastAPI:
    """A plain `def` endpoint and a dependency's `run_blocking` call that say whether they
    ran on the event loop's thread, behind the app's request-context middleware."""
    router = APIRouter(route_class=DeferredAPIRoute)
    router.add_api_route("/where", _where, methods=["GET"])
    app = FastAPI()
    app.router.routes.extend(router.routes)
    app.add_middleware(RequestContextMiddleware)
    return app


def test_blocking_work_under_mangum_runs_in_place() -> None:
    """Mangum runs one invocation at a time on its event loop: no thread is started,
    neither for a plain `def` endpoint nor for a dependency's blocking call."""
    handler: Any = Mangum(_reporting_app(), lifespan="off")
    result = handler(lambda_events.request("GET", "/where"), LambdaContext())
    assert result["statusCode"] == 200, result
    assert json.loads(result["body"]) == {"endpoint": True, "dependency": True}


def test_blocking_work_under_another_server_goes_to_the_thread_pool() -> None:
    """Served by uvicorn (here Starlette's test client), the loop serves other requests
    meanwhile: neither may hold it."""
    with TestClient(_reporting_app()) as client:
        assert client.get("/where").json() == {"endpoint": False, "dependency": False}
