"""Login timing: is an unknown username distinguishable from a wrong password by time?

    python -m bench.login_timing [--runs N] [--output PATH]      (or: make bench)

OWASP Authentication Cheat Sheet and ASVS 5.0 6.3.8 ask that a login answers an
unknown user, a wrong password and a success in indistinguishable time, so the timing
does not tell an attacker which accounts exist. The service spends a password
verification on unknown usernames for that (`passwords.burn_verification_time`); this
benchmark measures whether it works.

Everything runs in this process against moto: fake credentials, no endpoint, no
network. Requests go through the deployed entry point's path, Mangum with API Gateway
HTTP API (payload 2.0) events built from the fixtures in tests/events, and are timed
with time.perf_counter around the handler call only. The cases are interleaved (one
request of each per round, in a rotating order) so that drift on the machine spreads
over every case instead of biasing one. Results go to stdout and to BENCHMARKS.md.
"""

from __future__ import annotations

from .inprocess import use_fake_aws

STAGE = "bench"
use_fake_aws(STAGE)  # before anything creates an AWS client

import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import pyotp  # noqa: E402
from mangum import Mangum  # noqa: E402

from authapi.main import create_app  # noqa: E402
from authapi.security import passwords  # noqa: E402
from tests.support import Clock  # noqa: E402

from . import lambda_events  # noqa: E402
from .inprocess import create_enrolled_user, patched_clock, service_in_moto  # noqa: E402
from .lambda_events import LambdaContext  # noqa: E402
from .report import Stats, Target, markdown_table, ms, ratio, runs_command  # noqa: E402
from .sdk_calls import SdkTimer, timed_sdk  # noqa: E402

SECTION = "## Login timing (user enumeration, ASVS 5.0 6.3.8)"
USERNAME = "bench.user"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway user in moto
WRONG_PASSWORD = "correct horse battery stapler"  # noqa: S105 - same length, one char more
UNKNOWN_USERNAME = "nobody.here"  # valid syntax, no such account
INVALID_USERNAME = "not a valid name!"  # no account can have it; looked up all the same
WRONG_CODE = "000000"
# Enough that the medians settle: one request of each case is ~50 ms, p10-p90 ~30 ms wide.
DEFAULT_RUNS = 150
# Medians of an unknown user and a wrong password further apart than this count as a
# systematic offset (an attacker averaging many requests could see it).
TOLERANCE = 0.10


# ---- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    endpoint: str
    expected_status: int
    # Builds the event (untimed); may move the fake clock first.
    build: Callable[[], dict[str, Any]]


def _cases(fake: Clock, secret: str) -> list[Case]:
    def token_success() -> dict[str, Any]:
        fake.next_step()  # codes are single use: each request needs a new step
        code = pyotp.TOTP(secret).at(fake.now())
        return lambda_events.token(USERNAME, PASSWORD + code)

    return [
        Case(
            "login_ok",
            "success",
            "POST /auth/login",
            200,
            lambda: lambda_events.login(USERNAME, PASSWORD),
        ),
        Case(
            "login_wrong",
            "wrong password",
            "POST /auth/login",
            401,
            lambda: lambda_events.login(USERNAME, WRONG_PASSWORD),
        ),
        Case(
            "login_unknown",
            "unknown username",
            "POST /auth/login",
            401,
            lambda: lambda_events.login(UNKNOWN_USERNAME, PASSWORD),
        ),
        Case(
            "login_invalid",
            "invalid username syntax",
            "POST /auth/login",
            401,
            lambda: lambda_events.login(INVALID_USERNAME, PASSWORD),
        ),
        Case("token_ok", "success (fresh TOTP step)", "POST /token", 200, token_success),
        Case(
            "token_wrong",
            "wrong password",
            "POST /token",
            400,
            lambda: lambda_events.token(USERNAME, WRONG_PASSWORD + WRONG_CODE),
        ),
        Case(
            "token_unknown",
            "unknown username",
            "POST /token",
            400,
            lambda: lambda_events.token(UNKNOWN_USERNAME, PASSWORD + WRONG_CODE),
        ),
    ]


def _refill_failure_budgets() -> None:
    """Untimed, before every request: forget the failures the benchmark itself causes,
    so every case measures the answer it is meant to (401, or 400 at /token), never the
    budget's 429."""
    from authapi.auth import attempts
    from authapi.users import repository

    user = repository.find_for_login(USERNAME)
    if user is None:
        raise RuntimeError(f"the benchmark user {USERNAME!r} is gone")
    attempts.forget(attempts.of_account(user.id))
    for name in (UNKNOWN_USERNAME, INVALID_USERNAME.strip().lower()):
        attempts.forget(attempts.of_unknown_name(name))


def _invoke(handler: Any, case: Case, timer: SdkTimer) -> tuple[float, float]:
    """The request's time, and the part of it spent outside AWS calls (the app's own)."""
    _refill_failure_budgets()
    event = case.build()
    context = LambdaContext()
    timer.reset()
    start = time.perf_counter()
    result = handler(event, context)
    elapsed = time.perf_counter() - start
    own = elapsed - timer.seconds
    if result["statusCode"] != case.expected_status:
        raise RuntimeError(
            f"{case.endpoint} {case.label}: expected {case.expected_status}, "
            f"got {result['statusCode']}: {result.get('body')}"
        )
    return elapsed, own


def _time(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Results:
    runs: int
    requests: dict[str, Stats]
    own: dict[str, Stats]  # the same, without the time inside AWS calls
    cases: list[Case]
    hash_stats: Stats
    verify_stats: Stats
    hash_parameters: str
    elapsed: float


def measure(runs: int) -> Results:
    started = time.perf_counter()
    fake = Clock()
    timer = SdkTimer()
    with service_in_moto(STAGE) as settings, patched_clock(fake), timed_sdk(timer):
        _, secret = create_enrolled_user(settings, USERNAME, PASSWORD)
        handler = Mangum(create_app(settings), lifespan="off")
        cases = _cases(fake, secret)
        # Warm-up, untimed: imports, connections, the SSM read, and password hashing,
        # which the first sign-in loads.
        for case in cases:
            _invoke(handler, case, timer)
        samples: dict[str, list[tuple[float, float]]] = {case.key: [] for case in cases}
        for round_ in range(runs):
            shift = round_ % len(cases)
            for case in cases[shift:] + cases[:shift]:
                samples[case.key].append(_invoke(handler, case, timer))

    stored = passwords.hash_password(PASSWORD)
    passwords.verify_password(PASSWORD, stored)
    hashes = [_time(lambda: passwords.hash_password(PASSWORD)) for _ in range(runs)]
    verifies = [_time(lambda: passwords.verify_password(PASSWORD, stored)) for _ in range(runs)]
    return Results(
        runs=runs,
        requests={key: Stats.of([total for total, _ in pairs]) for key, pairs in samples.items()},
        own={key: Stats.of([own for _, own in pairs]) for key, pairs in samples.items()},
        cases=cases,
        hash_stats=Stats.of(hashes),
        verify_stats=Stats.of(verifies),
        hash_parameters=stored.rsplit("$", 2)[0],
        elapsed=time.perf_counter() - started,
    )


# ---- the report -----------------------------------------------------------------------------


def _deviation(value: float, reference: float) -> str:
    return f"{(value / reference - 1) * 100:+.1f}%"


def timing_table(results: Results) -> str:
    success_key = {"POST /auth/login": "login_ok", "POST /token": "token_ok"}
    wrong_key = {"POST /auth/login": "login_wrong", "POST /token": "token_wrong"}
    header = [
        "Endpoint",
        "Case",
        "Median ms",
        "p10 ms",
        "p90 ms",
        "Min ms",
        "Max ms",
        "Median / success",
        "Median / wrong password",
        "Own median ms",
        "Own / wrong password",
    ]
    rows: list[tuple[str, ...]] = []
    for case in results.cases:
        stats = results.requests[case.key]
        own = results.own[case.key].median
        success = results.requests[success_key[case.endpoint]].median
        wrong = results.requests[wrong_key[case.endpoint]].median
        own_wrong = results.own[wrong_key[case.endpoint]].median
        rows.append(
            (
                f"`{case.endpoint}`",
                case.label,
                *_spread(stats),
                ratio(stats.median, success),
                ratio(stats.median, wrong),
                ms(own),
                ratio(own, own_wrong),
            )
        )
    for label, stats in (
        ("`hash_password` (argon2id)", results.hash_stats),
        ("`verify_password` (argon2id)", results.verify_stats),
    ):
        rows.append((label, "direct call", *_spread(stats), "", "", "", ""))
    return markdown_table(header, rows, text_columns=2)


def _spread(stats: Stats) -> tuple[str, ...]:
    return tuple(
        ms(value) for value in (stats.median, stats.p10, stats.p90, stats.minimum, stats.maximum)
    )


def interpretation(results: Results, tolerance: float = TOLERANCE) -> str:
    """One sentence, derived from the medians and p10-p90 ranges measured, nothing more."""
    r = results.requests
    comparisons = [
        ("an unknown username on `/auth/login`", r["login_unknown"], r["login_wrong"]),
        ("a syntactically invalid username on `/auth/login`", r["login_invalid"], r["login_wrong"]),
        ("an unknown username on `/token`", r["token_unknown"], r["token_wrong"]),
    ]
    parts = []
    disjoint = 0
    off = []
    for name, stats, wrong in comparisons:
        gap = stats.median - wrong.median
        overlap = stats.overlaps(wrong)
        parts.append(
            f"{name} {gap * 1000:+.1f} ms ({_deviation(stats.median, wrong.median)}, "
            f"p10-p90 ranges {'overlap' if overlap else 'do not overlap'})"
        )
        disjoint += not overlap
        if abs(stats.median / wrong.median - 1) > tolerance:
            off.append(gap)
    direction = (
        "lower" if all(gap < 0 for gap in off) else "higher" if all(gap > 0 for gap in off) else ""
    )
    if disjoint:
        verdict = (
            f"{disjoint} of {len(comparisons)} have p10-p90 ranges that do not overlap the "
            "wrong-password range, so even single requests tell existing from non-existing "
            "accounts apart here and the timing defence is not effective"
        )
    elif off:
        verdict = (
            f"all p10-p90 ranges overlap, so single requests are not reliably told apart at "
            f"this noise level, but {len(off)} of {len(comparisons)} medians are more than "
            f"{tolerance:.0%} {direction or 'off'} for accounts that do not exist, a systematic "
            "offset that an attacker averaging many requests could use, so the defence does "
            "not fully equalise the timing"
        )
    else:
        verdict = (
            f"every median is within {tolerance:.0%} and every p10-p90 range overlaps, so at "
            "this sample size these timings do not separate existing from non-existing accounts"
        )
    return (
        "Compared with a wrong password for an existing account, the median of "
        f"{'; '.join(parts)}: {verdict} (measured in-process against moto, "
        f"{results.runs} samples per case on one machine, without network latency or jitter)."
    )


def targets(results: Results) -> list[Target]:
    """The enumeration check: a name without an account (valid or not as a username)
    answers like a wrong password (401, or 400 invalid_grant at /token; a success is told
    apart by its answer anyway, so its time reveals nothing more)."""
    r = results.requests
    pairs = {
        "/auth/login unknown": (r["login_unknown"], r["login_wrong"]),
        "/auth/login invalid name": (r["login_invalid"], r["login_wrong"]),
        "/token unknown": (r["token_unknown"], r["token_wrong"]),
    }
    offsets = {name: unknown.median / wrong.median - 1 for name, (unknown, wrong) in pairs.items()}
    overlap = all(unknown.overlaps(wrong) for unknown, wrong in pairs.values())
    measured = "; ".join(f"{name} {offset:+.1%}" for name, offset in offsets.items())
    return [
        Target(
            "Login timing (enumeration)",
            f"no account vs wrong password: medians within {TOLERANCE:.0%}, p10-p90 ranges overlap",
            f"{measured}; ranges {'overlap' if overlap else 'do not overlap'}",
            overlap and all(abs(offset) <= TOLERANCE for offset in offsets.values()),
        )
    ]


def section(results: Results) -> str:
    return f"""{SECTION}

How to run: `make bench` (all sections) or `.venv/bin/python -m bench.login_timing --runs N`
(this section only).

{results.runs} timed requests per case through Mangum against an in-process moto, cases
interleaved, {results.elapsed:.0f} s in all; hash parameters `{results.hash_parameters}`.
"Own" is the request's time minus the time inside AWS calls: what the service itself
spends, argon2id included. Method: [docs/benchmarks.md](docs/benchmarks.md#login-timing).

{timing_table(results)}

{interpretation(results)}

{own_time_sentence(results)}
"""


def own_time_sentence(results: Results) -> str:
    """Whether what remains of a gap is the service's own work or the AWS calls'."""
    parts = []
    for label, unknown, wrong in (
        ("`/auth/login`", "login_unknown", "login_wrong"),
        ("`/token`", "token_unknown", "token_wrong"),
    ):
        total = results.requests[unknown].median / results.requests[wrong].median - 1
        own = results.own[unknown].median / results.own[wrong].median - 1
        parts.append(f"{label} {total:+.1%} in all, {own:+.1%} of the service's own time")
    return (
        "Unknown user against wrong password, medians: "
        + "; ".join(parts)
        + ". Both make the same AWS calls on items of the same size class."
    )


main = runs_command(
    __doc__,
    default_runs=DEFAULT_RUNS,
    runs_help="timed requests per case",
    minimum_runs=5,
    measure=measure,
    section=section,
)


if __name__ == "__main__":
    raise SystemExit(main())
