"""The FastAPI application and its Lambda entry point."""

from __future__ import annotations

import gc

# Importing this module is a Lambda container's whole init (the imports, the app, the
# warm-up). Python's cyclic garbage collector would run ~60 times during it, each pass
# walking objects that all stay alive (modules, classes, routes): ~50 ms of a cold start
# on the benchmark machine, to find ~500 unreachable objects in all. So it is paused
# until init is over, and then everything init made is frozen (`gc.freeze`: moved where
# collections never walk), so that no later collection, during some request, walks the
# ~120,000 long-lived objects either (a full pass over them takes ~40 ms). The few
# hundred objects of garbage stay, as a one-off. docs/cold-start.md has the figures.
_COLLECTOR_WAS_ENABLED = gc.isenabled()
gc.disable()

import logging

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from mangum import Mangum

from authapi import docs, http_errors, routing, warmup
from authapi.account.routes import router as account_router
from authapi.audit.routes import router as audit_router
from authapi.auth import oauth, oauth_routes
from authapi.auth.routes import router as auth_router
from authapi.core import db
from authapi.core.body_limit import BodySizeLimit
from authapi.core.config import Settings
from authapi.core.headers import SecurityHeaders
from authapi.core.request_context import RequestContextMiddleware
from authapi.passkeys.routes import router as passkeys_router
from authapi.users.routes import router as users_router

DESCRIPTION = """
User management with TOTP two-factor authentication.

**Authorize** in Swagger UI with your username and, as the password, your password
immediately followed by the current 6-digit code from your authenticator app.
"""


def create_app(settings: Settings) -> FastAPI:
    """The app for these settings: the table is bound here, and the routes get the
    settings from `app.state` (deps.current_settings)."""
    # Our request and security lines are INFO/WARNING; Lambda's root logger default
    # (WARNING) would drop the request lines.
    logging.getLogger("authapi").setLevel(settings.log_level)
    # The AWS libraries' DEBUG output holds whole request and response bodies (key sets,
    # password hashes, token digests): never let a root DEBUG setting switch it on.
    for library in ("botocore", "pynamodb", "urllib3"):
        logging.getLogger(library).setLevel(logging.WARNING)
    db.bind(settings)
    app = FastAPI(
        title="AuthAPI",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,  # replaced by self-hosted assets in `docs.install`
        redoc_url=None,
    )
    app.state.settings = settings
    app.router.route_class = routing.DeferredAPIRoute  # the app's own routes, as the routers'
    http_errors.install(app)
    docs.install(app)

    @app.get("/health", tags=["health"], responses=http_errors.error_responses())
    def health() -> dict[str, str]:
        """Liveness only: answers without touching AWS."""
        return {"status": "ok"}

    for router in (
        oauth_routes.router,
        oauth_routes.metadata_router,
        auth_router,
        passkeys_router,
        users_router,
        audit_router,
        account_router,
    ):
        # The app takes the routers' routes as they are, not through `include_router`:
        # FastAPI 0.163 keeps an included router whole and builds each of its routes a
        # second time, for the including app, when the first request walks through it
        # (a cold start's first request paid ~20 route builds), and then matches every
        # request through the router twice. These routers add no prefix, dependency or
        # response class that an inclusion would have to apply: their routes are complete.
        app.router.routes.extend(router.routes)
    routing.install(app.router)
    oauth.document(app)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allow_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # The last added is the outermost: SecurityHeaders wraps BodySizeLimit, so its 413
    # answers carry the headers too (http_errors covers the 500s that bypass them all).
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders, cacheable_prefixes=(docs.ASSETS_PATH,))
    app.add_middleware(RequestContextMiddleware)
    return app


# Importing this module is the Lambda container's start-up (the handler is
# authapi.main.handler): the settings are read here, once, and bound before any request.
settings = Settings.from_env()
app = create_app(settings)
if warmup.in_lambda():
    warmup.prepare_container(settings)
    warmup.register_snapshot_hooks(settings, app)
handler = Mangum(app, lifespan="off")
gc.freeze()  # init is over: see the top of this module
if _COLLECTOR_WAS_ENABLED:
    gc.enable()
