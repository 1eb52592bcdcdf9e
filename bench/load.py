"""Load: sign-ins and GET /users/me from many simulated users against the local run.

    python -m bench.load [--seconds S] [--users U] [--concurrency C] [--output PATH]

Starts the README's local run (`python -m infra.local`: uvicorn and an embedded moto
server in one process) on free loopback ports, with an admin whose password this script
chooses, and waits for GET /health. Setup, untimed: the admin signs in (POST /token),
creates U users (POST /users) and each user enrolls TOTP through the API, as a new user
does at first login (/auth/login, /auth/mfa/setup, /auth/mfa/setup/confirm), so the
script knows every user's secret; a 503 there is retried, as the contract advises.
Load, for S seconds: C asyncio workers share one httpx2.AsyncClient; each round signs a
user in, if one is due, with the two-step login (/auth/login, then /auth/mfa/verify with
the current TOTP code) and then calls GET /users/me a few times with the new access
token, or with the token of an earlier sign-in when nobody is due.

A TOTP code is accepted once (a reused code is a 401 that also spends the account's
failure budget), so a user signs in at most once per 30-second step: every user is due
once per 30 s, the turns spread evenly, and the script also checks the last step each
user's code was accepted in. Every answer other than 2xx, and every transport error, is
counted as an error (the target is zero). Latencies are time.perf_counter around each
request at the client. The server's console output goes to a temporary file: its tail
is printed if the start-up fails, and exception lines written during the load phase are
counted in the report. The server is stopped (SIGINT, like Ctrl-C, then SIGKILL if it
lingers) at the end, whatever happened. The "## Load (local run)" section of
BENCHMARKS.md (or --output) is replaced or appended; nothing else in the file is touched.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pyotp

from authapi.security.totp import STEP_SECONDS, time_step
from infra.local import free_port

from .report import (
    ROOT,
    Stats,
    Target,
    markdown_table,
    ms,
    print_verdicts,
    publish,
    require_at_least,
    section_parser,
)

SECTION = "## Load (local run)"
ADMIN_USERNAME = "admin"
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0
REQUEST_TIMEOUT_SECONDS = 30.0
LOG_TAIL_LINES = 60
OTPAUTH_LINE = re.compile(r"otpauth://totp/\S+")
# Server log lines worth showing when something failed.
PROBLEM_LINE = re.compile(r"Traceback|ERROR|Exception|\" 5\d\d ")

# Exception lines in the server's output ("botocore.exceptions.ClientError: ...").
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)\b")
EXCEPTION_LINE_CHARS = 160

DEFAULT_SECONDS = 30.0
DEFAULT_USERS = 50
DEFAULT_CONCURRENCY = 16
ME_PER_ROUND = 10
IDLE_SECONDS = 0.05
# Setup: the server is one process on a few cores, so more in parallel would only queue,
# and the more writes overlap the more often the local run's moto answers 500 (a 503).
SETUP_CONCURRENCY = 4
SETUP_ATTEMPTS = 5
ENROLL_MARGIN_SECONDS = 5.0
SERVER_LINES_LISTED = 4

T = TypeVar("T")

LOGIN = "POST /auth/login"
VERIFY = "POST /auth/mfa/verify"
ME = "GET /users/me"
KINDS = (LOGIN, VERIFY, ME)


class LoadError(RuntimeError):
    """The local run did not start, or the untimed setup failed (not a load error)."""


# ---- the local run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalRun:
    base_url: str
    admin_password: str
    admin_totp: pyotp.TOTP
    log: Path
    pid: int


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = stat.rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def tail(log: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:])


def _problems(log: Path, limit: int = 80) -> list[str]:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if PROBLEM_LINE.search(line)][:limit]


def _two_free_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


def _wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LoadError(f"the local run exited early ({process.returncode}):\n{tail(log)}")
        try:
            if httpx2.get(f"{base_url}/health", timeout=2.0).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    raise LoadError(f"/health did not answer within {START_TIMEOUT_SECONDS:.0f} s:\n{tail(log)}")


def _admin_totp(log: Path) -> pyotp.TOTP:
    """The seeded admin's otpauth:// URI, printed on a line of its own before uvicorn starts."""
    text = log.read_text(encoding="utf-8", errors="replace")
    found = [line for line in text.splitlines() if OTPAUTH_LINE.fullmatch(line.strip())]
    if len(found) != 1:
        raise LoadError(f"expected one otpauth:// line in the output:\n{tail(log)}")
    parsed = pyotp.parse_uri(found[0].strip())
    if not isinstance(parsed, pyotp.TOTP):
        raise LoadError(f"not a TOTP URI: {found[0]!r}")
    return parsed


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to the run's process group, then SIGKILL if it does not stop in time."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # anything left in the group
    process.wait(timeout=STOP_TIMEOUT_SECONDS)


@contextmanager
def local_run() -> Iterator[LocalRun]:
    """`python -m infra.local` on free ports, its output in a temporary file."""
    port, moto_port = _two_free_ports()
    admin_password = f"load bench operator {secrets.token_urlsafe(12)}"
    env = dict(os.environ)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "ADMIN_EMAIL"):
        env.pop(name, None)
    env.update(
        {
            "PORT": str(port),
            "MOTO_PORT": str(moto_port),
            "ADMIN_USERNAME": ADMIN_USERNAME,
            "ADMIN_PASSWORD": admin_password,
            "PYTHONUNBUFFERED": "1",
        }
    )
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="authapi-load-") as directory:
        log = Path(directory) / "local-run.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "infra.local"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_until_healthy(process, base_url, log)
            yield LocalRun(base_url, admin_password, _admin_totp(log), log, process.pid)
        except LoadError:
            problems = _problems(log)
            if problems:
                print("Server log lines that look like failures:", file=sys.stderr)
                print("\n".join(problems), file=sys.stderr)
            raise
        finally:
            _stop(process)


# ---- requests ---------------------------------------------------------------------------------


@dataclass
class SimUser:
    username: str
    password: str
    totp: pyotp.TOTP
    last_step: int  # the TOTP step of the last code the server accepted (or may have)
    access_token: str | None  # from the last sign-in; None until there was one
    next_sign_in: float = 0.0  # time.time() from which the next sign-in is due
    signing_in: bool = False


@dataclass
class Recorder:
    """Latency samples and errors per request kind, for the timed phase."""

    samples: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    sign_ins: int = 0

    async def request(
        self, client: httpx2.AsyncClient, kind: str, method: str, path: str, **kwargs: Any
    ) -> dict[str, Any] | None:
        """The JSON body of a 2xx answer, or None (an error, counted)."""
        start = time.perf_counter()
        try:
            response = await client.request(method, path, **kwargs)
        except httpx2.HTTPError as exc:
            self.samples[kind].append(time.perf_counter() - start)
            self.errors[(kind, "no answer", type(exc).__name__)] += 1
            return None
        self.samples[kind].append(time.perf_counter() - start)
        if not response.is_success:
            self.errors[(kind, str(response.status_code), _error_code(response))] += 1
            return None
        body = response.json()
        return body if isinstance(body, dict) else {}


def _error_code(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return "(no JSON body)"
    code = body.get("code") if isinstance(body, dict) else None
    return str(code) if code else "(no code)"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---- setup (untimed) --------------------------------------------------------------------------


class Retry(LoadError):
    """A setup answer worth another try (503, or a code refused at a step boundary)."""

    def __init__(self, message: str, after: float) -> None:
        super().__init__(message)
        self.after = after


@dataclass
class Setup:
    users: list[SimUser] = field(default_factory=list)
    retries: Counter[str] = field(default_factory=Counter)  # "POST /users 503": count


async def _expect(
    client: httpx2.AsyncClient,
    expected: set[int],
    method: str,
    path: str,
    *,
    retry_on: frozenset[int] = frozenset({503}),
    **kwargs: Any,
) -> dict[str, Any]:
    """A setup request, which must answer one of `expected` (else Retry or LoadError)."""
    response = await client.request(method, path, **kwargs)
    if response.status_code in retry_on:
        raise Retry(
            f"{method} {path} {response.status_code}",
            float(response.headers.get("Retry-After", "1")),
        )
    if response.status_code not in expected:
        raise LoadError(
            f"setup: {method} {path} answered {response.status_code}, "
            f"expected {sorted(expected)}: {response.text[:500]}"
        )
    body = response.json() if response.content else {}
    if not isinstance(body, dict):
        raise LoadError(f"setup: {method} {path} answered {body!r}")
    return body


async def _retrying(setup: Setup, action: Callable[[int], Awaitable[T]]) -> T:
    """`action(attempt)`, again after a Retry (the service asks for one with 503)."""
    attempt = 0
    while True:
        try:
            return await action(attempt)
        except Retry as exc:
            attempt += 1
            if attempt == SETUP_ATTEMPTS:
                raise LoadError(f"setup: {exc} {SETUP_ATTEMPTS} times in a row") from exc
            setup.retries[str(exc)] += 1
            await asyncio.sleep(exc.after)


async def _sign_in_admin(client: httpx2.AsyncClient, run: LocalRun) -> str:
    # No retry: a 503 after the code was accepted would make the same code a replay.
    tokens = await _expect(
        client,
        {200},
        "POST",
        "/token",
        retry_on=frozenset(),
        data={"username": ADMIN_USERNAME, "password": run.admin_password + run.admin_totp.now()},
    )
    return str(tokens["access_token"])


def _enrollment_code(authenticator: pyotp.TOTP) -> tuple[str, int]:
    """The code that confirms an enrollment, and its step.

    The previous step's code when the current step has time left, so the user may sign
    in again within the current step (one step of drift is allowed, as for a phone that
    is a little behind); near the end of a step the current code, since the previous
    step's would be out of the window if the service checked it after the step ended."""
    now = time.time()
    step = time_step(now)
    if now - step * STEP_SECONDS < STEP_SECONDS - ENROLL_MARGIN_SECONDS:
        step -= 1
    return authenticator.at(step * STEP_SECONDS), step


async def _create_and_enroll(
    client: httpx2.AsyncClient, setup: Setup, admin_token: str, index: int
) -> SimUser:
    """What a new user goes through: the admin creates them, they enroll TOTP at their
    first login. A 503 on the way repeats the step it happened in (nothing is
    half-written then, says the contract), or the login that the enrollment starts with."""
    username = f"load.user.{index:04d}"
    password = f"load user passphrase {secrets.token_urlsafe(12)}"
    await _retrying(
        setup,
        # A retry may find the user created by an attempt whose answer was lost.
        lambda attempt: _expect(
            client,
            {201, 409} if attempt else {201},
            "POST",
            "/users",
            headers=bearer(admin_token),
            json={"username": username, "email": f"{username}@example.com", "password": password},
        ),
    )
    enrolled: list[tuple[pyotp.TOTP, int]] = []  # the last confirmation tried

    async def enroll(_: int) -> SimUser:
        challenge = await _expect(
            client, {200}, "POST", "/auth/login", json={"username": username, "password": password}
        )
        if challenge.get("mfa") == "totp" and enrolled:
            # A confirmation whose answer was a 503 did enroll the user: sign in later.
            authenticator, step = enrolled[-1]
            return SimUser(username, password, authenticator, step, access_token=None)
        if challenge.get("mfa") != "setup":
            raise LoadError(f"setup: the first login of {username} answered {challenge!r}")
        mfa_token = challenge["mfa_token"]
        secret = await _expect(
            client, {200}, "POST", "/auth/mfa/setup", json={"mfa_token": mfa_token}
        )
        authenticator = pyotp.TOTP(str(secret["secret"]))
        code, step = _enrollment_code(authenticator)
        enrolled.append((authenticator, step))
        tokens = await _expect(
            client,
            {200},
            "POST",
            "/auth/mfa/setup/confirm",
            retry_on=frozenset({401, 503}),  # 401: the code was late for its step
            json={"mfa_token": mfa_token, "code": code},
        )
        return SimUser(username, password, authenticator, step, str(tokens["access_token"]))

    return await _retrying(setup, enroll)


async def setup_users(client: httpx2.AsyncClient, run: LocalRun, users: int) -> Setup:
    setup = Setup()
    admin_token = await _sign_in_admin(client, run)
    limit = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(index: int) -> SimUser:
        async with limit:
            return await _create_and_enroll(client, setup, admin_token, index)

    setup.users = list(await asyncio.gather(*(one(index) for index in range(users))))
    return setup


# ---- load (timed) -----------------------------------------------------------------------------


class Pool:
    """Who signs in next, and whose token serves the rounds without a sign-in.

    User i is due at start + i * 30 s / users and then every 30 s, so sign-ins are spread
    evenly over the run; a due user signs in only once the TOTP step has moved past the
    last one the user's code was accepted in (a code works once)."""

    def __init__(self, users: list[SimUser], start: float) -> None:
        self._users = users
        for index, user in enumerate(users):
            user.next_sign_in = start + index * STEP_SECONDS / len(users)
        self._next_reader = 0

    def take_for_sign_in(self) -> SimUser | None:
        now = time.time()
        step = time_step(now)
        due = [
            user
            for user in self._users
            if not user.signing_in and user.next_sign_in <= now and user.last_step < step
        ]
        if not due:
            return None
        user = min(due, key=lambda candidate: candidate.next_sign_in)
        user.signing_in = True
        user.next_sign_in += STEP_SECONDS
        return user

    def reader(self) -> SimUser | None:
        count = len(self._users)
        for offset in range(count):
            user = self._users[(self._next_reader + offset) % count]
            if user.access_token is not None:
                self._next_reader = (self._next_reader + offset + 1) % count
                return user
        return None


async def sign_in(client: httpx2.AsyncClient, recorder: Recorder, user: SimUser) -> bool:
    """The two-step login. The verify step runs even past the deadline, once the
    password step has been answered, so that no sign-in is left half done."""
    challenge = await recorder.request(
        client,
        LOGIN,
        "POST",
        "/auth/login",
        json={"username": user.username, "password": user.password},
    )
    if challenge is None:
        return False
    now = time.time()
    # Later than the last step accepted: the pool offered this user only once the
    # step had moved past it, and time only moves forward.
    user.last_step = time_step(now)
    tokens = await recorder.request(
        client,
        VERIFY,
        "POST",
        "/auth/mfa/verify",
        json={"mfa_token": challenge.get("mfa_token"), "code": user.totp.at(now)},
    )
    if tokens is None:
        return False
    user.access_token = str(tokens.get("access_token"))
    recorder.sign_ins += 1
    return True


async def _worker(
    client: httpx2.AsyncClient, recorder: Recorder, pool: Pool, deadline: float
) -> None:
    while time.perf_counter() < deadline:
        user = pool.take_for_sign_in()
        if user is not None:
            try:
                await sign_in(client, recorder, user)
            finally:
                user.signing_in = False
        reader = user if user is not None and user.access_token is not None else pool.reader()
        if reader is None or reader.access_token is None:
            await asyncio.sleep(IDLE_SECONDS)  # nobody signed in yet, no sign-in due
            continue
        for _ in range(ME_PER_ROUND):
            if time.perf_counter() >= deadline:
                break
            await recorder.request(
                client, ME, "GET", "/users/me", headers=bearer(reader.access_token)
            )


async def _load(
    client: httpx2.AsyncClient, users: list[SimUser], seconds: float, concurrency: int
) -> tuple[Recorder, float]:
    recorder = Recorder()
    pool = Pool(users, time.time())
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_worker(client, recorder, pool, deadline) for _ in range(concurrency)))
    return recorder, time.perf_counter() - start


# ---- measure ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    seconds: float  # the load phase asked for
    users: int
    concurrency: int
    elapsed: float  # the load phase as run (the last answers come after the deadline)
    setup_seconds: float
    setup_retries: dict[str, int]
    wall_seconds: float  # the whole command: start-up, setup, load, shutdown
    counts: dict[str, int]
    stats: dict[str, Stats]
    total: Stats
    errors: dict[tuple[str, str, str], int]
    sign_ins: int
    # Exception lines in the server's output during the load phase: line -> count.
    server_exceptions: dict[str, int]
    server_cpu: float | None  # CPU seconds in the load phase (None: not on Linux)
    client_cpu: float


@dataclass(frozen=True)
class _Run:
    setup: Setup
    setup_seconds: float
    recorder: Recorder
    elapsed: float
    log_offset: int  # where the load phase starts in the server's output
    server_cpu: float | None  # CPU seconds of the server process in the load phase
    client_cpu: float  # CPU seconds of this process in the load phase


async def _drive(run: LocalRun, seconds: float, users: int, concurrency: int) -> _Run:
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(
        base_url=run.base_url, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as client:
        setup_start = time.perf_counter()
        setup = await setup_users(client, run, users)
        setup_seconds = time.perf_counter() - setup_start
        log_offset = run.log.stat().st_size
        server_cpu = cpu_seconds(run.pid)
        client_cpu = time.process_time()
        recorder, elapsed = await _load(client, setup.users, seconds, concurrency)
        client_cpu = time.process_time() - client_cpu
        server_after = cpu_seconds(run.pid)
    if server_cpu is not None and server_after is not None:
        server_cpu = server_after - server_cpu
    else:
        server_cpu = None
    return _Run(setup, setup_seconds, recorder, elapsed, log_offset, server_cpu, client_cpu)


def exception_lines(log: Path, offset: int) -> Counter[str]:
    """Final lines of tracebacks (and other "SomethingError: ..." lines) after `offset`."""
    with log.open("rb") as output:
        output.seek(offset)
        text = output.read().decode("utf-8", errors="replace")
    return Counter(
        line.strip()[:EXCEPTION_LINE_CHARS]
        for line in text.splitlines()
        if EXCEPTION_LINE.match(line)
    )


def measure(
    *,
    seconds: float = DEFAULT_SECONDS,
    users: int = DEFAULT_USERS,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Results:
    started = time.perf_counter()
    with local_run() as run:
        done = asyncio.run(_drive(run, seconds, users, concurrency))
        exceptions = exception_lines(run.log, done.log_offset)
    recorder = done.recorder
    every = [sample for kind in KINDS for sample in recorder.samples[kind]]
    if not every:
        raise LoadError("no request was made in the load phase")
    return Results(
        seconds=seconds,
        users=users,
        concurrency=concurrency,
        elapsed=done.elapsed,
        setup_seconds=done.setup_seconds,
        setup_retries=dict(done.setup.retries),
        wall_seconds=time.perf_counter() - started,
        counts={kind: len(recorder.samples[kind]) for kind in KINDS},
        stats={kind: Stats.of(recorder.samples[kind]) for kind in KINDS if recorder.samples[kind]},
        total=Stats.of(every),
        errors=dict(recorder.errors),
        sign_ins=recorder.sign_ins,
        server_exceptions=dict(exceptions),
        server_cpu=done.server_cpu,
        client_cpu=done.client_cpu,
    )


# ---- the report -------------------------------------------------------------------------------


def _error_count(results: Results, kind: str | None = None) -> int:
    return sum(n for key, n in results.errors.items() if kind is None or key[0] == kind)


def load_table(results: Results) -> str:
    rows: list[tuple[str, int, Stats | None, int]] = [
        (f"`{kind}`", results.counts[kind], results.stats.get(kind), _error_count(results, kind))
        for kind in KINDS
    ]
    rows.append(("Total", sum(results.counts.values()), results.total, _error_count(results)))
    return markdown_table(
        ["Request", "Count", "Throughput req/s", "p50 ms", "p90 ms", "p99 ms", "Max ms", "Errors"],
        (
            (
                label,
                count,
                f"{count / results.elapsed:.1f}",
                *(
                    (ms(stats.median), ms(stats.p90), ms(stats.p99), ms(stats.maximum))
                    if stats is not None
                    else ("", "", "", "")
                ),
                errors,
            )
            for label, count, stats, errors in rows
        ),
    )


def errors_sentence(errors: Mapping[tuple[str, str, str], int]) -> str:
    if not errors:
        return "Errors: none (target: zero)."
    parts = [
        f"{n} x {status} {code} on `{kind}`"
        for (kind, status, code), n in sorted(errors.items(), key=lambda item: -item[1])
    ]
    return f"Errors: {sum(errors.values())} (target: zero): {'; '.join(parts)}."


def server_sentence(exceptions: Mapping[str, int], phase: str = "the load phase") -> str:
    """What the server's output says about `phase`."""
    if not exceptions:
        return f"The server's output shows no exception during {phase}."
    common = sorted(exceptions.items(), key=lambda item: -item[1])
    listed = "; ".join(f"{n} x `{line}`" for line, n in common[:SERVER_LINES_LISTED])
    return f"Exception lines in the server's output during {phase}: {listed}."


def cpu_sentence(results: Results) -> str:
    client = f"this client {results.client_cpu:.1f} s"
    if results.server_cpu is None:
        return f"CPU time during the load phase: {client} (the server's is not known here)."
    share = results.server_cpu / results.elapsed
    return (
        f"CPU time during the load phase: the server {results.server_cpu:.1f} s"
        f" ({share:.2f} cores on average), {client}."
    )


def setup_sentence(results: Results) -> str:
    if not results.setup_retries:
        return "No setup request needed a retry."
    retried = "; ".join(
        f"{n} x {answer}"
        for answer, n in sorted(results.setup_retries.items(), key=lambda item: -item[1])
    )
    return f"Setup requests retried (after `Retry-After`): {retried}."


def section(results: Results) -> str:
    total = sum(results.counts.values())
    return f"""{SECTION}

How to run: `.venv/bin/python -m bench.load [--seconds S] [--users U] [--concurrency C]`
(this section only; this run took {results.wall_seconds:.0f} s in all, start-up, setup
and shutdown included).

The local run (uvicorn with moto in one process) and this client on the same
{os.cpu_count()}-CPU machine: the figures describe that laptop setup, not Lambda. Setup,
untimed ({results.setup_seconds:.0f} s): {results.users} users created and enrolled
through the API. {setup_sentence(results)} Then {results.concurrency} asyncio workers
for {results.seconds:g} s ({results.elapsed:.1f} s until the last answer), each round a
two-step sign-in when a user is due (once per {STEP_SECONDS} s) and {ME_PER_ROUND}
`GET /users/me`. Method: [docs/benchmarks.md](docs/benchmarks.md#load).

| Setting | Value |
|---|---|
| Duration | {results.seconds:g} s |
| Simulated users | {results.users} |
| Concurrent workers | {results.concurrency} |
| `GET /users/me` per round | {ME_PER_ROUND} |

{load_table(results)}

{total} requests, {total / results.elapsed:.1f} per second; {results.sign_ins} completed
sign-ins, {results.sign_ins / results.elapsed:.2f} per second. {cpu_sentence(results)}
{errors_sentence(results.errors)} {server_sentence(results.server_exceptions)}
"""


def targets(results: Results) -> list[Target]:
    errors = _error_count(results)
    total = sum(results.counts.values())
    return [
        Target(
            "Load: zero errors",
            goal="0 errors",
            measured=f"{errors} errors in {total} requests",
            met=errors == 0,
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = section_parser(__doc__)
    parser.add_argument(
        "--seconds",
        type=float,
        default=DEFAULT_SECONDS,
        help=f"length of the load phase ({DEFAULT_SECONDS:g})",
    )
    parser.add_argument(
        "--users", type=int, default=DEFAULT_USERS, help=f"simulated users ({DEFAULT_USERS})"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"concurrent workers ({DEFAULT_CONCURRENCY})",
    )
    args = parser.parse_args(argv)
    require_at_least(parser, "--seconds", args.seconds, 1)
    require_at_least(parser, "--users", args.users, 1)
    require_at_least(parser, "--concurrency", args.concurrency, 1)
    try:
        results = measure(seconds=args.seconds, users=args.users, concurrency=args.concurrency)
    except LoadError as exc:
        print(f"Load benchmark failed: {exc}", file=sys.stderr)
        return 1
    publish(args.output, section(results))
    print_verdicts(targets(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
