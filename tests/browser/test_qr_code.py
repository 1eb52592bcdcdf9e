"""The enrollment QR code (`qr_svg` of POST /auth/mfa/setup) is a standalone SVG file:
saved as the README's walkthrough does (`jq -r .qr_svg > qr.svg`) and opened in a
browser, it shows a QR code (not an XML tree) that a barcode reader decodes to the
otpauth:// URI, with the 4-module quiet zone of ISO/IEC 18004."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from playwright.sync_api import Browser

from tests.support import PASSWORD, Directory

pytestmark = pytest.mark.browser

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
FINDER_PATTERN_MODULES = 7  # the dark square in each corner is 7 modules wide


def _enrollment(client: TestClient, directory: Directory) -> dict[str, str]:
    account = directory.create(enrolled=False)
    login = client.post("/auth/login", json={"username": account.username, "password": PASSWORD})
    setup = client.post("/auth/mfa/setup", json={"mfa_token": login.json()["mfa_token"]})
    assert setup.status_code == 200, setup.text
    body: dict[str, str] = setup.json()
    return body


def _quiet_zone_modules(image: Image.Image) -> float:
    """The light margin left of the symbol, in modules: the first dark run of the top
    row of the symbol is the finder pattern, 7 modules wide."""
    gray = image.convert("L")
    width, height = gray.size
    dark = [[gray.getpixel((x, y)) < 128 for x in range(width)] for y in range(height)]  # type: ignore[operator]
    top = next(y for y in range(height) if any(dark[y]))
    row = dark[top]
    left = row.index(True)
    run = next(x for x in range(left, width) if not row[x]) - left
    return left / (run / FINDER_PATTERN_MODULES)


def test_qr_svg_opens_as_a_file_and_decodes(
    browser: Browser, client: TestClient, directory: Directory, tmp_path: Path
) -> None:
    enrollment = _enrollment(client, directory)
    svg_file = tmp_path / "qr.svg"
    svg_file.write_text(enrollment["qr_svg"], encoding="utf-8")
    page = browser.new_page()
    page.goto(svg_file.as_uri())
    # Without its namespace, the file would be shown as an XML tree (an HTML document).
    assert page.evaluate("document.documentElement.namespaceURI") == SVG_NAMESPACE
    image = Image.open(io.BytesIO(page.locator("svg").screenshot()))
    page.close()

    [decoded] = zxingcpp.read_barcodes(image)
    assert decoded.format == zxingcpp.BarcodeFormat.QRCode
    assert decoded.text == enrollment["otpauth_uri"]
    assert _quiet_zone_modules(image) == pytest.approx(4, abs=0.25)
