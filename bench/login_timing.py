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

import os

# Before anything imports botocore or authapi: fake credentials, a benchmark-only table
# and SSM path, and no endpoint override inherited from the shell (as tests/conftest.py).
STAGE = "bench"
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": f"authapi-{STAGE}",
        "SSM_PARAMETER_PREFIX": f"/authapi/{STAGE}",
    }
)

import argparse  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlencode  # noqa: E402

import boto3  # noqa: E402
import pyotp  # noqa: E402
from mangum import Mangum  # noqa: E402
from moto import mock_aws  # noqa: E402

import authapi.core.clock  # noqa: E402
from authapi.core import secrets  # noqa: E402
from authapi.core.config import Settings, get_settings  # noqa: E402
from authapi.deps import get_seed_keys  # noqa: E402
from authapi.main import create_app  # noqa: E402
from authapi.security import passwords, totp  # noqa: E402
from authapi.users import service  # noqa: E402
from infra.secrets import ensure_secrets, key_set_parameters  # noqa: E402
from infra.template import create_tables  # noqa: E402
from tests.support import fill_placeholders  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests" / "events"
LOGIN_EVENT = "http_api_v2_post_auth_login.json"
TOKEN_EVENT = "http_api_v2_post_token_form.json"  # noqa: S105 - a file name
PLACEHOLDER = re.compile(r"__[A-Z0-9_]+__")

USERNAME = "bench.user"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway user in moto
WRONG_PASSWORD = "correct horse battery stapler"  # noqa: S105 - same length, one char more
UNKNOWN_USERNAME = "nobody.here"  # valid syntax, no such account
INVALID_USERNAME = "not a valid name!"  # no account can have it; looked up all the same
WRONG_CODE = "000000"


# ---- events -----------------------------------------------------------------------------


def _event(template: dict[str, Any], body: bytes, **values: str) -> dict[str, Any]:
    """A copy of a tests/events fixture with its body, Content-Length and placeholders set."""
    event: dict[str, Any] = json.loads(json.dumps(template))
    if event["isBase64Encoded"]:
        event["body"] = base64.b64encode(body).decode("ascii")
    else:
        event["body"] = body.decode("utf-8")
    fills = {key.upper(): value for key, value in values.items()}
    fills["CONTENT_LENGTH"] = str(len(body))
    event = fill_placeholders(event, fills)
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    leftover = sorted(set(PLACEHOLDER.findall(json.dumps(event))))
    if leftover:
        raise RuntimeError(f"unfilled placeholders in an event: {leftover}")
    return event


def _load(name: str) -> dict[str, Any]:
    template: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return template


class Events:
    def __init__(self) -> None:
        self._login = _load(LOGIN_EVENT)
        self._token = _load(TOKEN_EVENT)

    def login(self, username: str, password: str) -> dict[str, Any]:
        body = json.dumps({"username": username, "password": password}).encode()
        return _event(self._login, body)

    def token(self, username: str, password_and_code: str) -> dict[str, Any]:
        form = {"grant_type": "password", "username": username, "password": password_and_code}
        return _event(self._token, urlencode(form).encode())


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's `context` that Mangum reads."""

    function_name: str = "authapi-bench"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:authapi-bench"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/authapi-bench"
    log_stream_name: str = "bench"
    identity: None = None
    client_context: None = None

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


# ---- the fake clock -------------------------------------------------------------------------


class Clock:
    """The service clock, moved one TOTP step forward before each /token success."""

    def __init__(self) -> None:
        self._now = float(int(time.time()) // totp.STEP_SECONDS * totp.STEP_SECONDS + 1)

    def now(self) -> float:
        return self._now

    def next_step(self) -> None:
        self._now += totp.STEP_SECONDS


@contextmanager
def patched_clock(fake: Clock) -> Iterator[None]:
    """The app reads time only through authapi.core.clock.now (looked up at call time)."""
    original = authapi.core.clock.now
    authapi.core.clock.now = fake.now
    try:
        yield
    finally:
        authapi.core.clock.now = original


# ---- cases ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    endpoint: str
    expected_status: int
    # Builds the event (untimed); may move the fake clock first.
    build: Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Stats:
    median: float
    p10: float
    p90: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        deciles = statistics.quantiles(samples, n=10, method="inclusive")
        return cls(statistics.median(samples), deciles[0], deciles[-1], min(samples), max(samples))


def _cases(events: Events, fake: Clock, secret: str) -> list[Case]:
    def token_success() -> dict[str, Any]:
        fake.next_step()  # codes are single use: each request needs a new step
        code = pyotp.TOTP(secret).at(fake.now())
        return events.token(USERNAME, PASSWORD + code)

    return [
        Case(
            "login_ok",
            "success",
            "POST /auth/login",
            200,
            lambda: events.login(USERNAME, PASSWORD),
        ),
        Case(
            "login_wrong",
            "wrong password",
            "POST /auth/login",
            401,
            lambda: events.login(USERNAME, WRONG_PASSWORD),
        ),
        Case(
            "login_unknown",
            "unknown username",
            "POST /auth/login",
            401,
            lambda: events.login(UNKNOWN_USERNAME, PASSWORD),
        ),
        Case(
            "login_invalid",
            "invalid username syntax",
            "POST /auth/login",
            401,
            lambda: events.login(INVALID_USERNAME, PASSWORD),
        ),
        Case("token_ok", "success (fresh TOTP step)", "POST /token", 200, token_success),
        Case(
            "token_wrong",
            "wrong password",
            "POST /token",
            401,
            lambda: events.token(USERNAME, WRONG_PASSWORD + WRONG_CODE),
        ),
        Case(
            "token_unknown",
            "unknown username",
            "POST /token",
            401,
            lambda: events.token(UNKNOWN_USERNAME, PASSWORD + WRONG_CODE),
        ),
    ]


def _refill_failure_budgets() -> None:
    """Untimed, before every request: forget the failures the benchmark itself causes,
    so every case measures the answer it is meant to (401), never the budget's 429."""
    from authapi.users import repository
    from authapi.users.models import LOGIN_THROTTLE_SK, LoginThrottleItem, login_throttle_pk

    user, _ = repository.find_for_login(USERNAME)
    assert user is not None
    repository.reset_login_failures(user)
    for name in (UNKNOWN_USERNAME, INVALID_USERNAME.strip().lower()):
        LoginThrottleItem(login_throttle_pk(name), LOGIN_THROTTLE_SK).delete()


def _invoke(handler: Any, case: Case) -> float:
    _refill_failure_budgets()
    event = case.build()
    context = LambdaContext()
    start = time.perf_counter()
    result = handler(event, context)
    elapsed = time.perf_counter() - start
    if result["statusCode"] != case.expected_status:
        raise RuntimeError(
            f"{case.endpoint} {case.label}: expected {case.expected_status}, "
            f"got {result['statusCode']}: {result.get('body')}"
        )
    return elapsed


def _time(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Results:
    runs: int
    requests: dict[str, Stats]
    cases: list[Case]
    hash_stats: Stats
    verify_stats: Stats
    hash_parameters: str
    elapsed: float


def measure(runs: int) -> Results:
    started = time.perf_counter()
    settings: Settings = get_settings()
    expected = {settings.signing_keys_parameter, settings.totp_keys_parameter}
    if set(key_set_parameters(STAGE).values()) != expected:
        raise RuntimeError("SSM_PARAMETER_PREFIX does not match the stage's key sets")
    fake = Clock()
    with mock_aws(), patched_clock(fake):
        create_tables(boto3.client("dynamodb"), {"UsersTable": settings.table_name})
        ensure_secrets(boto3.client("ssm"), STAGE)
        secrets.reset_cache()
        secret = totp.new_secret()
        service.create_user(
            settings,
            username=USERNAME,
            email=f"{USERNAME}@example.com",
            password=PASSWORD,
            enrollment=service.Enrollment(secret, [], get_seed_keys(settings)),
        )
        handler = Mangum(create_app(settings), lifespan="off")
        cases = _cases(Events(), fake, secret)
        # Warm-up, untimed: imports, connections, the SSM read, and the dummy hash the
        # first unknown-user request builds.
        for case in cases:
            _invoke(handler, case)
        samples: dict[str, list[float]] = {case.key: [] for case in cases}
        for round_ in range(runs):
            shift = round_ % len(cases)
            for case in cases[shift:] + cases[:shift]:
                samples[case.key].append(_invoke(handler, case))
        secrets.reset_cache()

    stored = passwords.hash_password(PASSWORD)
    passwords.verify_password(PASSWORD, stored)
    hashes = [_time(lambda: passwords.hash_password(PASSWORD)) for _ in range(runs)]
    verifies = [_time(lambda: passwords.verify_password(PASSWORD, stored)) for _ in range(runs)]
    return Results(
        runs=runs,
        requests={key: Stats.of(values) for key, values in samples.items()},
        cases=cases,
        hash_stats=Stats.of(hashes),
        verify_stats=Stats.of(verifies),
        hash_parameters=stored.rsplit("$", 2)[0],
        elapsed=time.perf_counter() - started,
    )


# ---- the report -----------------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            ["git", *args],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def _commit() -> str:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return commit


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _cpu() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def _memory() -> str:
    match = re.search(r"^MemTotal:\s+(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    if match is None:
        return "unknown"
    return f"{int(match.group(1)) / 1024 / 1024:.1f} GiB"


def machine_facts() -> list[tuple[str, str]]:
    return [
        ("Platform", platform.platform()),
        ("CPU", _cpu()),
        ("Logical CPUs", str(os.cpu_count())),
        ("Memory", _memory()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Date (UTC)", datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")),
        ("Git commit", _commit()),
    ]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}"


def _deviation(value: float, reference: float) -> str:
    return f"{(value / reference - 1) * 100:+.1f}%"


def timing_table(results: Results) -> str:
    success_key = {"POST /auth/login": "login_ok", "POST /token": "token_ok"}
    wrong_key = {"POST /auth/login": "login_wrong", "POST /token": "token_wrong"}
    lines = [
        "| Endpoint | Case | Median ms | p10 ms | p90 ms | Min ms | Max ms "
        "| Median / success | Median / wrong password |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for case in results.cases:
        stats = results.requests[case.key]
        success = results.requests[success_key[case.endpoint]].median
        wrong = results.requests[wrong_key[case.endpoint]].median
        lines.append(
            f"| `{case.endpoint}` | {case.label} | {_ms(stats.median)} | {_ms(stats.p10)} "
            f"| {_ms(stats.p90)} | {_ms(stats.minimum)} | {_ms(stats.maximum)} "
            f"| {_ratio(stats.median, success)} | {_ratio(stats.median, wrong)} |"
        )
    for label, stats in (
        ("`hash_password` (argon2id)", results.hash_stats),
        ("`verify_password` (argon2id)", results.verify_stats),
    ):
        lines.append(
            f"| {label} | direct call | {_ms(stats.median)} | {_ms(stats.p10)} "
            f"| {_ms(stats.p90)} | {_ms(stats.minimum)} | {_ms(stats.maximum)} | | |"
        )
    return "\n".join(lines)


def _overlaps(a: Stats, b: Stats) -> bool:
    return a.p10 <= b.p90 and b.p10 <= a.p90


def interpretation(results: Results, tolerance: float = 0.10) -> str:
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
        overlap = _overlaps(stats, wrong)
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


def report(results: Results) -> str:
    facts = "\n".join(f"| {name} | {value} |" for name, value in machine_facts())
    return f"""# Benchmarks

How to run: `make bench` (or `.venv/bin/python -m bench.login_timing --runs N`).
This command writes the sections above "Cold start"; `make bench-cold` writes that one.

## Machine

| Fact | Value |
|---|---|
{facts}

## Login timing (user enumeration, ASVS 5.0 6.3.8)

{results.runs} timed requests per case after one untimed warm-up of each, interleaved in
a rotating order; {results.elapsed:.0f} s in total. Requests go through Mangum with API
Gateway HTTP API v2 events (from `tests/events`) into the FastAPI app, against an
in-process moto DynamoDB and SSM; times are `time.perf_counter` around the handler call.
Wrong-password and unknown-user requests on `/token` carry a wrong code; `/token`
success moves the service clock one TOTP step forward before each request. Hash
parameters: `{results.hash_parameters}`.

{timing_table(results)}

{interpretation(results)}
"""


def _other_sections(path: Path, text: str) -> str:
    """The "## " sections of the existing file that this report does not write (e.g.
    the cold-start figures from `make bench-cold`), kept as they are."""
    if not path.exists():
        return ""
    ours = {line for line in text.splitlines() if line.startswith("## ")}
    kept: list[str] = []
    keeping = False
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("## "):
            keeping = line.rstrip("\n") not in ours
        if keeping:
            kept.append(line)
    return ("\n" + "".join(kept)) if kept else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="timed requests per case (30)")
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "BENCHMARKS.md",
        help="report file (its other sections are kept)",
    )
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    results = measure(args.runs)
    text = report(results)
    args.output.write_text(text + _other_sections(args.output, text), encoding="utf-8")
    print(timing_table(results))
    print()
    print(interpretation(results))
    print(f"\nWrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
