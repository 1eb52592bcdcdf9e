"""One resource per path: every method of a path is listed in a 405's `Allow`, and a
literal path such as `/users/me` is never answered by a template such as
`/users/{user_id}`.

Starlette tries routes in order and, for a path it knows, answers a wrong method with
the `Allow` of the *first* route of that path only (POST /users/me said `Allow: GET`
although PATCH and PUT exist), and a method that a literal path lacks falls through to
a template (DELETE /users/me reached the admin's DELETE /users/{user_id} with "me").
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route, Router
from starlette.types import Receive, Scope, Send


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
