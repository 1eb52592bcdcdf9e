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
    valid code yield exactly one token. The others lose the race for the code (400) or
    are not even checked because the failure budget has no room for them (429)."""
    directory = Directory(server_client, settings, clock)
    account = directory.create()
    form = {"username": account.username, "password": PASSWORD + directory.code(account)}
    statuses = _parallel(PARALLEL, lambda: server_client.post("/token", data=form).status_code)
    # /token answers a lost race with RFC 6749's invalid_grant (400).
    assert statuses[200] == 1, statuses
    assert statuses[400] >= 1, statuses
    assert statuses[200] + statuses[400] + statuses[429] == PARALLEL, statuses


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
    winner = repository.find_for_login("contested")
    assert winner is not None


def test_concurrent_changes_to_different_fields_both_apply(
    server_client: TestClient, settings: Settings, clock: Clock
) -> None:
    """No lost update: field-level writes never overwrite a field nobody meant to touch."""
    directory = Directory(server_client, settings, clock)
    admin = directory.admin()
    user = directory.user()
    bodies = [{"full_name": "Changed Name"}, {"role": "admin"}, {"email": "moved@example.com"}]
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        answers = list(
            pool.map(
                lambda body: server_client.patch(
                    f"/users/{user.id}", headers=admin.headers, json=body
                ),
                bodies,
            )
        )
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    stored = repository.get_user(user.id)
    assert stored is not None
    assert (stored.full_name, stored.role.value, stored.email) == (
        "Changed Name",
        "admin",
        "moved@example.com",
    )


def test_concurrent_changes_to_one_field_never_orphan_a_claim(
    server_client: TestClient, settings: Settings, clock: Clock
) -> None:
    """Racing email changes: each either applies or gets 409 CONFLICT; exactly one email
    claim points at the user afterwards, and it is the stored email's."""
    from authapi.users.models import CLAIM_SK, ClaimItem, email_claim_pk

    directory = Directory(server_client, settings, clock)
    admin = directory.admin()
    user = directory.user()
    emails = [f"race{number}@example.com" for number in range(8)]
    with ThreadPoolExecutor(max_workers=len(emails)) as pool:
        answers = list(
            pool.map(
                lambda email: server_client.patch(
                    f"/users/{user.id}", headers=admin.headers, json={"email": email}
                ),
                emails,
            )
        )
    outcomes = Counter((answer.status_code, answer.json().get("code", "")) for answer in answers)
    assert set(outcomes) <= {(200, ""), (409, "CONFLICT")}
    assert outcomes[(200, "")] >= 1
    stored = repository.get_user(user.id)
    assert stored is not None
    owners = {}
    for email in [*emails, f"{user.username}@example.com"]:
        try:
            owners[email] = ClaimItem.get(email_claim_pk(email), CLAIM_SK).user_id
        except ClaimItem.DoesNotExist:
            continue
    assert owners == {stored.email: user.id}
