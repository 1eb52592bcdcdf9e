"""`GET /account` and its two static assets, with a strict Content-Security-Policy.

The page talks only to this API's public endpoints with relative URLs, so it works at
the API Gateway URL and locally alike. Tokens live in the page's JavaScript memory only.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from authapi.routing import DeferredAPIRoute

ACCOUNT_PATH = "/account"
ASSETS_PATH = f"{ACCOUNT_PATH}/assets"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# The only files served from static/: anything else under /account/assets is a 404.
ASSET_TYPES = {
    "account.js": "text/javascript; charset=utf-8",
    "account.css": "text/css; charset=utf-8",
}

router = APIRouter(include_in_schema=False, route_class=DeferredAPIRoute)


@cache
def _static(name: str) -> bytes:
    return (resources.files("authapi.account") / "static" / name).read_bytes()


@router.get(ACCOUNT_PATH)
def account_page() -> Response:
    return Response(
        _static("account.html"), media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )


@router.get(ASSETS_PATH + "/{name}")
def account_asset(name: str) -> Response:
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        raise HTTPException(status_code=404)
    return Response(_static(name), media_type=media_type, headers=PAGE_HEADERS)
