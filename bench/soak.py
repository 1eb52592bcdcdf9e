"""Soak: the local run through a day of use; does it grow, does it slow down?

    python -m bench.soak [--users U] [--sign-ins S] [--requests R] [--window W]
                         [--concurrency C] [--max-seconds T] [--output PATH]

Starts the local run (`python -m infra.local`, what `make run` starts) on free loopback
ports as bench.load does, and has the admin create U users through the API, each
enrolling TOTP as at a first login (untimed setup, as bench.load's). Then S rounds on C
concurrent workers (one httpx2.AsyncClient): a round signs the next user in with the
two-step login (/auth/login, then /auth/mfa/verify with the current TOTP code; the
users take turns, each signing in S / U times, and a user's next sign-in waits for a
TOTP step after the one whose code was accepted, since a code works once) and then
makes R / S authenticated requests (GET /users/me) with the new access token.

Latencies are time.perf_counter around each request at the client. The authenticated
requests are cut, in the order they were answered, into windows of W, each with its p50
and p99, the sign-ins completed meanwhile, and the local run's resident set size when
the window closed. Peak RSS is the kernel's high-water mark of the local run's process
(VmHWM in /proc/PID/status, read before the process is stopped), setup included. Every
answer other than 2xx, and every transport error, is counted as an error. Everything
after the start (setup included) stops after T seconds; the section then says how far
the run got. The "## Soak (local run)" section of BENCHMARKS.md (or --output) is
replaced or appended; nothing else in the file is touched.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import httpx2

from authapi.security.totp import time_step

from .load import (
    ME,
    REQUEST_TIMEOUT_SECONDS,
    LoadError,
    LocalRun,
    Recorder,
    SimUser,
    bearer,
    cpu_seconds,
    errors_sentence,
    exception_lines,
    local_run,
    server_sentence,
    setup_users,
    sign_in,
    tail,
)
from .report import (
    Stats,
    Target,
    markdown_table,
    mib,
    ms,
    print_verdicts,
    publish,
    ratio,
    require_at_least,
    section_parser,
)

SECTION = "## Soak (local run)"
DEFAULT_USERS = 1_000
DEFAULT_SIGN_INS = 2_000
DEFAULT_REQUESTS = 20_000
DEFAULT_WINDOW = 1_000
DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_SECONDS = 1_800.0
# The targets: a small process, and no slowdown from the first window to the last.
PEAK_RSS_LIMIT = 400 * 1024 * 1024
P50_DRIFT_LIMIT = 1.5
WAIT_SECONDS = 0.1  # a worker with no user free to sign in looks again after this


def _status(pid: int) -> dict[str, str] | None:
    """/proc/PID/status (Linux), or None."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    return {
        name: value.strip()
        for name, _, value in (line.partition(":") for line in text.splitlines())
    }


def memory_bytes(pid: int, field: str) -> int | None:
    """A memory figure of a process ("VmRSS", "VmHWM"), or None."""
    value = (_status(pid) or {}).get(field)
    return None if value is None else int(value.split()[0]) * 1024  # "123456 kB"


def exited(pid: int) -> bool:
    """Whether the local run has exited: a zombie (this process has not waited for it
    yet), or gone. Without /proc, it is taken to be running."""
    status = _status(pid)
    if status is None:
        return Path("/proc").is_dir()
    return status.get("State", "").startswith("Z")


class Soak:
    """The rounds still to run, shared by the workers, and what they measured."""

    def __init__(
        self, run: LocalRun, users: list[SimUser], sign_ins: int, requests: int, window: int
    ) -> None:
        self.pid = run.pid
        self.log = run.log
        self._queue = deque(users[index % len(users)] for index in range(sign_ins))
        self._per_round = math.ceil(requests / sign_ins)
        self._requests_left = requests
        self.window = window
        self.recorder = Recorder()
        # Each completed sign-in: how many authenticated requests had been answered, and
        # its time (both steps).
        self.sign_ins: list[tuple[int, float]] = []
        self.window_rss: list[int | None] = []

    def next_user(self) -> SimUser | None:
        """The first user in turn whose code for this TOTP step is still unused."""
        step = time_step(time.time())
        for index, user in enumerate(self._queue):
            if not user.signing_in and user.last_step < step:
                del self._queue[index]
                user.signing_in = True
                return user
        return None

    @property
    def finished(self) -> bool:
        return not self._queue

    def take_requests(self) -> int:
        count = min(self._per_round, self._requests_left)
        self._requests_left -= count
        return count

    def fail_if_exited(self) -> None:
        """After an error: stop the soak, rather than count errors, if the run is gone."""
        if exited(self.pid):
            raise LoadError(f"the local run exited during the soak:\n{tail(self.log)}")

    def answered(self) -> None:
        """After each authenticated request: note the RSS when a window closes."""
        while len(self.window_rss) < len(self.recorder.samples[ME]) // self.window:
            self.window_rss.append(memory_bytes(self.pid, "VmRSS"))


async def _worker(client: httpx2.AsyncClient, soak: Soak, deadline: float) -> None:
    while time.perf_counter() < deadline and not soak.finished:
        user = soak.next_user()
        if user is None:  # every user left is waiting for the next TOTP step
            await asyncio.sleep(WAIT_SECONDS)
            continue
        started = time.perf_counter()
        try:
            signed_in = await sign_in(client, soak.recorder, user)
        finally:
            user.signing_in = False
        if signed_in:
            soak.sign_ins.append((len(soak.recorder.samples[ME]), time.perf_counter() - started))
        else:
            soak.fail_if_exited()
        # After a failed sign-in, the token of the user's last one (setup's, at least).
        token = str(user.access_token)
        for _ in range(soak.take_requests()):
            if time.perf_counter() >= deadline:
                break
            answer = await soak.recorder.request(
                client, ME, "GET", "/users/me", headers=bearer(token)
            )
            if answer is None:
                soak.fail_if_exited()
            soak.answered()


@dataclass(frozen=True)
class Window:
    first: int  # the 1-based number of its first authenticated request
    last: int
    stats: Stats
    sign_ins: Stats | None  # the sign-ins completed while it was open
    rss: int | None  # the local run's RSS when it closed (bytes)


@dataclass(frozen=True)
class Results:
    users: int
    sign_ins_asked: int
    requests_asked: int
    window: int
    concurrency: int
    max_seconds: float
    setup_seconds: float
    setup_retries: dict[str, int]
    soak_seconds: float
    wall_seconds: float
    windows: list[Window]
    sign_ins: int
    requests: int
    errors: dict[tuple[str, str, str], int]
    server_exceptions: dict[str, int]
    server_cpu: float | None
    rss_started: int | None  # after start-up, before setup
    rss_setup: int | None  # after setup
    rss_end: int | None
    peak_rss: int | None

    @property
    def complete(self) -> bool:
        return self.sign_ins >= self.sign_ins_asked and self.requests >= self.requests_asked


def _windows(soak: Soak) -> list[Window]:
    samples = soak.recorder.samples[ME]
    windows = []
    for index in range(0, len(samples), soak.window):
        chunk = samples[index : index + soak.window]
        signs = [seconds for done, seconds in soak.sign_ins if index <= done < index + len(chunk)]
        number = index // soak.window
        windows.append(
            Window(
                first=index + 1,
                last=index + len(chunk),
                stats=Stats.of(chunk),
                sign_ins=Stats.of(signs) if signs else None,
                rss=soak.window_rss[number] if number < len(soak.window_rss) else None,
            )
        )
    return windows


@dataclass(frozen=True)
class _Run:
    soak: Soak
    setup_seconds: float
    setup_retries: dict[str, int]
    rss_setup: int | None
    soak_seconds: float
    server_cpu: float | None  # CPU seconds of the local run in the soak phase


async def _drive(
    run: LocalRun,
    *,
    users: int,
    sign_ins: int,
    requests: int,
    window: int,
    concurrency: int,
    max_seconds: float,
) -> _Run:
    deadline = time.perf_counter() + max_seconds
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(
        base_url=run.base_url, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as client:
        setup_start = time.perf_counter()
        try:
            setup = await asyncio.wait_for(setup_users(client, run, users), timeout=max_seconds)
        except TimeoutError as exc:
            raise LoadError(f"the setup of {users} users took over {max_seconds:g} s") from exc
        setup_seconds = time.perf_counter() - setup_start
        rss_setup = memory_bytes(run.pid, "VmRSS")
        soak = Soak(run, setup.users, sign_ins, requests, window)
        cpu_before = cpu_seconds(run.pid)
        soak_start = time.perf_counter()
        await asyncio.gather(*(_worker(client, soak, deadline) for _ in range(concurrency)))
        soak_seconds = time.perf_counter() - soak_start
        cpu_after = cpu_seconds(run.pid)
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return _Run(soak, setup_seconds, dict(setup.retries), rss_setup, soak_seconds, server_cpu)


def measure(
    *,
    users: int = DEFAULT_USERS,
    sign_ins: int = DEFAULT_SIGN_INS,
    requests: int = DEFAULT_REQUESTS,
    window: int = DEFAULT_WINDOW,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> Results:
    started = time.perf_counter()
    with local_run() as run:
        rss_started = memory_bytes(run.pid, "VmRSS")
        log_offset = run.log.stat().st_size
        try:
            done = asyncio.run(
                _drive(
                    run,
                    users=users,
                    sign_ins=sign_ins,
                    requests=requests,
                    window=window,
                    concurrency=concurrency,
                    max_seconds=max_seconds,
                )
            )
        except httpx2.TransportError as exc:  # a setup request: the local run is gone?
            raise LoadError(f"setup: {exc!r}:\n{tail(run.log)}") from exc
        rss_end = memory_bytes(run.pid, "VmRSS")
        peak_rss = memory_bytes(run.pid, "VmHWM")
        exceptions = exception_lines(run.log, log_offset)
    recorder = done.soak.recorder
    return Results(
        users=users,
        sign_ins_asked=sign_ins,
        requests_asked=requests,
        window=window,
        concurrency=concurrency,
        max_seconds=max_seconds,
        setup_seconds=done.setup_seconds,
        setup_retries=done.setup_retries,
        soak_seconds=done.soak_seconds,
        wall_seconds=time.perf_counter() - started,
        windows=_windows(done.soak),
        sign_ins=recorder.sign_ins,
        requests=len(recorder.samples[ME]),
        errors=dict(recorder.errors),
        server_exceptions=dict(exceptions),
        server_cpu=done.server_cpu,
        rss_started=rss_started,
        rss_setup=done.rss_setup,
        rss_end=rss_end,
        peak_rss=peak_rss,
    )


# ---- the report -------------------------------------------------------------------------------


def _mib(size: int | None) -> str:
    return "?" if size is None else mib(size)


def windows_table(results: Results) -> str:
    return markdown_table(
        [
            "Authenticated requests",
            "p50 ms",
            "p99 ms",
            "Max ms",
            "Sign-ins",
            "Sign-in p50 ms",
            "Local run RSS at its end",
        ],
        (
            (
                f"{window.first}-{window.last}",
                ms(window.stats.median),
                ms(window.stats.p99),
                ms(window.stats.maximum),
                window.sign_ins.count if window.sign_ins else 0,
                ms(window.sign_ins.median) if window.sign_ins else "",
                _mib(window.rss),
            )
            for window in results.windows
        ),
    )


def _drift(results: Results) -> tuple[Window, Window] | None:
    """The first and the last window, when there are two full ones."""
    full = [window for window in results.windows if window.stats.count == results.window]
    return (full[0], full[-1]) if len(full) >= 2 else None


def progress_sentence(results: Results) -> str:
    if results.complete:
        return (
            f"All {results.sign_ins_asked} sign-ins and {results.requests_asked} authenticated"
            f" requests ran in {results.soak_seconds:.0f} s."
        )
    return (
        f"**Cut short** after {results.soak_seconds:.0f} s (the {results.max_seconds:g} s"
        f" budget): {results.sign_ins} of {results.sign_ins_asked} sign-ins and"
        f" {results.requests} of {results.requests_asked} authenticated requests ran."
    )


def growth_sentence(results: Results) -> str:
    if results.rss_setup is None or results.rss_end is None or not results.sign_ins:
        return ""
    grown = results.rss_end - results.rss_setup
    return (
        f"Through the soak it grew by {_mib(grown)}, {grown / results.sign_ins / 1024:.1f} KiB"
        " per sign-in (the in-memory table keeps what every sign-in writes)."
    )


def section(results: Results) -> str:
    cpu = (
        "not known here"
        if results.server_cpu is None
        else f"{results.server_cpu:.0f} s ({results.server_cpu / results.soak_seconds:.2f} cores)"
    )
    retried = (
        "; ".join(f"{n} x {answer}" for answer, n in sorted(results.setup_retries.items()))
        or "none"
    )
    return f"""{SECTION}

How to run: `.venv/bin/python -m bench.soak [--users U] [--sign-ins S] [--requests R]
[--window W] [--concurrency C] [--max-seconds T]` (this section only; this run took
{results.wall_seconds:.0f} s in all, start-up, setup and shutdown included).

A day of `make run`, compressed: one local run; {results.users} users created and
enrolled (untimed, {results.setup_seconds:.0f} s; retried: {retried}); then
{results.concurrency} workers sign them in in turns, {results.sign_ins_asked} sign-ins and
{results.requests_asked} `GET /users/me`, so the table grows all along.
{progress_sentence(results)} Latency by windows of {results.window} requests, in the order
they came. Method: [docs/benchmarks.md](docs/benchmarks.md#soak).

{windows_table(results)}

Local run's resident set size: {_mib(results.rss_started)} after start-up,
{_mib(results.rss_setup)} after the setup, {_mib(results.rss_end)} at the end; peak (VmHWM)
**{_mib(results.peak_rss)}**. {growth_sentence(results)} Its CPU time in the soak phase: {cpu}.
{errors_sentence(results.errors)}
{server_sentence(results.server_exceptions, "the setup and the soak")}
"""


def _drift_figure(what: str, first: Stats | None, last: Stats | None) -> tuple[str, bool]:
    if first is None or last is None:
        return f"{what}: none in a window", False
    growth = last.median / first.median
    text = (
        f"{what} {ratio(last.median, first.median)}x ({ms(last.median)} vs {ms(first.median)} ms)"
    )
    return text, growth <= P50_DRIFT_LIMIT


def targets(results: Results) -> list[Target]:
    short = "" if results.complete else " (cut short)"
    peak = results.peak_rss
    drift = _drift(results)
    if drift is None:
        drift_measured, drift_met = f"fewer than two windows of {results.window}", False
    else:
        first, last = drift
        figures = [
            _drift_figure("`GET /users/me`", first.stats, last.stats),
            _drift_figure("sign-ins", first.sign_ins, last.sign_ins),
        ]
        drift_measured = "; ".join(text for text, _ in figures)
        drift_met = all(met for _, met in figures)
    return [
        Target(
            "Soak: peak RSS of the local run",
            goal=f"< {mib(PEAK_RSS_LIMIT)} ({results.users} users,"
            f" {results.sign_ins_asked} sign-ins, {results.requests_asked} requests)",
            measured=_mib(peak) + short,
            met=peak is not None and peak < PEAK_RSS_LIMIT and results.complete,
        ),
        Target(
            "Soak: latency drift",
            goal=f"p50 of the last {results.window} `GET /users/me` ≤ {P50_DRIFT_LIMIT:g}x the"
            " first's; the same for the sign-ins completed meanwhile",
            measured=drift_measured + short,
            met=drift_met and results.complete,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = section_parser(__doc__)
    options = [
        ("--users", DEFAULT_USERS, "users created and enrolled"),
        ("--sign-ins", DEFAULT_SIGN_INS, "sign-ins (rounds)"),
        ("--requests", DEFAULT_REQUESTS, "authenticated requests"),
        ("--window", DEFAULT_WINDOW, "authenticated requests per reported window"),
        ("--concurrency", DEFAULT_CONCURRENCY, "concurrent workers"),
    ]
    for option, default, help_text in options:
        parser.add_argument(option, type=int, default=default, help=f"{help_text} ({default})")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=DEFAULT_MAX_SECONDS,
        help=f"budget for the setup and the soak ({DEFAULT_MAX_SECONDS:g})",
    )
    args = parser.parse_args(argv)
    for option, _, _ in options:
        require_at_least(parser, option, getattr(args, option[2:].replace("-", "_")), 1)
    require_at_least(parser, "--max-seconds", args.max_seconds, 1)
    try:
        results = measure(
            users=args.users,
            sign_ins=args.sign_ins,
            requests=args.requests,
            window=args.window,
            concurrency=args.concurrency,
            max_seconds=args.max_seconds,
        )
    except LoadError as exc:
        print(f"Soak benchmark failed: {exc}", file=sys.stderr)
        return 1
    publish(args.output, section(results))
    print_verdicts(targets(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
