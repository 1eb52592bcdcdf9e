"""Key material kept in SSM Parameter Store as JSON key sets, newest key last.

Signing keys (RFC 8037 Ed25519, JWS alg "EdDSA"): the newest signs; every key in the
set verifies, so rotation is "add a key, wait one token lifetime, drop the oldest".
The public halves are published at /.well-known/jwks.json.

TOTP seed keys (AES-256-GCM, ASVS 2.8.2 / 5.0 13.3.1): the newest encrypts; every
key decrypts, found by the key id stored beside each ciphertext.

Parameter value format, for both:
    {"keys": [{"kid": "<id>", "key": "<base64url of 32 bytes>", "created_at": "<ISO>"}]}
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from jwt.algorithms import OKPAlgorithm

KEY_BYTES = 32


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _entries(raw: str) -> list[tuple[str, bytes]]:
    entries = [(str(entry["kid"]), _b64decode(entry["key"])) for entry in json.loads(raw)["keys"]]
    if not entries or any(len(key) != KEY_BYTES for _, key in entries):
        raise ValueError("a key set needs at least one key of 32 bytes")
    return entries


def new_key_entry() -> dict[str, str]:
    """A fresh key for either set: 256 bits from the OS CSPRNG and a random key id."""
    return {
        "kid": secrets.token_hex(8),
        "key": _b64encode(secrets.token_bytes(KEY_BYTES)),
        "created_at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
    }


def add_key(raw: str | None) -> str:
    """The key set `raw` (or an empty one) with a new key appended: a rotation."""
    keys: list[dict[str, Any]] = json.loads(raw)["keys"] if raw else []
    return json.dumps({"keys": [*keys, new_key_entry()]})


@dataclass(frozen=True)
class SigningKeys:
    kid: str
    private_key: Ed25519PrivateKey
    public_keys: dict[str, Ed25519PublicKey]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        keys = []
        for kid, public_key in self.public_keys.items():
            jwk: dict[str, str] = json.loads(OKPAlgorithm.to_jwk(public_key))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "EdDSA"})
        return {"keys": keys}


@lru_cache(maxsize=4)
def signing_keys(raw: str) -> SigningKeys:
    """Parse once per container (the raw value is itself cached by the SecretStore)."""
    private = {kid: Ed25519PrivateKey.from_private_bytes(key) for kid, key in _entries(raw)}
    newest = list(private)[-1]
    return SigningKeys(
        kid=newest,
        private_key=private[newest],
        public_keys={kid: key.public_key() for kid, key in private.items()},
    )


@dataclass(frozen=True)
class SeedKeys:
    kid: str
    keys: dict[str, bytes]


@lru_cache(maxsize=4)
def seed_keys(raw: str) -> SeedKeys:
    keys = dict(_entries(raw))
    return SeedKeys(kid=list(keys)[-1], keys=keys)
