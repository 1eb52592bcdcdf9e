"""Passkeys on the account page in a real browser: headless Chromium with a CDP virtual
authenticator (a platform authenticator with user verification, as a laptop's
fingerprint reader), against `make run` at http://localhost:PORT (the local run's
relying party: an IP address cannot be one).

A user enrolls (TOTP, with the passkey offered beside the QR code), adds a passkey
from the profile, removes the first one, signs out, signs in with the passkey alone,
and signs in with the password and the passkey as second factor. The page uses the
browser's WebAuthn JSON API under the unchanged CSP.

NIST SP 800-63B 5.1.8/5.1.9 (multi-factor cryptographic authenticators) and 5.2.5
(verifier impersonation resistance: the browser binds each signature to the origin);
ASVS 5.0 6.2.3 (the password again before an authenticator is added).
"""

from __future__ import annotations

from typing import Any

import httpx2
import pyotp
import pytest
from playwright.sync_api import Browser, CDPSession, ConsoleMessage, Page, expect

from tests.browser.test_account_page import TIMEOUT_MS, screenshot, sign_in_with_password
from tests.e2e.test_local_run import ADMIN_PASSWORD, LocalRun, bearer, ok

pytestmark = pytest.mark.browser

USERNAME = "passkey.user"
USER_PASSWORD = "passkey user passphrase, long enough 4Rt"


def add_authenticator(cdp: CDPSession) -> str:
    """A platform authenticator that holds discoverable credentials and verifies the user
    (FACTS.md: Chromium's virtual authenticator, no user gesture needed)."""
    answer = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    authenticator_id: str = answer["authenticatorId"]
    return authenticator_id


def credentials(cdp: CDPSession, authenticator_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cdp.send(
        "WebAuthn.getCredentials", {"authenticatorId": authenticator_id}
    )["credentials"]
    return found


def admin_headers(http: httpx2.Client, local_run: LocalRun) -> dict[str, str]:
    admin_totp = pyotp.parse_uri(local_run.otpauth_uri())
    assert isinstance(admin_totp, pyotp.TOTP)
    password = ADMIN_PASSWORD + admin_totp.now()
    return bearer(ok(http.post("/token", data={"username": "admin", "password": password})))


def sign_out(page: Page) -> None:
    page.locator("#profile-view").get_by_role("button", name="Sign out", exact=True).click()
    expect(page.locator("#login-view")).to_be_visible()


def test_enroll_add_a_passkey_and_sign_in_with_it_alone_and_as_second_factor(
    browser: Browser, local_run: LocalRun
) -> None:
    local_run.wait_until_healthy()
    with httpx2.Client(base_url=local_run.base_url, timeout=15.0) as http:
        admin = admin_headers(http, local_run)
        body = {"username": USERNAME, "email": "passkey@example.com", "password": USER_PASSWORD}
        user = ok(http.post("/users", headers=admin, json=body), 201)

        port = local_run.base_url.rsplit(":", 1)[1]
        context = browser.new_context(base_url=f"http://localhost:{port}")
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        problems: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and "Failed to load resource" not in message.text:
                problems.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(str(error)))
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        laptop = add_authenticator(cdp)

        page.goto("/account")
        expect(page.locator("#passkey-signin")).to_be_visible()

        # First sign-in: the QR code, and a passkey offered beside it.
        sign_in_with_password(page, USERNAME, USER_PASSWORD)
        setup = page.locator("#setup-view")
        expect(setup).to_be_visible()
        offer = setup.get_by_label("Also add a passkey for this device", exact=False)
        expect(offer).to_be_visible()
        offer.check()
        screenshot(page, "passkeys-setup-offer.png")
        secret = page.locator("#setup-secret").inner_text().replace(" ", "")
        code = setup.get_by_label("Authentication code", exact=True)
        code.fill(pyotp.TOTP(secret).now())
        code.press("Enter")
        expect(page.locator("#codes-view")).to_be_visible()
        expect(page.locator("#notice")).to_have_text(
            "A passkey for this device is added to your account."
        )
        assert len(credentials(cdp, laptop)) == 1
        codes_view = page.locator("#codes-view")
        codes_view.get_by_label("I have saved my recovery codes").check()
        codes_view.get_by_role("button", name="Continue").click()
        expect(page.locator("#profile-view")).to_be_visible()
        expect(page.locator("#passkey-list li")).to_have_count(1)

        # Add a passkey from the profile, on another authenticator (say, a phone's).
        cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": laptop})
        phone = add_authenticator(cdp)
        card = page.locator("#passkeys-card")
        card.get_by_label("Name of the passkey").fill("Phone")
        card.get_by_label("Password", exact=True).fill(USER_PASSWORD)
        card.get_by_role("button", name="Add a passkey").click()
        expect(page.locator("#notice")).to_have_text("Your passkey is added.")
        expect(page.locator("#passkey-list li")).to_have_count(2)
        [phone_credential] = credentials(cdp, phone)
        assert phone_credential["isResidentCredential"] is True
        screenshot(page, "passkeys-profile.png")

        # Remove the first one (its authenticator is gone).
        page.get_by_role("button", name="Remove passkey Passkey").click()
        expect(page.locator("#notice")).to_have_text("The passkey is removed.")
        expect(page.locator("#passkey-list li")).to_have_count(1)
        expect(page.locator("#passkey-list")).to_contain_text("Phone")
        stored = ok(http.get(f"/users/{user['id']}/passkeys", headers=admin))["items"]
        assert [passkey["name"] for passkey in stored] == ["Phone"]

        # Sign out; sign in with the passkey alone.
        sign_out(page)
        page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page.locator("#profile-view")).to_be_visible()
        expect(page.locator("#profile-username")).to_have_text(USERNAME)
        screenshot(page, "passkeys-passwordless.png")

        # Sign out; the password, then the passkey as second factor.
        sign_out(page)
        sign_in_with_password(page, USERNAME, USER_PASSWORD)
        mfa = page.locator("#mfa-view")
        expect(mfa).to_be_visible()
        mfa.get_by_role("button", name="Use a passkey").click()
        expect(page.locator("#profile-view")).to_be_visible()
        expect(page.locator("#error")).to_be_hidden()
        screenshot(page, "passkeys-second-factor.png")

        events = ok(
            http.get("/audit-events", headers=admin, params={"user_id": user["id"], "limit": 100})
        )["items"]
        factors = [e["detail"]["factor"] for e in events if e["type"] == "login_succeeded"]
        assert factors[:2] == ["passkey", "passwordless_passkey"], factors
        assert [e["type"] for e in events].count("passkey_registered") == 2
        assert "passkey_removed" in [e["type"] for e in events]
        context.close()
    assert problems == [], problems
