"""The account page (`GET /account`): strict security headers, only its own assets, no
inline script or style, and tokens never put into browser storage.

The browser walk through the page is in tests/browser/test_account_page.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.main import create_app

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
ASSETS = {
    "/account/assets/account.js": "text/javascript",
    "/account/assets/account.css": "text/css",
}


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside <script> and <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None and data.strip():
            self.inline.append(data)


@pytest.fixture
def plain_client() -> TestClient:
    return TestClient(create_app(Settings.from_env()))


def parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def test_account_page_carries_the_security_headers(plain_client: TestClient) -> None:
    response = plain_client.get("/account")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_account_page_is_not_in_the_openapi_document(plain_client: TestClient) -> None:
    paths = plain_client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/account")]


def test_account_page_has_no_inline_code_and_no_external_url(plain_client: TestClient) -> None:
    html = plain_client.get("/account").text
    page = parse(html)
    assert not page.inline, page.inline
    assert not re.search(r"(https?:)?//[a-z0-9]", html, re.IGNORECASE), "external URL"
    urls: list[str] = []
    for tag, attrs in page.tags:
        assert "style" not in attrs, (tag, attrs)
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag == "script":
            assert attrs.get("src"), attrs
        urls += [value for name, value in attrs.items() if name in ("src", "href") and value]
    scripts = [attrs["src"] for tag, attrs in page.tags if tag == "script"]
    styles = [attrs["href"] for tag, attrs in page.tags if tag == "link"]
    assert scripts == ["account/assets/account.js"]
    assert styles == ["account/assets/account.css"]
    for url in urls:
        # Relative to the page's own path, so it works under any API Gateway URL too.
        assert not url.startswith("/"), url
        assert plain_client.get(f"/{url}").status_code == 200, url


def test_account_page_inputs_are_labelled_and_autocompleted(plain_client: TestClient) -> None:
    page = parse(plain_client.get("/account").text)
    labelled = {attrs.get("for") for tag, attrs in page.tags if tag == "label"}
    inputs = {attrs["id"]: attrs for tag, attrs in page.tags if tag == "input" and "id" in attrs}
    for input_id, attrs in inputs.items():
        if attrs.get("aria-hidden") == "true":
            continue  # the password manager's hidden username hint
        assert input_id in labelled, input_id
    assert inputs["login-username"]["autocomplete"] == "username"
    assert inputs["login-password"]["autocomplete"] == "current-password"
    assert inputs["password-new"]["autocomplete"] == "new-password"
    for code_field in ("mfa-code", "setup-code", "recovery-code"):
        assert inputs[code_field]["autocomplete"] == "one-time-code", code_field
        assert inputs[code_field]["inputmode"] == "numeric", code_field
    forms = [attrs for tag, attrs in page.tags if tag == "form"]
    assert forms
    # Before the script has loaded, a submit must never put a password into a URL.
    assert all(attrs.get("method") == "post" for attrs in forms), forms


@pytest.mark.parametrize(("path", "media_type"), ASSETS.items())
def test_account_assets_are_served_with_their_types(
    plain_client: TestClient, path: str, media_type: str
) -> None:
    response = plain_client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content


@pytest.mark.parametrize(
    "path",
    [
        "/account/assets/account.html",
        "/account/assets/routes.py",
        "/account/assets/..%2Froutes.py",
        "/account/assets/%2e%2e%2f%2e%2e%2fmain.py",
        "/account/assets/nothing.js",
    ],
)
def test_only_the_two_assets_are_served(plain_client: TestClient, path: str) -> None:
    response = plain_client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_account_script_keeps_tokens_in_memory_only(plain_client: TestClient) -> None:
    source = plain_client.get("/account/assets/account.js").text
    for forbidden in ("localStorage", "sessionStorage", "document.cookie", "indexedDB"):
        assert forbidden not in source, forbidden
    # Server text goes in with textContent only: no HTML parsing of API answers.
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, sink
    assert not re.search(r"""fetch\(\s*['"](https?:)?//""", source)
    assert not re.search(r"https?://", source)
