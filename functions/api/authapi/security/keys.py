"""Key material kept in SSM Parameter Store as JSON key sets, newest key last.

Signing keys (RFC 8037 Ed25519, JWS alg "EdDSA"): every key in the set verifies, and
the public halves are published at /.well-known/jwks.json. TOTP seed keys (AES-256-GCM,
ASVS 2.8.2 / 5.0 13.3.1): every key decrypts, found by the key id stored beside each
ciphertext.

Which key signs (or encrypts): the newest key that is at least ACTIVATION_DELAY old.
Containers cache the sets for at most SecretStore's refresh interval, so by the time a
new key is used, every container has fetched it and can verify (or decrypt) with it.
Rotation is therefore: add a key; it takes over after the delay; drop the old one once
nothing made with it is still alive.

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

from authapi.security.jws import ALGORITHM, b64url_encode, public_jwk

KEY_BYTES = 32
# Longer than the SecretStore refresh interval (core.secrets.REFRESH_SECONDS).
ACTIVATION_DELAY_SECONDS = 10 * 60


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class _Entry:
    kid: str
    key: bytes
    created_at: float


def _entries(raw: str) -> list[_Entry]:
    entries = [
        _Entry(
            kid=str(entry["kid"]),
            key=_b64decode(entry["key"]),
            created_at=datetime.fromisoformat(entry["created_at"]).timestamp(),
        )
        for entry in json.loads(raw)["keys"]
    ]
    if not entries or any(len(entry.key) != KEY_BYTES for entry in entries):
        raise ValueError("a key set needs at least one key of 32 bytes")
    return entries


def _active_kid(entries: list[_Entry], now: float) -> str:
    """The newest key old enough to be known everywhere; the oldest if none is yet."""
    ready = [entry for entry in entries if entry.created_at <= now - ACTIVATION_DELAY_SECONDS]
    return (ready[-1] if ready else entries[0]).kid


def new_key_entry() -> dict[str, str]:
    """A fresh key for either set: 256 bits from the OS CSPRNG and a random key id."""
    return {
        "kid": secrets.token_hex(8),
        "key": b64url_encode(secrets.token_bytes(KEY_BYTES)),
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
        return {
            "keys": [
                {**public_jwk(public_key), "kid": kid, "use": "sig", "alg": ALGORITHM}
                for kid, public_key in self.public_keys.items()
            ]
        }


@dataclass(frozen=True)
class _ParsedSigningKeys:
    entries: list[_Entry]
    private: dict[str, Ed25519PrivateKey]
    public: dict[str, Ed25519PublicKey]


@lru_cache(maxsize=4)
def _parsed_signing_keys(raw: str) -> _ParsedSigningKeys:
    """Parse once per container and key set (the raw value comes from the SecretStore):
    requests only pick the active key, they never decode or derive keys again."""
    entries = _entries(raw)
    private = {e.kid: Ed25519PrivateKey.from_private_bytes(e.key) for e in entries}
    return _ParsedSigningKeys(
        entries, private, {kid: key.public_key() for kid, key in private.items()}
    )


def signing_keys(raw: str, now: float) -> SigningKeys:
    parsed = _parsed_signing_keys(raw)
    kid = _active_kid(parsed.entries, now)
    return SigningKeys(kid=kid, private_key=parsed.private[kid], public_keys=parsed.public)


@dataclass(frozen=True)
class SeedKeys:
    kid: str
    keys: dict[str, bytes]


@lru_cache(maxsize=4)
def _parsed_seed_keys(raw: str) -> tuple[list[_Entry], dict[str, bytes]]:
    entries = _entries(raw)
    return entries, {e.kid: e.key for e in entries}


def seed_keys(raw: str, now: float) -> SeedKeys:
    entries, keys = _parsed_seed_keys(raw)
    return SeedKeys(kid=_active_kid(entries, now), keys=keys)
