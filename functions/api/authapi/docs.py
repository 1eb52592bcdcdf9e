"""Swagger UI and ReDoc served with assets from an installed package, never a CDN.

A CDN would break the docs on locked-down networks, on a laptop offline, and under
a strict Content-Security-Policy. The assets come from the `fastapi-offline` wheel.
"""

from __future__ import annotations

import functools
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"
_ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"


# The one URL outside the app that the bundled ReDoc loads: the Redocly logo of its menu
# footer. Pointed at an empty image instead, which the component hides (its onError).
_REDOC_LOGO = b'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
_NO_LOGO = b'src:"data:,"'


@functools.cache
def _redoc_js() -> bytes:
    bundle = (_ASSETS_DIR / "redoc.standalone.js").read_bytes()
    if _REDOC_LOGO not in bundle:  # a new fastapi-offline: look at what it loads now
        raise RuntimeError("redoc.standalone.js no longer loads the logo this patch expects")
    return bundle.replace(_REDOC_LOGO, _NO_LOGO)


def install(app: FastAPI) -> None:
    """Call with `FastAPI(docs_url=None, redoc_url=None)`: these routes replace them."""

    # Before the mount, so that it answers this one file of the directory.
    @app.get(f"{ASSETS_PATH}/redoc.standalone.js", include_in_schema=False)
    def redoc_js() -> Response:
        return Response(_redoc_js(), media_type="text/javascript; charset=utf-8")

    app.mount(ASSETS_PATH, StaticFiles(directory=_ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": False},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
