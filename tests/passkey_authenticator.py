"""A software WebAuthn authenticator for the API tests: what a browser plus a platform
authenticator send, built from the options the API hands out (ES256 keys from
`cryptography`, CBOR from `cbor2`). Each knob makes one way an answer can be wrong."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "http://testserver"  # the TestClient's: the API's default relying party
RP_ID = "testserver"
# Flags of authenticator data (WebAuthn §6.1): user present, user verified, attested data.
UP, UV, AT = 0x01, 0x04, 0x40
AAGUID = bytes.fromhex("0123456789abcdef0123456789abcdef")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One discoverable ES256 credential."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    sign_count: int = 0
    user_handle: bytes | None = None

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    @property
    def passkey_id(self) -> str:
        """The API's id of this passkey (SHA-256 of the credential id)."""
        return hashlib.sha256(self.credential_id).hexdigest()

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def _auth_data(self, rp_id: str, flags: int, count: int, attested: bytes = b"") -> bytes:
        return (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + struct.pack(">I", count)
            + attested
        )

    def create(
        self,
        options: dict[str, Any],
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        uv: bool = True,
        self_attestation: bool = False,
    ) -> dict[str, Any]:
        """navigator.credentials.create() and `.toJSON()`, for creation options."""
        self.user_handle = unb64url(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attested = AAGUID + struct.pack(">H", len(self.credential_id)) + self.credential_id
        auth_data = self._auth_data(
            rp_id or options["rp"]["id"],
            UP | AT | (UV if uv else 0),
            self.sign_count,
            attested + self._cose_key(),
        )
        statement: dict[str, Any] = {}
        if self_attestation:  # "packed" without a certificate: signed by the credential
            signed = auth_data + hashlib.sha256(client_data).digest()
            statement = {"alg": -7, "sig": self.key.sign(signed, ec.ECDSA(hashes.SHA256()))}
        attestation = cbor2.dumps(
            {
                "fmt": "packed" if self_attestation else "none",
                "attStmt": statement,
                "authData": auth_data,
            }
        )
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        uv: bool = True,
        sign_count: int | None = None,
        tamper: bool = False,
    ) -> dict[str, Any]:
        """navigator.credentials.get() and `.toJSON()`, for request options. The counter
        moves on by one unless `sign_count` says what to send."""
        self.sign_count = self.sign_count + 1 if sign_count is None else sign_count
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = self._auth_data(
            rp_id or options["rpId"], UP | (UV if uv else 0), self.sign_count
        )
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        if tamper:
            client_data = client_data.replace(b'"crossOrigin": false', b'"crossOrigin":  false')
        response: dict[str, Any] = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if self.user_handle is not None:
            response["userHandle"] = b64url(self.user_handle)
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
