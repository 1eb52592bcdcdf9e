"""Races decided by DynamoDB conditional writes, against a real moto server over HTTP.

Each test fires parallel requests at one shared resource (a TOTP code, a refresh
token, a username) and asserts that exactly one wins, as it would across Lambda
containers.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from authapi.core.config import Settings
from authapi.users import repository
from tests.support import PASSWORD, Clock, Directory

PARALLEL = 20


def _parallel(count: int, call: object) -> Counter[int]:
    assert callable(call)
    with ThreadPoolExecutor(max_workers=count) as pool:
        return Counter(pool.map(lambda _: call(), range(count)))


def test_asvs_2_8_4_one_totp_code_wins_once_across_parallel_logins(
    server_client: TestClient, settings: Settings, clock: Clock
) -> None:
    """RFC 6238 §5.2 / ASVS 2.8.4 / NIST 800-63B 5.1.4.2: 20 parallel submissions of one
    valid code yield exactly one token."""
    directory = Directory(server_client, settings, clock)
    account = directory.create()
    form = {"username": account.username, "password": PASSWORD + directory.code(account)}
    statuses = _parallel(PARALLEL, lambda: server_client.post("/token", data=form).status_code)
    assert statuses == Counter({200: 1, 401: PARALLEL - 1})


def test_parallel_refreshes_of_one_token_give_exactly_one_success(
    server_client: TestClient, settings: Settings, clock: Clock
) -> None:
    directory = Directory(server_client, settings, clock)
    account = directory.user()
    body = {"refresh_token": account.tokens["refresh_token"]}
    statuses = _parallel(10, lambda: server_client.post("/auth/refresh", json=body).status_code)
    assert statuses[200] == 1
    assert statuses[401] == 9


def test_parallel_creates_of_one_username_give_exactly_one_user(
    server_client: TestClient, settings: Settings, clock: Clock
) -> None:
    """Uniqueness is enforced by a transaction with claim items, not read-then-write."""
    directory = Directory(server_client, settings, clock)
    admin = directory.admin()
    counter = iter(range(PARALLEL))

    def create() -> tuple[int, str]:
        response = server_client.post(
            "/users",
            headers=admin.headers,
            json={
                "username": "Contested",
                "email": f"contested{next(counter)}@example.com",
                "password": PASSWORD,
            },
        )
        return response.status_code, response.json().get("code", "")

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        results = Counter(pool.map(lambda _: create(), range(PARALLEL)))
    assert results[(201, "")] == 1
    assert results[(409, "USERNAME_TAKEN")] == PARALLEL - 1
    winner = repository.find_for_login("contested")[0]
    assert winner is not None
