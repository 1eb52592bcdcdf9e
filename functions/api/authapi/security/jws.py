"""Compact JWS (RFC 7515) with Ed25519 (RFC 8037, alg "EdDSA"): the one JOSE algorithm
this service signs with and accepts, on cryptography's Ed25519 keys.

A general JOSE library (PyJWT) imports, for every algorithm family it supports,
cryptography's RSA, EC, SSH and X.509 modules: tens of milliseconds of every cold start
for code the service never runs. What one fixed algorithm needs is the little below;
the claims' meaning is checked by the caller (authapi.security.tokens). Other
implementations (PyJWT, joserfc, authlib) verify these tokens in the tests.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
# RFC 7515 §2: base64url without padding. A length of 1 modulo 4 encodes no bytes.
_SEGMENT = re.compile(r"(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?")


class InvalidToken(Exception):
    """Not a compact JWS, not EdDSA, or not signed by the key."""


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(segment: str) -> bytes:
    if not _SEGMENT.fullmatch(segment):
        raise InvalidToken("not base64url")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error as exc:
        raise InvalidToken("not base64url") from exc


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        raise InvalidToken("not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken("not a JSON object")
    return value


def _compact_json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _segments(token: str) -> tuple[str, str, str, bytes]:
    """The header and payload segments, their signing input and the signature."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not three segments")
    header, payload, signature = parts
    _b64url_decode(payload)  # every segment is base64url before anything is trusted
    return header, payload, f"{header}.{payload}", _b64url_decode(signature)


def sign(claims: dict[str, Any], key: Ed25519PrivateKey, headers: dict[str, Any]) -> str:
    header = b64url_encode(_compact_json({"alg": ALGORITHM, **headers}))
    payload = b64url_encode(_compact_json(claims))
    signing_input = f"{header}.{payload}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode('ascii')))}"


def unverified_header(token: str) -> dict[str, Any]:
    """The header, to pick the key by its `kid`: trust nothing in it yet."""
    header, _, _, _ = _segments(token)
    return _json_object(_b64url_decode(header))


def verify(token: str, key: Ed25519PublicKey) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a token that `key` signed with EdDSA; InvalidToken otherwise."""
    header_segment, payload_segment, signing_input, signature = _segments(token)
    header = _json_object(_b64url_decode(header_segment))
    # The algorithm is pinned: never "none", never HMAC with the public key as secret.
    if header.get("alg") != ALGORITHM:
        raise InvalidToken("not EdDSA")
    # RFC 7515 §4.1.11: a token whose critical extensions are not understood is invalid,
    # and this implementation understands none.
    if "crit" in header:
        raise InvalidToken("critical extensions")
    try:
        key.verify(signature, signing_input.encode("ascii"))
    except InvalidSignature as exc:
        raise InvalidToken("bad signature") from exc
    return header, _json_object(_b64url_decode(payload_segment))


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """RFC 8037 §2: the public key as an OKP JSON Web Key."""
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(key.public_bytes_raw())}
