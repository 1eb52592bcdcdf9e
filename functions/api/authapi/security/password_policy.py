"""Password rules from NIST SP 800-63B 5.1.1.2 and ASVS 2.1: a minimum length, a
generous maximum, no composition rules, and no passwords built from the username."""

from __future__ import annotations

from authapi.core.config import Settings
from authapi.core.errors import PolicyViolation


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
