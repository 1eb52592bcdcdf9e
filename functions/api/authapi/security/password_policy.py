"""Password rules from NIST SP 800-63B 5.1.1.2 and ASVS 2.1: a minimum length, a
generous maximum, no composition rules, no passwords built from the username, and
none of the most commonly used passwords (ASVS 2.1.7 / 5.0: 6.2.4)."""

from __future__ import annotations

import functools

from authapi.core.config import Settings
from authapi.core.errors import PolicyViolation

# ASVS asks for a list of at least this many common passwords; common_passwords checks it.
MIN_COMMON_PASSWORDS = 10_000


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The ~30,000 most common passwords shipped with zxcvbn, lower-cased.

    zxcvbn is only a data source here (its scoring is not used). The import happens
    here, on first use, not at module level: importing zxcvbn parses a large module
    and builds its dictionaries, which would add to every Lambda cold start, and
    login never checks a password against the policy, so it never pays for it."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    entries = frozenset(entry.strip().lower() for entry in FREQUENCY_LISTS["passwords"])
    entries -= {""}
    if len(entries) < MIN_COMMON_PASSWORDS:
        raise RuntimeError(f"common-password list too short: {len(entries)} entries")
    return entries


MIN_DISTINCT_CHARACTERS = 5


def check_password(password: str, username: str, settings: Settings) -> None:
    if len(password) < settings.password_min_length:
        raise PolicyViolation(
            f"password: must be at least {settings.password_min_length} characters long."
        )
    if len(password) > settings.password_max_length:
        raise PolicyViolation(
            f"password: must be at most {settings.password_max_length} characters long."
        )
    if username and username.lower() in password.lower():
        raise PolicyViolation("password: must not contain the username.")
    if len(set(password.lower())) < MIN_DISTINCT_CHARACTERS:
        # NIST 800-63B 5.1.1.2 names repetitive strings ("000000000000") as ones to refuse.
        raise PolicyViolation("password: is too repetitive; use more different characters.")
    if password.strip().lower() in common_passwords():
        raise PolicyViolation(
            "password: is one of the most commonly used passwords; choose another."
        )
