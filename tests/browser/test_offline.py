"""No request leaves 127.0.0.1: Swagger UI, ReDoc and the account page load everything
from the app itself (the README promises docs that work offline and behind a strict
network policy). Every request the pages make is recorded, images and fonts included."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Request

from tests.browser.test_account_page import TIMEOUT_MS
from tests.e2e.test_local_run import LocalRun

pytestmark = pytest.mark.browser

# A selector that exists only once each page has rendered with its scripts.
PAGES = {
    "/docs": ".swagger-ui .opblock",
    "/redoc": "[role=menuitem]",
    "/account": "#login-form",
}


def _local(url: str) -> bool:
    """Loopback, or made by the page itself: inline data, or a blob of the page's origin
    (ReDoc starts its web worker from one)."""
    parts = urlsplit(url)
    if parts.scheme == "blob":
        parts = urlsplit(url.removeprefix("blob:"))
    return parts.scheme == "data" or parts.hostname == "127.0.0.1"


def test_docs_and_account_pages_load_nothing_from_outside(
    browser: Browser, local_run: LocalRun
) -> None:
    local_run.wait_until_healthy()
    for path, rendered in PAGES.items():
        page = browser.new_page()
        requested: list[str] = []
        errors: list[str] = []

        def note(request: Request, requested: list[str] = requested) -> None:
            requested.append(request.url)

        def note_error(message: ConsoleMessage, errors: list[str] = errors) -> None:
            # The browser's own try for /favicon.ico (the account page has none) aside.
            if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
                errors.append(message.text)

        page.on("request", note)
        page.on("console", note_error)
        page.goto(f"{local_run.base_url}{path}", wait_until="networkidle")
        page.wait_for_selector(rendered, timeout=TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
        outside = [url for url in requested if not _local(url)]
        assert requested, path
        assert outside == [], path
        assert errors == [], (path, errors)
        page.close()
