"""TOTP secrets encrypted at rest (ASVS 2.8.2 / 5.0 13.3.1).

AES-256-GCM with a data key from SSM; the user id is the associated data, so a
ciphertext copied onto another user's item does not decrypt. Stored format:
    v1.<key id>.<base64url nonce>.<base64url ciphertext+tag>
A dump of the table therefore reveals no usable TOTP secret.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authapi.security.keys import TotpSecretKeys

_VERSION = "v1"
_NONCE_BYTES = 12


class TotpSecretUndecryptable(Exception):
    """Unknown key id, tampered ciphertext, or a ciphertext of another user."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encrypt(keys: TotpSecretKeys, secret: str, user_id: str) -> str:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(keys.keys[keys.kid]).encrypt(nonce, secret.encode(), user_id.encode())
    return ".".join((_VERSION, keys.kid, _b64(nonce), _b64(sealed)))


def decrypt(keys: TotpSecretKeys, stored: str, user_id: str) -> str:
    try:
        version, kid, nonce, sealed = stored.split(".")
        if version != _VERSION:
            raise TotpSecretUndecryptable()
        plain = AESGCM(keys.keys[kid]).decrypt(_unb64(nonce), _unb64(sealed), user_id.encode())
    except (ValueError, KeyError, InvalidTag) as exc:
        raise TotpSecretUndecryptable() from exc
    return plain.decode()
