"""TOTP (RFC 6238) with the parameters every authenticator app supports:
SHA-1, 6 digits, 30-second steps, 160-bit secrets from the OS CSPRNG (RFC 4226 §4).
"""

from __future__ import annotations

import hmac
import io
from typing import TYPE_CHECKING

from authapi.core.lazy_imports import imported_on_first_use

if TYPE_CHECKING:
    import pyotp
else:
    # Runs with the first TOTP check or enrollment (~1.5 ms of a cold start otherwise).
    pyotp = imported_on_first_use("pyotp")

STEP_SECONDS = 30
DIGITS = 6
# One step either side tolerates a phone clock that is up to ~30 s off (RFC 6238 §5.2).
ALLOWED_DRIFT_STEPS = 1


def new_secret() -> str:
    # 32 base32 characters = 160 bits, the length RFC 4226 recommends.
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, account_name: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


# ISO/IEC 18004 asks for a light margin (quiet zone) of 4 modules around the symbol.
QR_QUIET_ZONE_MODULES = 4
QR_MODULE_PIXELS = 4


def qr_svg(uri: str) -> str:
    """A standalone SVG document (namespace, viewBox, size): it opens as a file, and
    an <img> can show it as a data: URL, where an SVG never runs script."""
    # Imported here: only enrollment draws a QR code, and a cold start serving anything
    # else would pay for segno's import.
    import segno

    code = segno.make(uri, error="m")
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        xmldecl=False,
        nl=False,
        scale=QR_MODULE_PIXELS,
        border=QR_QUIET_ZONE_MODULES,
        omitsize=True,  # segno's way to get a viewBox, which scales without blurring
        light="#fff",  # a light background, also in a viewer with a dark one
    )
    width, height = code.symbol_size(scale=QR_MODULE_PIXELS, border=QR_QUIET_ZONE_MODULES)
    # ... and the size back, so that a file viewer shows it at its natural size.
    return out.getvalue().decode().replace("<svg ", f'<svg width="{width}" height="{height}" ', 1)


def time_step(at: float) -> int:
    return int(at // STEP_SECONDS)


def matching_step(secret: str, code: str, at: float) -> int | None:
    """Return the time step whose code equals `code`, or None.

    The caller must still make sure the step is later than the last one accepted for
    this user (single use, RFC 6238 §5.2); this function only checks the value.
    """
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = time_step(at)
    for step in range(current - ALLOWED_DRIFT_STEPS, current + ALLOWED_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
