"""Password policy: NIST SP 800-63B 5.1.1.2 and ASVS 2.1 (5.0: 6.2)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.core.errors import PolicyViolation
from authapi.security.password_policy import (
    MIN_COMMON_PASSWORDS,
    check_password,
    common_passwords,
)
from authapi.users import repository
from tests.support import PASSWORD, Directory

SETTINGS = Settings()
COMMON = "password: is one of the most commonly used passwords; choose another."
# Well-known entries of the list, each long enough to pass the length rule on its own.
WELL_KNOWN = ["password1234", "qwerty123456", "1q2w3e4r5t6y", "123qweasdzxc"]
PASSPHRASE = "violet kettle drifts over quiet granite"


def _long_common(count: int) -> list[str]:
    """The first few list entries (sorted) that are at least the default minimum length."""
    long_enough = (p for p in common_passwords() if len(p) >= SETTINGS.password_min_length)
    return sorted(long_enough)[:count]


def _rejection(password: str, username: str = "alice", settings: Settings = SETTINGS) -> str:
    with pytest.raises(PolicyViolation) as raised:
        check_password(password, username, settings)
    return str(raised.value)


def test_asvs_2_1_7_common_password_list_has_at_least_10000_entries() -> None:
    assert MIN_COMMON_PASSWORDS == 10_000
    assert len(common_passwords()) >= MIN_COMMON_PASSWORDS
    assert all(entry and entry == entry.strip().lower() for entry in common_passwords())


def test_asvs_2_1_7_list_is_loaded_lazily_not_at_import() -> None:
    """Cold start: importing the app (and so the policy) must not load zxcvbn."""
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; import authapi.main, authapi.security.password_policy as p; "
        "assert 'zxcvbn' not in sys.modules; p.common_passwords(); "
        "assert 'zxcvbn' in sys.modules"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=root / "functions" / "api", timeout=60
    )


def test_suite_password_is_not_a_common_password() -> None:
    assert PASSWORD.strip().lower() not in common_passwords()
    check_password(PASSWORD, "alice", SETTINGS)


@pytest.mark.parametrize("password", WELL_KNOWN + _long_common(5))
def test_nist_5_1_1_2_common_passwords_are_rejected(password: str) -> None:
    assert password in common_passwords()
    assert _rejection(password) == COMMON


@pytest.mark.parametrize(
    "variant",
    [str.upper, str.title, str.swapcase, lambda p: f"  {p}\t", lambda p: f" {p.upper()} "],
    ids=["upper", "title", "swapcase", "padded", "padded-upper"],
)
@pytest.mark.parametrize("password", WELL_KNOWN[:2])
def test_nist_5_1_1_2_common_passwords_are_rejected_in_any_case(
    password: str, variant: Callable[[str], str]
) -> None:
    assert _rejection(variant(password)) == COMMON


def test_nist_5_1_1_2_long_uncommon_passphrase_is_accepted() -> None:
    assert PASSPHRASE not in common_passwords()
    check_password(PASSPHRASE, "alice", SETTINGS)


@pytest.mark.parametrize("minimum", [8, 12, 16, 24])
def test_nist_5_1_1_2_minimum_length_comes_from_settings(minimum: int) -> None:
    settings = Settings(password_min_length=minimum)
    just_long_enough = (PASSPHRASE * 2)[:minimum]
    assert just_long_enough.strip().lower() not in common_passwords()
    check_password(just_long_enough, "alice", settings)
    assert _rejection(just_long_enough[:-1], settings=settings) == (
        f"password: must be at least {minimum} characters long."
    )


def test_nist_5_1_1_2_128_character_passwords_are_accepted() -> None:
    password = (PASSPHRASE + " ") * 4
    password = password[:128]
    assert len(password) == 128
    check_password(password, "alice", SETTINGS)


def test_nist_5_1_1_2_maximum_length_is_still_enforced() -> None:
    too_long = "a" * (SETTINGS.password_max_length + 1)
    assert _rejection(too_long) == (
        f"password: must be at most {SETTINGS.password_max_length} characters long."
    )


@pytest.mark.parametrize(
    "password",
    ["violetkettledriftsoverquietgranite", "VIOLETKETTLEDRIFTS", "3141592653589793238"],
)
def test_nist_5_1_1_2_no_composition_rules(password: str) -> None:
    """All-lowercase, all-uppercase or all-digit passwords pass if long and uncommon."""
    assert password.lower() not in common_passwords()
    check_password(password, "alice", SETTINGS)


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("alice's violet kettle", "alice"),
        ("ALICE's violet kettle", "alice"),
        ("my name is AlIcE, hello", "Alice"),
    ],
)
def test_asvs_2_1_password_containing_the_username_is_rejected(
    password: str, username: str
) -> None:
    assert _rejection(password, username) == "password: must not contain the username."


def test_nist_5_1_1_2_api_rejects_a_common_password_and_creates_nothing(
    client: TestClient, directory: Directory
) -> None:
    admin = directory.admin()
    body = {"username": "bob", "email": "bob@example.com", "password": "Password1234"}
    response = client.post("/users", headers=admin.headers, json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert "password" in response.json()["detail"]
    assert "most commonly used" in response.json()["detail"]
    assert repository.find_for_login("bob") is None


@pytest.mark.parametrize(
    "password", ["000000000000", "W00000000000", "abababababab", "aAaAbBbB1111"]
)
def test_nist_5_1_1_2_repetitive_passwords_are_rejected(password: str) -> None:
    with pytest.raises(PolicyViolation, match="repetitive"):
        check_password(password, "someone", Settings())
