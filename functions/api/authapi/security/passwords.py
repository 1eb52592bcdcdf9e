"""Password hashing (OWASP Password Storage Cheat Sheet, NIST SP 800-63B 5.1.1.2).

argon2id with OWASP's minimum parameters (19 MiB, 2 iterations, parallelism 1) hashes
every new password. bcrypt is accepted only to verify legacy hashes (e.g. users
imported from the tutorial) and is replaced by argon2id at the next successful login.

argon2-cffi and bcrypt are used directly: a hashing framework (passlib) cost a cold
start ~30 ms of imports and handler set-up for the two schemes these few lines cover.
"""

from __future__ import annotations

import re
from functools import lru_cache

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

_BCRYPT_MAX_BYTES = 72
# Longer than any password this service accepts (the policy allows 256 characters; the
# login forms 1024): longer input is a failed check, never an exception, on every path.
MAX_CHECKED_CHARS = 1024

_argon2 = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)
# A well-formed bcrypt hash of the variants the bcrypt library verifies: cost 4 to 31,
# then 22 characters of salt and 31 of checksum in bcrypt's base64 alphabet.
_BCRYPT_HASH = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")


def hash_password(password: str) -> str:
    return _argon2.hash(password)


def scheme_of(stored_hash: str) -> str | None:
    """The scheme of a stored hash ("argon2", "bcrypt"), or None if it is not one we verify."""
    if stored_hash.startswith("$argon2"):
        try:
            extract_parameters(stored_hash)  # well-formed, not just prefixed
        except InvalidHashError:
            return None
        return "argon2"
    if _BCRYPT_HASH.fullmatch(stored_hash):
        return "bcrypt"
    return None


def _matches(secret: str | bytes, stored_hash: str, scheme: str) -> bool:
    if scheme == "bcrypt":
        # Imported here: only users imported from the tutorial still have a bcrypt hash.
        import bcrypt

        encoded = secret.encode("utf-8") if isinstance(secret, str) else secret
        try:
            return bool(bcrypt.checkpw(encoded, stored_hash.encode("ascii")))
        except ValueError:  # a salt the pattern let through but bcrypt refuses
            return False
    try:
        return _argon2.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


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
    if not _matches(secret, stored_hash, scheme):
        return False, None
    if scheme == "bcrypt" or _argon2.check_needs_rehash(stored_hash):
        # Hash the full password, not the truncated bytes bcrypt saw.
        return True, hash_password(password)
    return True, None


# What unknown usernames are verified against: an argon2id hash (of a throwaway string,
# its salt public and worthless) at the parameters above, precomputed so that no
# container spends ~40 ms of its cold start hashing it. Verifying against it costs what
# verifying a real hash costs because the parameters are the same; if they change, the
# hash is computed once instead (and tests/unit tell you to update this constant).
PRECOMPUTED_DUMMY_HASH = (
    "$argon2id$v=19$m=19456,t=2,p=1"
    "$ytk7x9g7B4AQgjCGMGbM2Q$5rgDw6ePSplUeU9o1wYAqldtQ6WBxATNoqL0ECaV38I"
)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    if not _argon2.check_needs_rehash(PRECOMPUTED_DUMMY_HASH):
        return PRECOMPUTED_DUMMY_HASH
    return hash_password("dummy password used only to spend time")


def prepare_dummy_hash() -> None:
    """Have the dummy hash ready before the first login (at container init)."""
    _dummy_hash()


def burn_verification_time(password: str) -> None:
    """Spend what a real verification costs, for logins of unknown users.

    Without this an unknown username answers many times faster than a wrong password,
    which reveals which accounts exist (OWASP Authentication Cheat Sheet, ASVS 5.0 6.3.8).
    """
    _matches(password[:MAX_CHECKED_CHARS], _dummy_hash(), "argon2")
