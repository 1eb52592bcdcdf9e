"""Swagger UI in a real browser: Authorize with password + code, call GET /users/me.

Headless Chromium (Debian's `chromium`) driven by Playwright against `make run`. The
page's assets come from the app itself (no CDN), so this also proves /docs works with
no network beyond loopback.
"""

from __future__ import annotations

import pyotp
import pytest
from playwright.sync_api import Browser, Request, expect

from tests.browser.test_account_page import OUTPUT_DIR, TIMEOUT_MS
from tests.e2e.test_local_run import ADMIN_PASSWORD, LocalRun

pytestmark = pytest.mark.browser


def test_authorize_in_swagger_ui_and_call_users_me(browser: Browser, local_run: LocalRun) -> None:
    local_run.wait_until_healthy()
    admin_totp = pyotp.parse_uri(local_run.otpauth_uri())
    assert isinstance(admin_totp, pyotp.TOTP)
    page = browser.new_page()
    outside: list[str] = []

    def note_outside(request: Request) -> None:
        if not request.url.startswith(local_run.base_url):
            outside.append(request.url)

    page.on("request", note_outside)
    page.goto(f"{local_run.base_url}/docs")
    page.locator("button.authorize").first.click(timeout=TIMEOUT_MS)
    page.locator("#oauth_username").fill("admin")
    page.locator("#oauth_password").fill(ADMIN_PASSWORD + admin_totp.now())
    page.locator(".auth-btn-wrapper button.authorize").click()
    expect(page.locator(".auth-container").first).to_contain_text("Authorized", timeout=TIMEOUT_MS)
    page.locator("button.btn-done").first.click()

    operation = page.locator("#operations-users-read_me_users_me_get")
    operation.locator(".opblock-summary").first.click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status").first
    expect(status).to_have_text("200", timeout=TIMEOUT_MS)
    expect(operation.locator(".live-responses-table .microlight").first).to_contain_text(
        '"username": "admin"'
    )
    OUTPUT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / "swagger-users-me.png"), full_page=True)
    assert outside == []
