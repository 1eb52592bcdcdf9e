"""Warm latency per endpoint through the Lambda handler, split into AWS SDK time and own time.

    python -m bench.warm_latency [--runs N] [--output PATH]

One warm container's view: the app is built once (`Mangum(create_app(settings))`, as
`authapi.main` does), then every request is an API Gateway HTTP API (payload 2.0) event
built from the fixtures in tests/events, timed with time.perf_counter around the handler
call. Every call the app makes through botocore (`BaseClient._make_api_call`, which
pynamodb's connection and the SSM client both go through) is timed as well, so each
request splits into time inside the AWS SDK and the app's own time (the rest: Mangum,
Starlette and FastAPI, middleware, validation, tokens, the domain code).

Everything runs in this process against moto's in-process DynamoDB and SSM: fake
credentials, no endpoint, no network. "SDK time" therefore includes moto's own
emulation work instead of a network round trip to DynamoDB; the own time is what the
function itself spends and what this benchmark judges. Log records go, formatted, to
os.devnull through a root handler, as the Lambda runtime's handler would send them on.

The floor is a one-route FastAPI app (`GET /ping`, a plain `def` like the service's
routes) behind `Mangum(app, lifespan="off")`: what any FastAPI-on-Lambda function pays
per request. Target from the benchmark issue: the own time of `GET /users/me` at most
2x the floor (medians).

Cases are interleaved (one request of each per round, in a rotating order, the floor
among them) so that drift on the machine spreads over all. Only successful requests are
timed; the state they need (tokens, mfa tokens, sessions to end) is prepared untimed,
and the table is put back as it was before every round (see `State.restore`). After the
timed rounds, a few hundred `GET /users/me` requests are profiled to say where the own
time goes.
"""

from __future__ import annotations

from .inprocess import use_fake_aws

STAGE = "warm"
use_fake_aws(STAGE)  # before anything creates an AWS client

import copy  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter, deque  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import anyio.to_thread  # noqa: E402
import pyotp  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from mangum import Mangum  # noqa: E402

from authapi.audit.models import AUDIT_SHARDS, AuditEventItem, audit_kind  # noqa: E402
from authapi.core.config import Settings  # noqa: E402
from authapi.main import create_app  # noqa: E402
from authapi.security import passwords, totp  # noqa: E402
from authapi.users import service  # noqa: E402
from authapi.users.domain import Role  # noqa: E402
from tests.support import Clock  # noqa: E402

from . import lambda_events  # noqa: E402
from .inprocess import create_enrolled_user, patched_clock, service_in_moto  # noqa: E402
from .lambda_events import LambdaContext  # noqa: E402
from .report import Stats, Target, markdown_table, ms, runs_command  # noqa: E402
from .sdk_calls import SdkTimer, timed_sdk, wrapped_sdk_calls  # noqa: E402

SECTION = "## Warm latency"
DEFAULT_RUNS = 200
WARM_UP_ROUNDS = 3
TARGET_RATIO = 2.0
PASSWORD = "correct horse battery staple"  # noqa: S105 - throwaway users in moto
# Users whose login and second factor are timed, in turn: each may use a TOTP step only
# once, so the clock moves one step forward per POOL second-factor requests, not per
# request (the service clock stays near wall time: few SSM re-reads, tokens stay valid).
POOL = 10
# Users in the table besides the benchmark's own (12), so that `GET /users?limit=20`
# answers a full page and a next cursor. Not the default page of 50: moto copies the
# whole table for every transaction and serializes slowly, so more users would make every
# round (and the run) much longer without changing the own time of the other endpoints.
LISTED_USERS = 10
PAGE = 20
PROFILED_REQUESTS = 200
USERS = 2 + POOL + LISTED_USERS  # me, an admin, the pool, the listed users


@contextmanager
def lambda_logging() -> Iterator[None]:
    """A root handler as the Lambda runtime installs one: every record the app emits
    (a JSON line per request, audit events) is formatted and written, here to os.devnull."""
    root = logging.getLogger()
    with open(os.devnull, "w", encoding="utf-8") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(message)s"))
        root.addHandler(handler)
        try:
            yield
        finally:
            root.removeHandler(handler)


# ---- the floor ------------------------------------------------------------------------------


def floor_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app


# ---- state the timed requests need (prepared untimed) -----------------------------------------


@dataclass
class Account:
    id: str
    username: str
    secret: str
    last_step: int | None = None


@dataclass
class Session:
    account: Account
    access_token: str
    refresh_token: str
    issued_at: float


def _body(result: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(result["body"])
    return body


def _moto_tables(settings: Settings) -> dict[str, Any]:
    """moto's in-process DynamoDB tables (the fake account, the service's region)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    tables: dict[str, Any] = dynamodb_backends[DEFAULT_ACCOUNT_ID][settings.aws_region].tables
    return tables


@dataclass
class State:
    """Users, sessions and queues shared by the cases; every method here is untimed."""

    handler: Any
    fake: Clock
    settings: Settings
    me: Session | None = None
    admin: Session | None = None
    refresh_chain: Session | None = None
    pool: list[Account] = field(default_factory=list)
    turn: int = 0
    created: int = 0
    profile_edits: int = 0
    email_edits: int = 0
    challenges: deque[tuple[Account, str]] = field(default_factory=deque)
    to_end: deque[Session] = field(default_factory=deque)
    # The table as it was after `prepare`, and the refresh chain then (see `restore`).
    baseline: Any = None
    chain_start: Session | None = None

    def call(self, event: dict[str, Any], expected: int, what: str) -> dict[str, Any]:
        result: dict[str, Any] = self.handler(event, LambdaContext())
        if result["statusCode"] != expected:
            raise RuntimeError(
                f"{what}: expected {expected}, got {result['statusCode']}: {result.get('body')}"
            )
        return result

    def create(self, username: str, role: Role = Role.USER) -> Account:
        user, secret = create_enrolled_user(self.settings, username, PASSWORD, role)
        return Account(user.id, user.username, secret)

    def next_in_pool(self) -> Account:
        account = self.pool[self.turn % len(self.pool)]
        self.turn += 1
        return account

    def challenge(self, account: Account) -> str:
        """`POST /auth/login`: an mfa_token for `account`."""
        result = self.call(lambda_events.login(account.username, PASSWORD), 200, "login")
        token: str = _body(result)["mfa_token"]
        return token

    def code(self, account: Account) -> str:
        """A TOTP code the account has not used yet: the clock moves one step forward
        only when this account already used the current step."""
        step = int(self.fake.now()) // totp.STEP_SECONDS
        if account.last_step is not None and account.last_step >= step:
            self.fake.next_step()
            step = int(self.fake.now()) // totp.STEP_SECONDS
        account.last_step = step
        return pyotp.TOTP(account.secret).at(self.fake.now())

    def session(self, account: Account, result: dict[str, Any]) -> Session:
        tokens = _body(result)
        return Session(account, tokens["access_token"], tokens["refresh_token"], self.fake.now())

    def sign_in(self, account: Account) -> Session:
        mfa_token = self.challenge(account)
        body = {"mfa_token": mfa_token, "code": self.code(account)}
        event = lambda_events.request("POST", "/auth/mfa/verify", json_body=body)
        return self.session(account, self.call(event, 200, "sign-in"))

    def renew(self, current: Session) -> Session:
        """A fresh access token for a long-lived session (`POST /auth/refresh`) once
        half of its lifetime has passed on the service clock."""
        if self.fake.now() - current.issued_at < self.settings.access_token_ttl_seconds / 2:
            return current
        body = {"refresh_token": current.refresh_token}
        event = lambda_events.request("POST", "/auth/refresh", json_body=body)
        return self.session(current.account, self.call(event, 200, "renewal"))

    def snapshot(self) -> None:
        self.baseline = copy.deepcopy(_moto_tables(self.settings)[self.settings.table_name])
        self.chain_start = self.refresh_chain

    def restore(self) -> None:
        """Before every round: the table as it was at the snapshot. moto copies the whole
        table for each transaction and reads the whole index for each index query, and
        items grow (revoked sessions on the user), so without this the costs would grow
        with every user, session and audit event a round adds. Sessions opened in the
        last round are gone, and the refresh chain starts from the same refresh token
        (unused again) every round."""
        _moto_tables(self.settings)[self.settings.table_name] = copy.deepcopy(self.baseline)
        self.refresh_chain = self.chain_start
        self.to_end.clear()
        me, admin = required(self.me), required(self.admin)
        self.me, self.admin = self.renew(me), self.renew(admin)
        if self.me is not me or self.admin is not admin:
            self.snapshot()  # the renewals rotated their refresh tokens: keep them


def required(session: Session | None) -> Session:
    if session is None:
        raise RuntimeError("a session the benchmark needs was not set up")
    return session


def prepare(handler: Any, fake: Clock, settings: Settings) -> State:
    state = State(handler, fake, settings)
    me = state.create("bench.me")
    admin = state.create("bench.admin", Role.ADMIN)
    state.pool = [state.create(f"bench.pool{index}") for index in range(POOL)]
    # Imported with one ready hash, so that setting up costs no argon2id each.
    stored = passwords.hash_password(PASSWORD)
    for index in range(LISTED_USERS):
        service.import_user(
            settings,
            username=f"listed{index}",
            email=f"listed{index}@example.com",
            password_hash=stored,
            full_name=f"Listed User {index}",
            role=Role.USER,
            disabled=False,
        )
    state.me = state.sign_in(me)
    state.admin = state.sign_in(admin)
    state.refresh_chain = state.sign_in(me)
    # The set-up's audit events only make moto's table copies bigger.
    for shard in range(AUDIT_SHARDS):
        for event in AuditEventItem.by_kind.query(audit_kind(shard)):
            event.delete()
    state.snapshot()
    return state


# ---- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    key: str
    endpoint: str
    note: str
    expected_status: int
    # Builds the event (untimed), possibly preparing state through the handler first.
    build: Callable[[], dict[str, Any]]
    # Keeps what the answer carries (tokens) for later requests (untimed).
    after: Callable[[dict[str, Any]], None] | None = None
    floor: bool = False


def cases(state: State) -> list[Case]:
    """Listed so that login, second factor and logout follow each other: the rotation
    keeps that order in all but two rounds of each cycle, so the mfa_token and the
    session these need come from the timed request before, not from an untimed login."""

    def me() -> Session:
        return required(state.me)

    def admin() -> Session:
        return required(state.admin)

    def get(path: str, session: Callable[[], Session] | None = None) -> dict[str, Any]:
        token = None if session is None else session().access_token
        return lambda_events.request("GET", path, token=token)

    def list_users() -> dict[str, Any]:
        query = {"limit": str(PAGE)}
        return lambda_events.request("GET", "/users", token=admin().access_token, query=query)

    def patch_name() -> dict[str, Any]:
        state.profile_edits += 1
        name = "Bench Me" if state.profile_edits % 2 else "Bench Me Too"
        body = {"full_name": name}
        return lambda_events.request("PATCH", "/users/me", token=me().access_token, json_body=body)

    def patch_email() -> dict[str, Any]:
        state.email_edits += 1
        body = {"email": f"bench.me{state.email_edits % 2}@example.com"}
        return lambda_events.request("PATCH", "/users/me", token=me().access_token, json_body=body)

    def create_user() -> dict[str, Any]:
        state.created += 1
        name = f"created{state.created}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        return lambda_events.request("POST", "/users", token=admin().access_token, json_body=body)

    def login() -> dict[str, Any]:
        account = state.next_in_pool()
        state.challenges.append((account, ""))  # the token follows in login_done
        return lambda_events.login(account.username, PASSWORD)

    def login_done(result: dict[str, Any]) -> None:
        account, _ = state.challenges.pop()
        state.challenges.append((account, _body(result)["mfa_token"]))

    def verify() -> dict[str, Any]:
        if state.challenges:
            account, mfa_token = state.challenges.popleft()
        else:
            account = state.next_in_pool()
            mfa_token = state.challenge(account)
        state.to_end.append(Session(account, "", "", 0.0))  # the tokens follow in verify_done
        body = {"mfa_token": mfa_token, "code": state.code(account)}
        return lambda_events.request("POST", "/auth/mfa/verify", json_body=body)

    def verify_done(result: dict[str, Any]) -> None:
        pending = state.to_end.pop()
        state.to_end.append(state.session(pending.account, result))

    def logout() -> dict[str, Any]:
        ending = state.to_end.popleft() if state.to_end else state.sign_in(state.next_in_pool())
        body = {"refresh_token": ending.refresh_token}
        return lambda_events.request(
            "POST", "/auth/logout", token=ending.access_token, json_body=body
        )

    def refresh() -> dict[str, Any]:
        body = {"refresh_token": required(state.refresh_chain).refresh_token}
        return lambda_events.request("POST", "/auth/refresh", json_body=body)

    def refresh_done(result: dict[str, Any]) -> None:
        state.refresh_chain = state.session(required(state.refresh_chain).account, result)

    return [
        Case("health", "GET /health", "no AWS", 200, lambda: get("/health")),
        Case(
            "jwks",
            "GET /.well-known/jwks.json",
            "public keys",
            200,
            lambda: get("/.well-known/jwks.json"),
        ),
        Case("me", "GET /users/me", "access token", 200, lambda: get("/users/me", me)),
        Case("patch_name", "PATCH /users/me", "full_name", 200, patch_name),
        Case("patch_email", "PATCH /users/me", "email (claim moves)", 200, patch_email),
        Case("list", "GET /users", f"admin, page of {PAGE}", 200, list_users),
        Case(
            "read_user",
            "GET /users/{id}",
            "admin",
            200,
            lambda: get(f"/users/{me().account.id}", admin),
        ),
        Case("create_user", "POST /users", "admin; argon2id hash", 201, create_user),
        Case("login", "POST /auth/login", "argon2id verify", 200, login, login_done),
        Case("verify", "POST /auth/mfa/verify", "TOTP code", 200, verify, verify_done),
        Case("logout", "POST /auth/logout", "with refresh token", 204, logout),
        Case("refresh", "POST /auth/refresh", "rotation", 200, refresh, refresh_done),
    ]


# ---- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    total: float
    sdk: float
    calls: int


def _invoke(handler: Any, case: Case, timer: SdkTimer) -> Sample:
    event = case.build()
    context = LambdaContext()
    timer.reset()
    start = time.perf_counter()
    result = handler(event, context)
    elapsed = time.perf_counter() - start
    sdk, calls = timer.seconds, timer.calls
    if result["statusCode"] != case.expected_status:
        raise RuntimeError(
            f"{case.endpoint} ({case.key}): expected {case.expected_status}, "
            f"got {result['statusCode']}: {result.get('body')}"
        )
    if case.after is not None:
        case.after(result)
    return Sample(elapsed, sdk, calls)


@dataclass(frozen=True)
class Row:
    case: Case
    total: Stats
    sdk: Stats
    own: Stats
    calls: tuple[int, int]


@dataclass(frozen=True)
class Profile:
    """Where the own CPU time of `GET /users/me` goes, and its thread-pool crossings."""

    requests: int
    cpu_per_request: float
    shares: list[tuple[str, float]]
    hops: float
    floor_hops: float


@dataclass(frozen=True)
class Results:
    runs: int
    rows: list[Row]
    floor: Stats
    elapsed: float
    profile: Profile


def _row(case: Case, samples: list[Sample]) -> Row:
    calls = [sample.calls for sample in samples]
    return Row(
        case=case,
        total=Stats.of([sample.total for sample in samples]),
        sdk=Stats.of([sample.sdk for sample in samples]),
        own=Stats.of([sample.total - sample.sdk for sample in samples]),
        calls=(min(calls), max(calls)),
    )


def measure(runs: int) -> Results:
    started = time.perf_counter()
    fake = Clock()
    timer = SdkTimer()
    with (
        service_in_moto(STAGE) as settings,
        patched_clock(fake),
        timed_sdk(timer),
        lambda_logging(),
    ):
        handler = Mangum(create_app(settings), lifespan="off")
        floor_handler = Mangum(floor_app(), lifespan="off")
        state = prepare(handler, fake, settings)
        floor = Case(
            "floor",
            "GET /ping",
            "floor",
            200,
            lambda: lambda_events.request("GET", "/ping"),
            floor=True,
        )
        every = [*cases(state), floor]

        def invoke(case: Case) -> Sample:
            return _invoke(floor_handler if case.floor else handler, case, timer)

        # Warm-up, untimed: first imports and code paths, the SSM read, connections.
        for _ in range(WARM_UP_ROUNDS):
            state.restore()
            for case in every:
                invoke(case)
        samples: dict[str, list[Sample]] = {case.key: [] for case in every}
        for round_ in range(runs):
            state.restore()
            shift = round_ % len(every)
            for case in every[shift:] + every[:shift]:
                samples[case.key].append(invoke(case))
        me = next(case for case in every if case.key == "me")
        profile = _profile(handler, me.build, floor_handler)
    rows = [_row(case, samples[case.key]) for case in every if not case.floor]
    floor_stats = Stats.of([sample.total for sample in samples["floor"]])
    return Results(runs, rows, floor_stats, time.perf_counter() - started, profile)


# ---- where the own time of GET /users/me goes -----------------------------------------------

AREAS = [
    # (label, substrings of a profiled function's file or name), first match wins
    (
        "asyncio and anyio (event loop, thread-pool hand-offs)",
        (
            "/asyncio/",
            "anyio",
            "selectors",
            "threading",
            "queue.py",
            "concurrent",
            "Context' objects",
            "get_running_loop",
            "_thread.",
        ),
    ),
    ("FastAPI, Starlette and Mangum", ("fastapi", "starlette", "mangum")),
    ("PyJWT and cryptography (access token)", ("jwt", "cryptography", "base64")),
    ("pynamodb (item to model)", ("pynamodb",)),
    ("pydantic (validation, JSON)", ("pydantic",)),
    ("the service's own modules", ("/authapi/",)),
    ("logging", ("logging",)),
]
OTHER = "other (standard library, builtins)"


def _area(filename: str, name: str) -> str:
    where = f"{filename} {name}"
    for label, needles in AREAS:
        if any(needle in where for needle in needles):
            return label
    return OTHER


def _attribute(entries: dict[Any, Any]) -> Counter[str]:
    """Own (self) CPU time by area. A builtin that names no area (any, isinstance,
    dict.get, a socket's recv) counts for the areas of its callers, in proportion."""
    spent: Counter[str] = Counter()
    for (filename, _line, name), (_, _, own, _, callers) in entries.items():
        if "epoll" in name or "select." in name or filename == __file__:
            continue  # the loop thread waiting for the pool; this module's wrappers
        area = _area(filename, name)
        if filename != "~" or area != OTHER or not callers:
            spent[area] += own
            continue
        for (caller_file, _, caller_name), timing in callers.items():
            spent[_area(caller_file, caller_name)] += timing[2]
    return spent


def _profile(handler: Any, event: Callable[[], dict[str, Any]], floor_handler: Any) -> Profile:
    """cProfile (CPU time of each thread) over PROFILED_REQUESTS `GET /users/me`, around
    the handler call only: one profiler on the event-loop thread, one inside every
    thread-pool job, each paused during SDK calls (which run on the loop thread when the
    app makes them in place, `core.blocking`). Time the loop thread spends waiting
    in epoll for the pool is left out. Also counts the thread-pool jobs of
    `GET /users/me` and of the floor."""
    loop_profiler = cProfile.Profile(time.thread_time)
    pool_profiler = cProfile.Profile(time.thread_time)
    hops = 0
    in_job = threading.local()
    loop_profiled = False
    original_run_sync = anyio.to_thread.run_sync

    async def run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        nonlocal hops
        hops += 1

        def profiled(*inner: Any) -> Any:
            in_job.active = True
            pool_profiler.enable()
            try:
                return func(*inner)
            finally:
                pool_profiler.disable()
                in_job.active = False

        return await original_run_sync(profiled, *args, **kwargs)

    def unprofiled(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if getattr(in_job, "active", False):
                profiler = pool_profiler
            elif loop_profiled:
                profiler = loop_profiler
            else:
                return original(client, operation_name, api_params)
            profiler.disable()
            try:
                return original(client, operation_name, api_params)
            finally:
                profiler.enable()

        return call

    def checked(result: dict[str, Any]) -> None:
        if result["statusCode"] != 200:
            raise RuntimeError(f"profiled request: {result['statusCode']}: {result.get('body')}")

    floor_events = [lambda_events.request("GET", "/ping") for _ in range(PROFILED_REQUESTS)]
    events = [event() for _ in range(PROFILED_REQUESTS)]
    setattr(anyio.to_thread, "run_sync", run_sync)  # noqa: B010 - patched for the profile
    try:
        with wrapped_sdk_calls(unprofiled):
            for floor_event in floor_events:
                checked(floor_handler(floor_event, LambdaContext()))
            floor_hops = hops / PROFILED_REQUESTS
            hops = 0
            for me_event in events:
                context = LambdaContext()
                loop_profiled = True
                loop_profiler.enable()
                result = handler(me_event, context)
                loop_profiler.disable()
                loop_profiled = False
                checked(result)
    finally:
        setattr(anyio.to_thread, "run_sync", original_run_sync)  # noqa: B010
    spent: Counter[str] = Counter()
    for profiler in (loop_profiler, pool_profiler):
        spent.update(_attribute(pstats.Stats(profiler).stats))  # type: ignore[attr-defined]
    total = sum(spent.values())
    return Profile(
        requests=PROFILED_REQUESTS,
        cpu_per_request=total / PROFILED_REQUESTS,
        shares=[(label, value / total) for label, value in spent.most_common()],
        hops=hops / PROFILED_REQUESTS,
        floor_hops=floor_hops,
    )


# ---- the report -------------------------------------------------------------------------------


def _me(results: Results) -> Row:
    return next(row for row in results.rows if row.case.key == "me")


def table(results: Results) -> str:
    floor = results.floor
    rows: list[tuple[str, ...]] = []
    for row in results.rows:
        low, high = row.calls
        rows.append(
            (
                f"`{row.case.endpoint}`",
                row.case.note,
                str(low) if low == high else f"{low}-{high}",
                ms(row.total.median, 2),
                ms(row.total.p99, 2),
                ms(row.sdk.median, 2),
                ms(row.own.median, 2),
                ms(row.own.p99, 2),
                f"{row.own.median / floor.median:.1f}x",
            )
        )
    rows.append(
        (
            "floor: `GET /ping`",
            "one-route FastAPI + Mangum",
            "0",
            ms(floor.median, 2),
            ms(floor.p99, 2),
            "0.00",
            ms(floor.median, 2),
            ms(floor.p99, 2),
            "1.0x",
        )
    )
    header = ["Endpoint", "Case", "AWS calls", "p50 ms", "p99 ms", "SDK p50 ms"]
    header += ["Own p50 ms", "Own p99 ms", "Own p50 / floor"]
    return markdown_table(header, rows, text_columns=2)


def targets(results: Results) -> list[Target]:
    me = _me(results)
    floor = results.floor.median
    return [
        Target(
            name="Warm latency: own time of `GET /users/me`",
            goal=f"≤ {TARGET_RATIO:.0f}x the floor (p50)",
            measured=f"{me.own.median / floor:.1f}x ({ms(me.own.median, 2)} ms vs "
            f"{ms(floor, 2)} ms)",
            met=me.own.median <= TARGET_RATIO * floor,
        )
    ]


def profile_text(profile: Profile) -> str:
    top = "; ".join(f"{label} {share:.0%}" for label, share in profile.shares[:4])
    return (
        f"Where the own time of `GET /users/me` goes (cProfile over {profile.requests} "
        "requests, CPU time of the event-loop thread and of every thread-pool job, SDK "
        f"calls left out; {ms(profile.cpu_per_request, 1)} ms CPU a request under the "
        f"profiler, which inflates Python-heavy code, so read the shares): {top}. Each "
        f"request crosses into the thread pool {profile.hops:.0f} times (every sync `def` "
        "dependency and the endpoint, and the response validation after it) where the floor "
        f"crosses {profile.floor_hops:.0f} times."
    )


def section(results: Results) -> str:
    [target] = targets(results)
    verdict = "met" if target.met else "not met"
    return f"""{SECTION}

How to run: `.venv/bin/python -m bench.warm_latency --runs N` (this section only).

One warm container in this process, invoked through Mangum with API Gateway events:
{results.runs} timed requests per case after {WARM_UP_ROUNDS} untimed rounds, cases
interleaved, {results.elapsed:.0f} s in all, {USERS} users in the table. "SDK" is the time
inside botocore (here moto's emulation too), "own" the rest: read the own time and the
number of AWS calls as what the function costs. The floor is a one-route FastAPI app
behind Mangum, in the same rounds. Method: [docs/benchmarks.md](docs/benchmarks.md#warm-latency).

{table(results)}

Target (benchmark issue): own time of `GET /users/me` ≤ {TARGET_RATIO:.0f}x the floor at
the median: {target.measured}, {verdict}.

{profile_text(results.profile)}
"""


main = runs_command(
    __doc__,
    default_runs=DEFAULT_RUNS,
    runs_help="timed rounds",
    minimum_runs=5,
    measure=measure,
    section=section,
)


if __name__ == "__main__":
    raise SystemExit(main())
