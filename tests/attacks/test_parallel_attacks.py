"""Limits under parallel attack: the local run (`make run`) over real HTTP.

An attacker does not wait for one answer before sending the next guess. Each test here
opens one connection per request, holds every request at a barrier, releases them all
at once, and then asserts the exact number of attempts that were checked (or that
succeeded), and what is stored: the failure count in the table and the audit trail.

The local run's moto has the write lock of `infra/moto_atomic.py`, which gives it what
real DynamoDB guarantees: a condition and its write are atomic per item. Every limit
below is one conditional write on one item (see docs/security-model.md), so the same
design holds on DynamoDB across any number of Lambda containers.

ASVS 5.0 6.3.1 / NIST SP 800-63B 5.2.2 (failure budgets), ASVS 2.8.4 / RFC 6238 §5.2
(single-use codes), ASVS 5.0 7.2.x / RFC 6749 §10.4 (single-use refresh tokens).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import httpx2
import pyotp
import pytest

from authapi.security.throttle import FREE_FAILURES, MFA_TOKEN_FAILURES, FailureRecord
from infra.local import LOCAL_REGION, LOCAL_TABLE, free_port
from tests.e2e.test_local_run import (
    ADMIN_PASSWORD,
    USER_PASSWORD,
    LocalRun,
    bearer,
    code_at,
    ok,
    wait_for_step_margin,
)
from tests.passkey_authenticator import SoftAuthenticator

pytestmark = pytest.mark.e2e

BURST = 40
WRONG_PASSWORD = "not the password at all, sorry"
MOTO_LINE = re.compile(r"Local AWS \(moto, in memory\) at (http://127\.0\.0\.1:\d+)")

Send = Callable[[httpx2.Client, int], httpx2.Response]


@dataclass
class Burst:
    responses: list[httpx2.Response]
    seconds: float  # from the release to the last answer

    def statuses(self) -> Counter[tuple[int, str]]:
        return Counter((r.status_code, r.json().get("code", "")) for r in self.responses)

    def count(self, status: int, code: str | None = None) -> int:
        return sum(
            1
            for r in self.responses
            if r.status_code == status and (code is None or r.json().get("code") == code)
        )


def burst(base_url: str, count: int, send: Send) -> Burst:
    """`count` requests, each on its own open connection, released together."""
    ready = threading.Barrier(count + 1)

    def worker(index: int) -> httpx2.Response:
        with httpx2.Client(base_url=base_url, timeout=120.0) as http:
            http.get("/health")  # the connection is open before the release
            ready.wait()
            return send(http, index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(worker, index) for index in range(count)]
        ready.wait()
        released = time.monotonic()
        responses = [future.result() for future in futures]
    return Burst(responses, time.monotonic() - released)


def budget_admits(failures_before: int, seconds: float) -> int:
    """The most attempts the failure budget can admit within `seconds` of a burst's
    release, starting from `failures_before` counted failures whose wait is over."""
    admitted, elapsed, count = 0, 0.0, failures_before
    while elapsed <= seconds:
        admitted += 1
        count += 1
        elapsed += FailureRecord().delay_after(count)
    return admitted


@dataclass
class Person:
    id: str
    username: str
    secret: str
    recovery_codes: list[str] = field(default_factory=list)

    def code(self, steps_from_now: int = 0) -> str:
        return code_at(self.secret, steps_from_now)


class Service:
    """The running local API, its admin, and a view into its table."""

    def __init__(self, run: LocalRun) -> None:
        self.run = run
        self.base_url = run.base_url
        run.wait_until_healthy()
        admin_totp = pyotp.parse_uri(run.otpauth_uri())
        assert isinstance(admin_totp, pyotp.TOTP)
        [endpoint] = [m.group(1) for line in run.lines if (m := MOTO_LINE.search(line))]
        self.table = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name=LOCAL_REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.http = httpx2.Client(base_url=self.base_url, timeout=60.0)
        password = ADMIN_PASSWORD + admin_totp.now()
        tokens = ok(self.http.post("/token", data={"username": "admin", "password": password}))
        self.admin = bearer(tokens)
        self._count = 0

    def close(self) -> None:
        self.http.close()
        self.table.close()

    def enrolled_user(self) -> Person:
        """A new user, created by the admin and enrolled through the API (setup step)."""
        self._count += 1
        name = f"target{self._count}"
        body = {"username": name, "email": f"{name}@example.com", "password": USER_PASSWORD}
        created = ok(self.http.post("/users", headers=self.admin, json=body), 201)
        first = self.login(name)
        setup = ok(self.http.post("/auth/mfa/setup", json={"mfa_token": first["mfa_token"]}))
        wait_for_step_margin()
        # The previous step's code confirms, so the current and next steps stay unused.
        confirm = {"mfa_token": first["mfa_token"], "code": code_at(setup["secret"], -1)}
        enrolled = ok(self.http.post("/auth/mfa/setup/confirm", json=confirm))
        return Person(created["id"], name, setup["secret"], enrolled["recovery_codes"])

    def login(self, username: str) -> dict[str, Any]:
        body = {"username": username, "password": USER_PASSWORD}
        answer: dict[str, Any] = ok(self.http.post("/auth/login", json=body))
        return answer

    def item(self, pk: str, sk: str) -> dict[str, Any]:
        found = self.table.get_item(
            TableName=LOCAL_TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        item: dict[str, Any] = found.get("Item", {})
        return item

    def stored_failures(self, pk: str, sk: str) -> int:
        return int(self.item(pk, sk).get("login_failures", {"N": "0"})["N"])

    def sessions_of(self, user_id: str) -> int:
        return self._items_of(user_id, "SESSION#")

    def refresh_tokens_of(self, user_id: str) -> int:
        return self._items_of(user_id, "REFRESH#")

    def _items_of(self, user_id: str, sk_prefix: str) -> int:
        found = self.table.query(
            TableName=LOCAL_TABLE,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": f"USER#{user_id}"},
                ":prefix": {"S": sk_prefix},
            },
            ConsistentRead=True,
        )
        return int(found["Count"])

    def audit_events(self, user_id: str, event_type: str) -> int:
        page = ok(
            self.http.get(
                "/audit-events", headers=self.admin, params={"user_id": user_id, "limit": 100}
            )
        )
        return sum(1 for event in page["items"] if event["type"] == event_type)


@pytest.fixture(scope="module")
def service() -> Iterator[Service]:
    run = LocalRun(free_port())
    try:
        running = Service(run)
        try:
            yield running
        finally:
            running.close()
    finally:
        run.kill()
    # However hard it was pushed, the service logged no unhandled error.
    assert "Traceback" not in run.output(last=100_000), run.output(last=400)


def _assert_only(found: Burst, allowed: set[tuple[int, str]]) -> None:
    assert set(found.statuses()) <= allowed, found.statuses()


FAILED_OR_THROTTLED = {(401, "INVALID_CREDENTIALS"), (429, "TOO_MANY_ATTEMPTS")}


def _wrong_password(path: str, username: str) -> Send:
    if path == "/token":
        form = {"username": username, "password": WRONG_PASSWORD + "123456"}
        return lambda http, _: http.post("/token", data=form)
    body = {"username": username, "password": WRONG_PASSWORD}
    return lambda http, _: http.post("/auth/login", json=body)


@pytest.mark.parametrize("path", ["/auth/login", "/token"])
def test_asvs_6_3_1_parallel_wrong_passwords_for_an_account_are_checked_within_its_budget(
    service: Service, path: str
) -> None:
    """40 wrong passwords at once for a fresh account: exactly the 5 free attempts are
    checked (more only if the burst outlasts the back-off that follows them), the rest
    answer 429 unchecked, and every checked attempt is counted once, in the table and in
    the audit trail."""
    person = service.enrolled_user()
    found = burst(service.base_url, BURST, _wrong_password(path, person.username))
    failed = 400 if path == "/token" else 401  # /token: RFC 6749's invalid_grant
    _assert_only(found, {(failed, "INVALID_CREDENTIALS"), (429, "TOO_MANY_ATTEMPTS")})
    checked = found.count(failed)
    assert FREE_FAILURES <= checked <= budget_admits(0, found.seconds), (checked, found.seconds)
    assert found.count(429) == BURST - checked
    assert service.stored_failures(f"USER#{person.id}", "USER") == checked
    assert service.audit_events(person.id, "login_failed") == checked


def test_asvs_6_3_1_parallel_wrong_passwords_for_an_unknown_name_are_limited_the_same_way(
    service: Service,
) -> None:
    """No account behind the name: the same budget, on the name's THROTTLE# item, so
    the answers reveal nothing and guesses are limited just as much."""
    found = burst(service.base_url, BURST, _wrong_password("/auth/login", "nobody-by-this-name"))
    _assert_only(found, FAILED_OR_THROTTLED)
    checked = found.count(401)
    assert FREE_FAILURES <= checked <= budget_admits(0, found.seconds), (checked, found.seconds)
    assert service.stored_failures("THROTTLE#nobody-by-this-name", "LOGIN") == checked


def test_nist_5_2_2_a_backed_off_account_admits_one_attempt_per_wait_even_in_a_burst(
    service: Service,
) -> None:
    """After 6 failures the account waits 2 s, then admits one attempt and waits 4 s:
    a burst released after the 2 s gets exactly one check (the read-then-write design
    let the whole burst through with the back-off it had read)."""
    person = service.enrolled_user()
    send = _wrong_password("/auth/login", person.username)
    for _ in range(FREE_FAILURES):
        assert send(service.http, 0).status_code == 401
    time.sleep(1.05)  # the 5th failure's wait
    assert send(service.http, 0).status_code == 401
    time.sleep(2.05)  # the 6th failure's wait
    found = burst(service.base_url, BURST, send)
    _assert_only(found, FAILED_OR_THROTTLED)
    checked = found.count(401)
    assert 1 <= checked <= budget_admits(FREE_FAILURES + 1, found.seconds)
    assert service.stored_failures(f"USER#{person.id}", "USER") == FREE_FAILURES + 1 + checked


def _verify(mfa_token: str, codes: list[str]) -> Send:
    return lambda http, index: http.post(
        "/auth/mfa/verify", json={"mfa_token": mfa_token, "code": codes[index % len(codes)]}
    )


def test_asvs_6_3_1_parallel_wrong_codes_on_one_mfa_token_get_exactly_its_three_checks(
    service: Service,
) -> None:
    """A stolen password gives one mfa_token: 30 codes sent with it at once are checked
    exactly 3 times (its own budget); the rest are refused unchecked."""
    person = service.enrolled_user()
    mfa_token = service.login(person.username)["mfa_token"]
    wrong = [f"{(int(person.code()) + offset) % 1_000_000:06d}" for offset in (500, 501, 502)]
    found = burst(service.base_url, 30, _verify(mfa_token, wrong))
    assert found.statuses() == Counter(
        {(401, "INVALID_CREDENTIALS"): MFA_TOKEN_FAILURES, (401, "NOT_AUTHENTICATED"): 27}
    )
    assert service.stored_failures(f"USER#{person.id}", "USER") == MFA_TOKEN_FAILURES
    assert service.audit_events(person.id, "login_failed") == MFA_TOKEN_FAILURES


def test_asvs_2_8_4_one_mfa_token_opens_one_session_however_many_valid_codes(
    service: Service,
) -> None:
    """The current TOTP code, the next step's code and two recovery codes, sent at once
    with one mfa_token: one session, never more (the token is spent in the session's
    transaction). Afterwards the token signs in nothing, with any code."""
    person = service.enrolled_user()
    sessions_before = service.sessions_of(person.id)  # the enrollment's own
    signed_in_before = service.audit_events(person.id, "login_succeeded")
    mfa_token = service.login(person.username)["mfa_token"]
    codes = [person.code(0), person.code(1), *person.recovery_codes[:2]]
    found = burst(service.base_url, len(codes) * 2, _verify(mfa_token, codes))
    assert found.count(200) == 1, found.statuses()
    _assert_only(found, {(200, ""), (401, "INVALID_CREDENTIALS"), (401, "NOT_AUTHENTICATED")})
    assert service.sessions_of(person.id) == sessions_before + 1
    later = _verify(mfa_token, [person.recovery_codes[5]])(service.http, 0)
    assert later.status_code == 401, later.text
    assert service.sessions_of(person.id) == sessions_before + 1
    assert service.audit_events(person.id, "login_succeeded") == signed_in_before + 1


def test_asvs_2_6_parallel_use_of_one_recovery_code_signs_in_once(service: Service) -> None:
    """The same recovery code with 6 different mfa_tokens at once: one sign-in, and the
    code is gone; the other 9 codes remain."""
    person = service.enrolled_user()
    sessions_before = service.sessions_of(person.id)
    tokens = [service.login(person.username)["mfa_token"] for _ in range(6)]
    code = person.recovery_codes[0]
    found = burst(
        service.base_url,
        len(tokens),
        lambda http, index: http.post(
            "/auth/mfa/verify", json={"mfa_token": tokens[index], "code": code}
        ),
    )
    assert found.count(200) == 1, found.statuses()
    _assert_only(found, {(200, ""), (401, "NOT_AUTHENTICATED")} | FAILED_OR_THROTTLED)
    stored = service.item(f"USER#{person.id}", "USER")["recovery_code_hashes"]["SS"]
    assert len(stored) == len(person.recovery_codes) - 1
    assert service.sessions_of(person.id) == sessions_before + 1


def test_asvs_2_8_4_parallel_enrollment_confirmations_enroll_once(service: Service) -> None:
    """First login: the same setup code confirmed 8 times at once opens one session and
    hands out one set of recovery codes."""
    body = {"username": "enrollee", "email": "enrollee@example.com", "password": USER_PASSWORD}
    created = ok(service.http.post("/users", headers=service.admin, json=body), 201)
    mfa_token = service.login("enrollee")["mfa_token"]
    setup = ok(service.http.post("/auth/mfa/setup", json={"mfa_token": mfa_token}))
    wait_for_step_margin()
    confirm = {"mfa_token": mfa_token, "code": code_at(setup["secret"], 0)}
    found = burst(
        service.base_url, 8, lambda http, _: http.post("/auth/mfa/setup/confirm", json=confirm)
    )
    assert found.count(200) == 1, found.statuses()
    _assert_only(found, {(200, ""), (401, "INVALID_CREDENTIALS"), (401, "NOT_AUTHENTICATED")})
    assert service.sessions_of(created["id"]) == 1


def _refresh(path: str, refresh_token: str) -> Send:
    if path == "/token":  # RFC 6749 §6, the grant standard clients use
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return lambda http, _: http.post("/token", data=form)
    return lambda http, _: http.post("/auth/refresh", json={"refresh_token": refresh_token})


@pytest.mark.parametrize(
    ("path", "refused"),
    [("/auth/refresh", (401, "NOT_AUTHENTICATED")), ("/token", (400, "NOT_AUTHENTICATED"))],
)
def test_rfc6749_10_4_parallel_refreshes_of_one_token_rotate_once(
    service: Service, path: str, refused: tuple[int, str]
) -> None:
    """One refresh token sent 10 times at once, on either refresh endpoint: exactly one
    new pair. The other nine are reuse of a retired token, which ends the session (reuse
    detection), so the winner's new refresh token is dead too."""
    person = service.enrolled_user()
    challenge = service.login(person.username)
    tokens = ok(
        service.http.post(
            "/auth/mfa/verify", json={"mfa_token": challenge["mfa_token"], "code": person.code()}
        )
    )
    found = burst(service.base_url, 10, _refresh(path, tokens["refresh_token"]))
    assert found.statuses() == Counter({(200, ""): 1, refused: 9})
    [winner] = [r.json() for r in found.responses if r.status_code == 200]
    again = _refresh(path, winner["refresh_token"])(service.http, 0)
    assert (again.status_code, again.json()["code"]) == refused, again.text


def test_parallel_creates_of_one_username_create_one_user(service: Service) -> None:
    """20 admins' requests for one name at once: one 201, 19 USERNAME_TAKEN, one claim."""

    def create(http: httpx2.Client, index: int) -> httpx2.Response:
        body = {
            "username": "Contested",
            "email": f"contested{index}@example.com",
            "password": USER_PASSWORD,
        }
        return http.post("/users", headers=service.admin, json=body)

    found = burst(service.base_url, 20, create)
    assert found.statuses() == Counter({(201, ""): 1, (409, "USERNAME_TAKEN"): 19})
    [winner] = [r.json() for r in found.responses if r.status_code == 201]
    assert service.item("USERNAME#contested", "CLAIM")["user_id"]["S"] == winner["id"]
    emails = [
        index for index in range(20) if service.item(f"EMAIL#contested{index}@example.com", "CLAIM")
    ]
    assert len(emails) == 1


def _signed_in(service: Service) -> tuple[Person, dict[str, str]]:
    """A new enrolled user, signed in with the current TOTP step's code (now spent)."""
    person = service.enrolled_user()
    wait_for_step_margin()
    mfa_token = service.login(person.username)["mfa_token"]
    verify = {"mfa_token": mfa_token, "code": person.code(0)}
    return person, bearer(ok(service.http.post("/auth/mfa/verify", json=verify)))


def _passkey_registration(service: Service) -> tuple[Any, dict[str, str], str, Any, Any]:
    """A signed-in user and a registration answer of a new passkey, not yet sent."""
    person, headers = _signed_in(service)
    port = service.base_url.rsplit(":", 1)[1]
    origin = f"http://localhost:{port}"  # the local run's relying party (infra/local.py)
    authenticator = SoftAuthenticator()
    creation = ok(
        service.http.post(
            "/users/me/passkeys/options", headers=headers, json={"password": USER_PASSWORD}
        )
    )["publicKey"]
    return person, headers, origin, authenticator, authenticator.create(creation, origin=origin)


def test_asvs_6_6_one_passkey_registration_sent_10_times_at_once_registers_once(
    service: Service,
) -> None:
    """Registration (WebAuthn L3 7.1, a challenge works once; a credential registers
    once): one registration answer sent 10 times at once stores exactly one passkey."""
    _, headers, _, _, credential = _passkey_registration(service)
    found = burst(
        service.base_url,
        10,
        lambda http, _: http.post(
            "/users/me/passkeys", headers=headers, json={"credential": credential}
        ),
    )
    assert found.count(201) == 1, found.statuses()
    assert {status for status, _ in found.statuses()} <= {201, 409, 422}, found.statuses()
    listed = ok(service.http.get("/users/me/passkeys", headers=headers))["items"]
    assert len(listed) == 1, listed


def test_asvs_6_6_one_passkey_challenge_answered_10_times_at_once_opens_one_session(
    service: Service,
) -> None:
    """Passwordless sign-in (NIST SP 800-63B 5.2.8, replay resistance): one valid
    assertion, sent 10 times at once, opens exactly one session. The challenge is spent
    by one conditional write before any signature is checked, so the other nine find it
    spent; afterwards the same assertion signs in nothing."""
    person, headers, origin, authenticator, credential = _passkey_registration(service)
    ok(
        service.http.post("/users/me/passkeys", headers=headers, json={"credential": credential}),
        201,
    )
    sessions_before = service.sessions_of(person.id)
    started = ok(service.http.post("/auth/passkey/options", json={}))
    body = {
        "passkey_token": started["passkey_token"],
        "credential": authenticator.get(started["publicKey"], origin=origin),
    }
    found = burst(
        service.base_url, 10, lambda http, _: http.post("/auth/passkey/verify", json=body)
    )
    assert found.count(200) == 1, found.statuses()
    # The others: refused, or throttled once the replays spent the account's budget
    # (each is reserved in it before the challenge is tried).
    _assert_only(found, {(200, ""), *FAILED_OR_THROTTLED})
    assert service.sessions_of(person.id) == sessions_before + 1
    later = service.http.post("/auth/passkey/verify", json=body)
    assert later.status_code in {401, 429}, later.text
    assert service.sessions_of(person.id) == sessions_before + 1


def test_asvs_2_8_4_one_mfa_token_answered_with_totp_and_a_passkey_at_once_opens_one_session(
    service: Service,
) -> None:
    """One mfa_token, two second factors (ASVS 2.8.4 single use; NIST SP 800-63B 5.2.8
    replay resistance): a user with TOTP and a passkey answers one mfa_token 10 times at once,
    half with a valid TOTP code and half with passkey assertions, each on its own
    challenge. Exactly one session opens, whichever factor wins: the token is spent in
    the session transaction whatever factor spends it. The others get the contract's
    401, and nothing else is stored."""
    person, headers, origin, authenticator, credential = _passkey_registration(service)
    ok(
        service.http.post("/users/me/passkeys", headers=headers, json={"credential": credential}),
        201,
    )
    sessions_before = service.sessions_of(person.id)
    refresh_tokens_before = service.refresh_tokens_of(person.id)
    signed_in_before = service.audit_events(person.id, "login_succeeded")
    wait_for_step_margin()
    challenge = service.login(person.username)
    assert {"totp", "passkey"} <= set(challenge["methods"]), challenge
    mfa_token = challenge["mfa_token"]
    mfa_request = {"mfa_token": mfa_token}
    # Each assertion answers a challenge of its own, all asked for before the release;
    # the last one is kept for afterwards.
    *assertions, held_back = [
        authenticator.get(
            ok(service.http.post("/auth/mfa/passkey/options", json=mfa_request))["publicKey"],
            origin=origin,
        )
        for _ in range(6)
    ]
    # The sign-in that registered the passkey spent the current step's code; the next
    # step's is valid and unused.
    code = person.code(1)
    bodies = [
        body
        for assertion in assertions
        for body in ({**mfa_request, "code": code}, {**mfa_request, "credential": assertion})
    ]
    found = burst(
        service.base_url,
        len(bodies),
        lambda http, index: http.post("/auth/mfa/verify", json=bodies[index]),
    )
    assert found.count(200) == 1, found.statuses()
    _assert_only(found, {(200, ""), (401, "INVALID_CREDENTIALS"), (401, "NOT_AUTHENTICATED")})
    [winner] = [r.json() for r in found.responses if r.status_code == 200]
    assert set(winner) >= {"access_token", "refresh_token"}, winner
    ok(service.http.get("/users/me", headers=bearer(winner)))
    # Whichever factor won, the token is spent for both.
    for later in ({**mfa_request, "code": code}, {**mfa_request, "credential": held_back}):
        answer = service.http.post("/auth/mfa/verify", json=later)
        assert answer.status_code == 401, answer.text
    assert service.sessions_of(person.id) == sessions_before + 1
    assert service.refresh_tokens_of(person.id) == refresh_tokens_before + 1
    assert service.audit_events(person.id, "login_succeeded") == signed_in_before + 1


def test_asvs_6_3_1_parallel_wrong_passwords_at_passkey_registration_are_checked_within_budget(
    service: Service,
) -> None:
    """Adding a passkey asks for the password again (ASVS 5.0 6.2.3), so a stolen access
    token could be used to guess it. 40 wrong passwords at once on
    `POST /users/me/passkeys/options` spend the account's login failure budget (NIST SP
    800-63B 5.2.2) exactly as at sign-in: the 5 free attempts are checked (more only if
    the burst outlasts the back-off that follows them), the rest answer 429 unchecked,
    and each checked attempt is counted once. While the back-off lasts even the right
    password is refused; after it the right password gets its options and gives its
    attempt back."""
    person, headers = _signed_in(service)

    def options(http: httpx2.Client, password: str) -> httpx2.Response:
        return http.post("/users/me/passkeys/options", headers=headers, json={"password": password})

    found = burst(service.base_url, BURST, lambda http, _: options(http, WRONG_PASSWORD))
    _assert_only(found, FAILED_OR_THROTTLED)
    checked = found.count(401)
    assert FREE_FAILURES <= checked <= budget_admits(0, found.seconds), (checked, found.seconds)
    assert found.count(429) == BURST - checked
    stored = service.item(f"USER#{person.id}", "USER")
    failures = FailureRecord(
        int(stored["login_failures"]["N"]), float(stored["last_login_failure_at"]["N"])
    )
    assert failures.count == checked
    locked_until = failures.last_at + failures.delay_after(failures.count)

    right = options(service.http, USER_PASSWORD)
    if time.time() < locked_until:  # answered before the back-off ended: it must hold
        assert (right.status_code, right.json()["code"]) == (429, "TOO_MANY_ATTEMPTS"), right.text
        assert service.stored_failures(f"USER#{person.id}", "USER") == checked
        time.sleep(locked_until - time.time() + 0.05)
        right = options(service.http, USER_PASSWORD)
    assert ok(right)["publicKey"]["challenge"]
    assert service.stored_failures(f"USER#{person.id}", "USER") == checked
