"""Password hashing (OWASP Password Storage Cheat Sheet, NIST SP 800-63B 5.1.1.2).

argon2id with OWASP's minimum parameters (19 MiB, 2 iterations, parallelism 1) hashes
every new password. bcrypt is accepted only to verify legacy hashes (e.g. users
imported from the tutorial) and is replaced by argon2id at the next successful login.

passlib's scheme handlers are used one by one rather than through a `CryptContext`:
the context's import and set-up cost a cold start ~25 ms for two schemes. And they load
on first use: argon2id's with the first password hashed or checked (passlib and
argon2-cffi, ~10 ms), bcrypt's only when a legacy hash is seen. A container that serves
only authenticated reads never loads either.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Any

_BCRYPT_MAX_BYTES = 72
# Longer than any password this service accepts (the policy allows 256 characters; the
# login forms 1024) and far below passlib's own limit (4096 bytes, where it raises
# PasswordSizeError): longer input is a failed check, never an exception, on every path.
MAX_CHECKED_CHARS = 1024


@cache
def _argon2id() -> Any:
    from passlib.handlers.argon2 import argon2

    return argon2.using(type="ID", memory_cost=19 * 1024, rounds=2, parallelism=1)


def _bcrypt() -> Any:
    # Only users imported from the tutorial still have a bcrypt hash.
    from passlib.handlers.bcrypt import bcrypt

    return bcrypt


def _handler(scheme: str) -> Any:
    return _argon2id() if scheme == "argon2" else _bcrypt()


def hash_password(password: str) -> str:
    return str(_argon2id().hash(password))


def scheme_of(stored_hash: str) -> str | None:
    """The scheme of a stored hash ("argon2", "bcrypt"), or None if it is not one we verify."""
    if stored_hash.startswith("$argon2"):
        scheme = "argon2"
    elif stored_hash.startswith("$2"):
        scheme = "bcrypt"
    else:
        return None
    handler = _handler(scheme)
    if not handler.identify(stored_hash):
        return None
    from passlib.exc import PasslibHashWarning

    with warnings.catch_warnings():
        # passlib warns, and repairs, where a hash is out of its scheme's range (a bcrypt
        # cost below 4): such a hash was not made by a library we accept.
        warnings.simplefilter("error", PasslibHashWarning)
        try:
            handler.from_string(stored_hash)  # well-formed, not just prefixed
        except (ValueError, PasslibHashWarning):
            return None
    return scheme


def verify_password(password: str, stored_hash: str) -> tuple[bool, str | None]:
    """Return (matches, replacement_hash).

    `replacement_hash` is set when the stored hash uses outdated parameters or a
    deprecated scheme, so the caller can store the argon2id hash of the same password.
    """
    scheme = scheme_of(stored_hash)
    if scheme is None:
        return False, None
    if len(password) > MAX_CHECKED_CHARS:
        burn_verification_time("")  # as slow as a real check, and never a match
        return False, None
    secret: str | bytes = password
    encoded = password.encode("utf-8")
    if scheme == "bcrypt" and len(encoded) > _BCRYPT_MAX_BYTES:
        # bcrypt only ever hashed the first 72 bytes (older libraries truncated silently;
        # bcrypt 5 raises instead). Verify exactly what was hashed, never raise.
        secret = encoded[:_BCRYPT_MAX_BYTES]
    handler = _handler(scheme)
    if not handler.verify(secret, stored_hash):
        return False, None
    if scheme == "bcrypt" or _argon2id().needs_update(stored_hash):
        # Hash the full password, not the truncated bytes bcrypt saw.
        return True, hash_password(password)
    return True, None


# What unknown usernames are verified against: an argon2id hash (of a throwaway string,
# its salt public and worthless) at the parameters above, precomputed so that no
# container spends ~40 ms hashing it. Verifying against it costs what
# verifying a real hash costs because the parameters are the same; if they change, the
# hash is computed once instead (and tests/unit tell you to update this constant).
PRECOMPUTED_DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1"
    "$ytk7x9g7B4AQgjCGMGbM2Q$5rgDw6ePSplUeU9o1wYAqldtQ6WBxATNoqL0ECaV38I"
)


@cache
def _dummy_hash() -> str:
    if not _argon2id().needs_update(PRECOMPUTED_DUMMY_HASH):
        return PRECOMPUTED_DUMMY_HASH
    return hash_password("dummy password used only to spend time")


def prepare() -> None:
    """Load what the first password check would load (passlib, argon2's backend, the
    dummy hash), for an init that is snapshotted (SnapStart: warmup.py)."""
    _dummy_hash()


def burn_verification_time(password: str) -> None:
    """Spend what a real verification costs, for logins of unknown users.

    Without this an unknown username answers many times faster than a wrong password,
    which reveals which accounts exist (OWASP Authentication Cheat Sheet, ASVS 5.0 6.3.8).
    """
    # The dummy hash first: passlib loads argon2's backend on first use and then replaces
    # the handler's methods, so a `verify` looked up before that load (as the argument
    # order of one expression would) is a stale stub that raises in a fresh process.
    dummy = _dummy_hash()
    _argon2id().verify(password[:MAX_CHECKED_CHARS], dummy)
