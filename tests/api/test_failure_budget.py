"""The login failure budget: NIST SP 800-63B 5.2.2, ASVS 2.2.1 / 5.0 6.1.1, 6.3.1."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.support import PASSWORD, Account, Directory

WRONG = "wrong password!!"


def _login(client: TestClient, username: str, password: str) -> tuple[int, Any, str | None]:
    response = client.post("/auth/login", json={"username": username, "password": password})
    return response.status_code, response.json(), response.headers.get("retry-after")


def _token(client: TestClient, directory: Directory, account: Account, password: str) -> int:
    form = {"username": account.username, "password": password + directory.code(account)}
    return client.post("/token", data=form).status_code


def test_nist_5_2_2_five_free_failures_then_exponential_back_off(
    client: TestClient, directory: Directory
) -> None:
    account = directory.create()
    for _ in range(5):
        assert _login(client, account.username, WRONG)[0] == 401
    status, body, retry_after = _login(client, account.username, WRONG)
    assert (status, body["code"], retry_after) == (429, "TOO_MANY_ATTEMPTS", "1")
    # While the wait runs, not even the right password and code are checked.
    assert _token(client, directory, account, PASSWORD) == 429
    directory.clock.advance(1)
    assert _login(client, account.username, WRONG)[0] == 401  # the 6th failure
    assert _login(client, account.username, WRONG)[2] == "2"
    directory.clock.advance(2)
    assert _login(client, account.username, WRONG)[0] == 401  # the 7th
    assert _login(client, account.username, WRONG)[2] == "4"


def test_unknown_usernames_get_exactly_the_same_treatment(
    client: TestClient, directory: Directory
) -> None:
    """A 429 must not reveal whether the account exists."""
    account = directory.create()

    def sequence(username: str) -> list[tuple[int, Any, str | None]]:
        answers = [_login(client, username, WRONG) for _ in range(6)]
        directory.clock.advance(1)
        answers += [_login(client, username, WRONG) for _ in range(2)]
        return answers

    known = sequence(account.username)
    unknown = sequence("nobody-at-all")
    assert known == unknown
    assert [status for status, _, _ in known] == [401] * 5 + [429, 401, 429]


def test_the_budget_is_shared_by_every_factor_and_login_path(
    client: TestClient, directory: Directory
) -> None:
    account = directory.create()
    assert _login(client, account.username, WRONG)[0] == 401  # password, two-step path
    assert _token(client, directory, account, WRONG) == 400  # password, /token (invalid_grant)
    wrong_code = f"{(int(directory.code(account)) + 1) % 1_000_000:06d}"
    form = {"username": account.username, "password": PASSWORD + wrong_code}
    assert client.post("/token", data=form).status_code == 400  # TOTP on /token
    mfa_token = _login(client, account.username, PASSWORD)[1]["mfa_token"]
    for code in (wrong_code, "aaaa-bbbb-cccc-dddd-eeee-ffff"):  # TOTP, recovery code
        verify = client.post("/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})
        assert verify.status_code == 401
    assert _login(client, account.username, PASSWORD)[0] == 429


def test_success_refills_the_budget(client: TestClient, directory: Directory) -> None:
    account = directory.create()
    for _ in range(4):
        assert _login(client, account.username, WRONG)[0] == 401
    assert _token(client, directory, account, PASSWORD) == 200
    for _ in range(5):
        assert _login(client, account.username, WRONG)[0] == 401


def test_the_wait_is_capped_and_at_most_100_failures_fit_in_an_hour(
    client: TestClient, directory: Directory
) -> None:
    """NIST 5.2.2: no more than 100 consecutive failures; the lockout stays short (15 min)."""
    account = directory.create()
    failures, waited, longest = 0, 0, 0
    while waited < 3600:
        status, _, retry_after = _login(client, account.username, WRONG)
        if status == 401:
            failures += 1
            continue
        assert status == 429
        assert retry_after is not None
        longest = max(longest, int(retry_after))
        directory.clock.advance(int(retry_after))
        waited += int(retry_after)
    assert longest == 900
    assert failures <= 100
    assert failures < 20  # the back-off alone keeps it far lower


def test_failures_are_forgotten_an_hour_after_the_last_one(
    client: TestClient, directory: Directory
) -> None:
    account = directory.create()
    for _ in range(5):
        _login(client, account.username, WRONG)
    assert _login(client, account.username, WRONG)[0] == 429
    directory.clock.advance(3600)
    for _ in range(5):
        assert _login(client, account.username, WRONG)[0] == 401


def test_an_mfa_token_has_its_own_small_budget(client: TestClient, directory: Directory) -> None:
    """A stolen password cannot grind through codes with one mfa_token."""
    account = directory.create()
    mfa_token = _login(client, account.username, PASSWORD)[1]["mfa_token"]
    wrong_code = f"{(int(directory.code(account)) + 1) % 1_000_000:06d}"
    for _ in range(3):
        verify = client.post("/auth/mfa/verify", json={"mfa_token": mfa_token, "code": wrong_code})
        assert verify.json()["code"] == "INVALID_CREDENTIALS"
    burned = client.post(
        "/auth/mfa/verify", json={"mfa_token": mfa_token, "code": directory.code(account)}
    )
    assert burned.status_code == 401
    assert burned.json()["code"] == "NOT_AUTHENTICATED"
    # A fresh login still works: the account budget (5) is not spent yet.
    fresh = _login(client, account.username, PASSWORD)[1]["mfa_token"]
    ok = client.post("/auth/mfa/verify", json={"mfa_token": fresh, "code": directory.code(account)})
    assert ok.status_code == 200
