"""How the app's routes are built and matched.

Routes are built on first use (`DeferredAPIRoute`). And there is one resource per path:
every method of a path is listed in a 405's `Allow`, and a literal path such as
`/users/me` is never answered by a template such as `/users/{user_id}`.

Starlette tries routes in order and, for a path it knows, answers a wrong method with
the `Allow` of the *first* route of that path only (POST /users/me said `Allow: GET`
although PATCH and PUT exist), and a method that a literal path lacks falls through to
a template (DELETE /users/me reached the admin's DELETE /users/{user_id} with "me").
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route, Router, compile_path, get_name
from starlette.types import Receive, Scope, Send

from authapi.core.blocking import in_place_under_mangum

_BUILDING = threading.RLock()


class DeferredAPIRoute(APIRoute):
    """A FastAPI route that is built when it is first used: by the first request it
    matches, or by the OpenAPI document, whichever reads it first.

    Building a route is FastAPI reading the endpoint's signature into a dependency graph
    and making a validator or serializer for each body, parameter and response model. For
    this app's ~45 routes that was ~40 ms of every cold start (the route modules' own
    import time), while a container serves a handful of routes in its life, often one.
    Until the build, the route has what matching a request and `url_path_for` read
    (path, methods, name), computed as FastAPI computes them; the build then sets every
    attribute exactly as `APIRoute.__init__` does, because it *is* `APIRoute.__init__`.
    A declaration error therefore surfaces at the route's first use, not at import:
    tests/api/test_openapi.py builds every route.

    A plain `def` endpoint runs in place when the request came through Mangum, and in
    the thread pool otherwise (`core.blocking.in_place_under_mangum`).
    """

    def __init__(self, path: str, endpoint: Any, **options: Any) -> None:
        self.path = path
        self.name = get_name(endpoint) if options.get("name") is None else options["name"]
        self.endpoint = in_place_under_mangum(endpoint)
        self.include_in_schema = options.get("include_in_schema", True)
        self.methods = {method.upper() for method in options.get("methods") or ["GET"]}
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self._deferred_options = options

    def __getattr__(self, name: str) -> Any:
        # Python calls this only for an attribute that is not set: before the build,
        # anything but the matching attributes above. Re-entrant, because the build
        # itself reads attributes it sets as it goes.
        with _BUILDING:
            options = self.__dict__.pop("_deferred_options", None)
            if options is not None:
                APIRoute.__init__(self, self.path, self.endpoint, **options)
        return object.__getattribute__(self, name)


class _MethodNotAllowed:
    """An ASGI app (not a function), so its Route takes every method."""

    def __init__(self, allow: str) -> None:
        self.allow = allow

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise HTTPException(status_code=405, headers={"Allow": self.allow})


def install(router: Router) -> None:
    """Call once, when all of the app's routes are registered. Groups the routes of each
    path together (at the place of the path's first route) and closes each group with a
    route that takes any other method and answers 405 with all of the path's methods."""
    groups: dict[str, list[Route]] = {}
    order: list[BaseRoute | str] = []
    for route in router.routes:
        if isinstance(route, Route) and route.methods:
            if route.path not in groups:
                groups[route.path] = []
                order.append(route.path)
            groups[route.path].append(route)
        else:  # mounts and included routers keep their place
            order.append(route)
    routes: list[BaseRoute] = []
    for entry in order:
        if not isinstance(entry, str):
            routes.append(entry)
            continue
        group = groups[entry]
        methods = sorted({method for route in group for method in route.methods or ()})
        routes.extend(group)
        routes.append(Route(entry, _MethodNotAllowed(", ".join(methods)), include_in_schema=False))
    router.routes[:] = routes
