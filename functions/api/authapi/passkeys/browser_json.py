"""The browser's WebAuthn JSON (`PublicKeyCredential.toJSON()`), read without trusting it.

Each reader answers None (or nothing) for a malformed body instead of raising: the
service turns a missing piece into the one refusal the contract allows (401 at sign-in,
422 at registration), never a 500. Verification itself is py_webauthn's.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

_KNOWN_TRANSPORTS = frozenset({"ble", "cable", "hybrid", "internal", "nfc", "smart-card", "usb"})


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def passkey_id(raw_credential_id: bytes) -> str:
    """A passkey's id in URLs and keys: credential ids run to 1023 bytes, over
    DynamoDB's sort key limit, so the id is their SHA-256."""
    return hashlib.sha256(raw_credential_id).hexdigest()


def client_challenge(credential: dict[str, Any]) -> str | None:
    """The challenge the browser signed, from the client data (JSON, not CBOR)."""
    from webauthn.helpers import base64url_to_bytes, parse_client_data_json

    try:
        client_data = credential["response"]["clientDataJSON"]
        return b64url(parse_client_data_json(base64url_to_bytes(client_data)).challenge)
    except Exception:  # any malformed input is simply no challenge
        return None


def response_field(credential: dict[str, Any], name: str) -> Any:
    """A field of the credential's `response`, None however malformed the body is."""
    response = credential.get("response")
    return response.get(name) if isinstance(response, dict) else None


def transports(credential: dict[str, Any]) -> tuple[str, ...]:
    """The transports the browser reported, the known ones only (for allowCredentials)."""
    reported = response_field(credential, "transports")
    if not isinstance(reported, list):
        return ()
    return tuple(sorted({t for t in reported if isinstance(t, str)} & _KNOWN_TRANSPORTS))


def raw_id(credential: dict[str, Any]) -> bytes | None:
    raw_id = credential.get("rawId")
    try:
        return unb64url(raw_id) if isinstance(raw_id, str) and raw_id else None
    except ValueError:  # binascii.Error included
        return None
