"""Property tests: whatever usernames, emails and passwords a client sends, the
credential routes answer with a contract status, never a 500.

The strings come from strategies that include arbitrary Unicode (surrogate-free, as
JSON over UTF-8 cannot carry lone surrogates), control characters and NUL, look-alike
and direction-changing characters, and huge values. Bodies over the 16 KiB limit must
be refused with 413 PAYLOAD_TOO_LARGE; a 422 must carry `code: "VALIDATION_ERROR"`.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from authapi.core.config import Settings
from authapi.users.domain import Role
from tests.support import Directory

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = int(os.environ.get("AUTHAPI_FUZZ_PROPERTY_EXAMPLES", "100"))

FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    # One fresh moto and app per test; the examples share them (that is the point:
    # earlier examples leave users and failure counts behind for later ones).
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

ALLOWED = {200, 201, 400, 401, 409, 413, 422, 429}  # 400: /token (RFC 6749 §5.2)
LIMIT = 16 * 1024

# --- strategies ------------------------------------------------------------------------

# Characters that have broken real systems: NUL and other C0/C1 controls, the BOM,
# zero-width and bidi overrides, case-mapping oddities (Turkish dotted I, Kelvin sign,
# long s, ß), combining marks, full-width letters, astral-plane characters.
TRICKY = (
    "\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x7f\x85\xa0\u00df\u0130\u0131\u017f\u0301"
    "\u200b\u200d\u202e\u2028\u2029\u212a\ufeff\uff41\U0001f600\U0001d400\U000e0001"
    " .@_-%\\\"'<>&;/"
)

unicode_text = st.text(max_size=64)  # any code point but surrogates
control_text = st.text(st.characters(max_codepoint=0x9F, categories=["Cc"]), max_size=16)
tricky_text = st.text(st.sampled_from(TRICKY), max_size=40)
mixed_text = st.text(
    st.one_of(st.sampled_from(TRICKY), st.characters(min_codepoint=0x20, max_codepoint=0x7E)),
    min_size=1,
    max_size=48,
)
# Big but under the limit once wrapped in JSON (the route's own max_length decides).
long_text = st.builds(lambda piece, times: piece * times, mixed_text, st.integers(10, 150))
# Over the body limit on its own, whatever the JSON escaping.
huge_text = st.builds(lambda piece: piece * (LIMIT // len(piece) + 1), mixed_text)

weird_text = st.one_of(unicode_text, control_text, tricky_text, mixed_text, long_text)

valid_usernames = st.from_regex(r"[a-z0-9._-]{3,32}", fullmatch=True)
valid_passwords = st.from_regex(r"[A-Za-z0-9 !#$%&*+,.:;=?@^_~-]{12,40}", fullmatch=True)
valid_full_names = st.text(st.characters(categories=["L", "Zs"]), max_size=40)
usernames = st.one_of(
    valid_usernames,
    st.from_regex(r"[A-Za-z0-9._-]{1,40}", fullmatch=True),  # case, length
    weird_text,
)
emails = st.one_of(
    st.emails(),
    st.builds(lambda local, domain: f"{local}@{domain}", weird_text, weird_text),
    weird_text,
)
passwords = st.one_of(valid_passwords, st.text(min_size=12, max_size=64), weird_text)
full_names = st.one_of(st.none(), valid_full_names, weird_text)


def bodies(
    well_formed: dict[str, st.SearchStrategy[Any]],
    strange: dict[str, st.SearchStrategy[Any]],
    *,
    optional: tuple[str, ...] = (),
) -> st.SearchStrategy[dict[str, Any]]:
    """A third each: well-formed values (so the success paths run too), strange ones,
    and strange ones with one field blown up past the body limit."""

    def dictionaries(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
        required = {name: value for name, value in fields.items() if name not in optional}
        extra = {name: value for name, value in fields.items() if name in optional}
        return st.fixed_dictionaries(required, optional=extra)

    def blow_up(body: dict[str, Any], field: str, huge: str) -> dict[str, Any]:
        return {**body, field: huge}

    return st.one_of(
        dictionaries(well_formed),
        dictionaries(strange),
        st.builds(blow_up, dictionaries(strange), st.sampled_from(sorted(strange)), huge_text),
    )


KNOWN_USERNAME = "fuzzer"
KNOWN_USERNAMES = st.sampled_from([KNOWN_USERNAME, KNOWN_USERNAME.upper(), KNOWN_USERNAME + "\x00"])

new_users = bodies(
    {
        "username": valid_usernames,
        "email": st.emails(),
        "password": valid_passwords,
        "full_name": valid_full_names,
    },
    {"username": usernames, "email": emails, "password": passwords, "full_name": full_names},
    optional=("full_name",),
)
profile_changes = bodies(
    {"username": valid_usernames, "email": st.emails(), "full_name": valid_full_names},
    {"username": usernames, "email": emails, "full_name": full_names},
    optional=("username", "email", "full_name"),
)
credentials = bodies(
    {"username": KNOWN_USERNAMES, "password": valid_passwords},
    {"username": st.one_of(usernames, KNOWN_USERNAMES), "password": passwords},
)
# Longer than any password is checked (passwords.MAX_CHECKED_CHARS) yet under the body
# limit once form-encoded (each character at most 3 bytes as %XX): a failed login, not a 500.
# Built by repetition: Hypothesis cannot draw thousands of characters one by one.
oversized_passwords = st.builds(
    lambda piece, size: (piece * size)[:size],
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=8),
    st.integers(4103, 5400),
)
# The other fields an OAuth2 client may send with the password grant.
form_extras = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(weird_text, oversized_passwords)
        for name in ("grant_type", "scope", "client_id", "client_secret")
    },
)
password_grants = st.one_of(
    bodies(
        {
            "username": KNOWN_USERNAMES,
            # The right password followed by a (most likely wrong) 6-digit code.
            "password": st.from_regex(r"correct horse battery staple[0-9]{6}", fullmatch=True),
        },
        {"username": st.one_of(usernames, KNOWN_USERNAMES), "password": passwords},
    ),
    st.builds(
        lambda username, password, extras: {"username": username, "password": password, **extras},
        st.one_of(KNOWN_USERNAMES, oversized_passwords, weird_text),
        st.one_of(oversized_passwords, weird_text),
        form_extras,
    ),
)

# --- helpers ---------------------------------------------------------------------------


def send_json(
    client: TestClient,
    method: str,
    url: str,
    body: dict[str, Any],
    *,
    ascii_only: bool,
    headers: dict[str, str] | None = None,
) -> tuple[httpx2.Response, int]:
    """Send `body` exactly as serialized here, so the test knows its size in bytes."""
    content = json.dumps(body, ensure_ascii=ascii_only).encode()
    response = client.request(
        method,
        url,
        content=content,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    return response, len(content)


def send_form(client: TestClient, url: str, fields: dict[str, str]) -> tuple[httpx2.Response, int]:
    content = urlencode(fields).encode()
    response = client.post(
        url, content=content, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    return response, len(content)


def assert_contract(response: httpx2.Response, size: int) -> None:
    event(f"status {response.status_code}")  # see --hypothesis-show-statistics
    request = f"{response.request.method} {response.request.url.path} ({size} bytes)"
    assert response.status_code < 500, f"{request}: {response.status_code} {response.text}"
    # Over the limit: 413, whatever else is wrong with the body; under it: never 413.
    assert (response.status_code == 413) == (size > LIMIT), f"{request}: {response.text}"
    assert response.status_code in ALLOWED, f"{request}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json"), request
    body = response.json()
    if response.status_code >= 400:
        assert isinstance(body, dict), f"{request}: {body!r}"
        assert isinstance(body.get("detail"), str), f"{request}: {body!r}"
        assert body.get("detail"), f"{request}: {body!r}"
        assert isinstance(body.get("code"), str), f"{request}: {body!r}"
    if response.status_code == 413:
        assert body["code"] == "PAYLOAD_TOO_LARGE", f"{request}: {body!r}"
    if response.status_code == 422:
        assert body["code"] == "VALIDATION_ERROR", f"{request}: {body!r}"


# --- properties ------------------------------------------------------------------------


@pytest.fixture
def admin_headers(directory: Directory) -> dict[str, str]:
    """One signed-in admin per test, shared by its examples."""
    return directory.admin().headers


@pytest.fixture
def user_headers(directory: Directory) -> dict[str, str]:
    """One signed-in user per test (username `fuzzer`), shared by its examples."""
    return directory.sign_in(directory.create(Role.USER, username=KNOWN_USERNAME)).headers


def test_the_body_limit_is_the_one_the_contract_names(settings: Settings) -> None:
    assert settings.max_body_bytes == LIMIT


@FUZZ_SETTINGS
@given(body=new_users, ascii_only=st.booleans())
def test_create_user_never_fails(
    directory: Directory, admin_headers: dict[str, str], body: dict[str, Any], ascii_only: bool
) -> None:
    response, size = send_json(
        directory.client, "POST", "/users", body, ascii_only=ascii_only, headers=admin_headers
    )
    assert_contract(response, size)
    assert response.status_code not in (200, 401, 429), response.text


@FUZZ_SETTINGS
@given(changes=profile_changes, method=st.sampled_from(["PATCH", "PUT"]), ascii_only=st.booleans())
def test_update_profile_never_fails(
    directory: Directory,
    user_headers: dict[str, str],
    changes: dict[str, Any],
    method: str,
    ascii_only: bool,
) -> None:
    response, size = send_json(
        directory.client, method, "/users/me", changes, ascii_only=ascii_only, headers=user_headers
    )
    assert_contract(response, size)
    assert response.status_code not in (201, 401, 429), response.text


@FUZZ_SETTINGS
@given(body=credentials, ascii_only=st.booleans())
@pytest.mark.usefixtures("user_headers")
def test_login_never_fails(directory: Directory, body: dict[str, Any], ascii_only: bool) -> None:
    response, size = send_json(directory.client, "POST", "/auth/login", body, ascii_only=ascii_only)
    assert_contract(response, size)
    assert response.status_code not in (201, 409), response.text


@FUZZ_SETTINGS
@given(form=password_grants)
@pytest.mark.usefixtures("user_headers")
def test_password_grant_never_fails(directory: Directory, form: dict[str, str]) -> None:
    response, size = send_form(directory.client, "/token", form)
    assert_contract(response, size)
    assert response.status_code not in (201, 409), response.text
