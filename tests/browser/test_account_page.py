"""The account page in a real browser: headless Chromium (Debian's `chromium`) driven by
Playwright against `make run`, over real HTTP.

A user created by the admin signs in at /account, enrolls TOTP from the setup screen,
saves the recovery codes, edits the profile, signs out and signs in again with a code;
a wrong code shows a readable message. The Content-Security-Policy is enforced by the
browser here, so a page that needed inline script or style would break this test.

Skipped only when /usr/bin/chromium is missing outside CI; under CI it fails instead.
"""

from __future__ import annotations

import time

import httpx2
import pyotp
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.e2e.test_local_run import ADMIN_PASSWORD, REPO_ROOT, LocalRun, bearer, ok

pytestmark = pytest.mark.browser

OUTPUT_DIR = REPO_ROOT / "test-output"
USERNAME = "browser.user"
USER_PASSWORD = "browser user passphrase, long enough 9Pw"
FULL_NAME = "Brenda Browser"
TIMEOUT_MS = 20_000
TOTP_STEP_SECONDS = 30


def wrong_code(secret: str) -> str:
    """A 6-digit code that no accepted TOTP step (previous, current, next) produces."""
    totp = pyotp.TOTP(secret)
    now = time.time()
    valid = {totp.at(now + drift * TOTP_STEP_SECONDS) for drift in (-1, 0, 1, 2)}
    return next(
        code
        for code in ("000000", "111111", "222222", "333333", "444444", "555555")
        if code not in valid
    )


def screenshot(page: Page, name: str) -> None:
    OUTPUT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT_DIR / name), full_page=True)


def assert_readable_error(page: Page, *words: str) -> None:
    error = page.locator("#error")
    expect(error).to_be_visible(timeout=TIMEOUT_MS)
    text = error.inner_text()
    for word in words:
        assert word in text.lower(), text
    for raw in ("{", "}", '"code"', '"detail"', "INVALID_CREDENTIALS", "Traceback"):
        assert raw not in text, text
    body = page.locator("body").inner_text()
    assert '"detail"' not in body, body
    assert '"code"' not in body, body


def sign_in_with_password(page: Page, username: str, password: str) -> None:
    """Keyboard only: type into the labelled fields and submit with Enter."""
    login = page.locator("#login-view")
    expect(login).to_be_visible(timeout=TIMEOUT_MS)
    login.get_by_label("Username", exact=True).fill(username)
    password_field = login.get_by_label("Password", exact=True)
    password_field.fill(password)
    password_field.press("Enter")


def test_a_new_user_enrolls_edits_the_profile_and_signs_in_again(
    browser: Browser, local_run: LocalRun
) -> None:
    local_run.wait_until_healthy()
    admin_totp = pyotp.parse_uri(local_run.otpauth_uri())
    assert isinstance(admin_totp, pyotp.TOTP)
    with httpx2.Client(base_url=local_run.base_url, timeout=15.0) as http:
        admin = ok(
            http.post(
                "/token", data={"username": "admin", "password": ADMIN_PASSWORD + admin_totp.now()}
            )
        )
        user = ok(
            http.post(
                "/users",
                headers=bearer(admin),
                json={
                    "username": USERNAME,
                    "email": "browser.user@example.com",
                    "password": USER_PASSWORD,
                },
            ),
            201,
        )

    context = browser.new_context(base_url=local_run.base_url)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Failed API calls (401 ...) are logged as errors too; CSP violations are not those.
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(message.text)

    def on_page_error(error: Exception) -> None:
        problems.append(str(error))

    page.on("console", on_console)
    page.on("pageerror", on_page_error)

    response = page.goto("/account")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-security-policy"].startswith("default-src 'self'")

    # First sign-in: password, then the setup screen (QR code and secret).
    sign_in_with_password(page, USERNAME, USER_PASSWORD)
    setup = page.locator("#setup-view")
    expect(setup).to_be_visible()
    expect(page.locator("#setup-secret")).not_to_be_empty()
    secret = page.locator("#setup-secret").inner_text().replace(" ", "")
    assert len(secret) >= 26, secret
    qr_loaded = page.locator("#setup-qr").evaluate(
        """img => img.src.startsWith('data:image/svg+xml')
            && img.decode().then(() => img.naturalWidth > 0, () => false)"""
    )
    assert qr_loaded, "the QR code (data: URL under img-src) did not render"
    screenshot(page, "account-setup.png")

    # A wrong code: a sentence, not a body.
    setup_code = setup.get_by_label("Authentication code", exact=True)
    setup_code.fill(wrong_code(secret))
    setup_code.press("Enter")
    assert_readable_error(page, "code")
    expect(setup).to_be_visible()
    screenshot(page, "account-wrong-code.png")

    setup_code.fill(pyotp.TOTP(secret).now())
    setup_code.press("Enter")

    # The recovery codes, once, and "I have saved them" before going on.
    codes_view = page.locator("#codes-view")
    expect(codes_view).to_be_visible()
    expect(page.locator("#error")).to_be_hidden()
    codes = page.locator("#codes-list code").all_inner_texts()
    assert len(codes) == 10, codes
    assert len(set(codes)) == 10, codes
    continue_button = codes_view.get_by_role("button", name="Continue")
    expect(continue_button).to_be_disabled()
    screenshot(page, "account-recovery-codes.png")
    saved = codes_view.get_by_label("I have saved my recovery codes")
    saved.focus()
    page.keyboard.press("Space")
    expect(saved).to_be_checked()
    expect(continue_button).to_be_enabled()
    page.keyboard.press("Tab")
    expect(continue_button).to_be_focused()
    page.keyboard.press("Enter")

    # Signed in: the profile, then edit the full name.
    profile = page.locator("#profile-view")
    expect(profile).to_be_visible()
    expect(page.locator("#profile-username")).to_have_text(USERNAME)
    expect(page.locator("#profile-mfa")).to_have_text("On")
    assert page.locator("#codes-list li").count() == 0, "recovery codes left in the page"
    full_name = profile.get_by_label("Full name", exact=True)
    full_name.fill(FULL_NAME)
    full_name.press("Enter")
    expect(page.locator("#notice")).to_have_text("Your profile is saved.")
    expect(full_name).to_have_value(FULL_NAME)
    screenshot(page, "account-profile.png")
    with httpx2.Client(base_url=local_run.base_url, timeout=15.0) as http:
        stored = ok(http.get(f"/users/{user['id']}", headers=bearer(admin)))
    assert stored["full_name"] == FULL_NAME, stored

    # Tokens live in memory only.
    storage = page.evaluate("() => [localStorage.length, sessionStorage.length, document.cookie]")
    assert storage == [0, 0, ""], storage
    assert context.cookies() == []

    # Sign out, then sign in again with the next step's code (one step of drift is
    # accepted; the current step's code was spent on the enrollment).
    profile.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("#notice")).to_have_text("You are signed out.")
    expect(profile).to_be_hidden()

    sign_in_with_password(page, USERNAME, USER_PASSWORD)
    mfa = page.locator("#mfa-view")
    expect(mfa).to_be_visible()
    code_field = mfa.get_by_label("Authentication code", exact=True)
    expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    expect(code_field).to_have_attribute("inputmode", "numeric")
    code_field.fill(wrong_code(secret))
    code_field.press("Enter")
    assert_readable_error(page, "code")
    expect(mfa).to_be_visible()

    code_field.fill(pyotp.TOTP(secret).at(time.time() + TOTP_STEP_SECONDS))
    code_field.press("Enter")
    expect(profile).to_be_visible()
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#profile-full-name")).to_have_value(FULL_NAME)
    expect(page.locator("#profile-username")).to_have_text(USERNAME)

    # Sign out everywhere ends this session too.
    profile.get_by_role("button", name="Sign out everywhere").click()
    expect(page.locator("#login-view")).to_be_visible()
    expect(page.locator("#notice")).to_have_text("You are signed out on every device.")

    assert not problems, problems
    context.close()
