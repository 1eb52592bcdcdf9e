"""Peak memory of a process that serves a login and `GET /users/me`, beside a floor.

    python -m bench.memory [--runs N] [--output PATH]

Each sample is a fresh process of this venv's Python (`sys.executable`, not the built
Lambda package) that holds only what a Lambda container holds: the app, talking to a
moto server on loopback started by this script (bench.cold_start's `moto_server`), so
moto's own memory is in another process. The process gets the function's environment
(`lambda_environment`, with the runtime's AWS_LAMBDA_FUNCTION_NAME, so importing
`authapi.main` runs the container warm-up as on Lambda), imports `authapi.main`, then
calls `authapi.main.handler` with API Gateway HTTP API v2 events (from tests/events):
`POST /auth/login`, `POST /auth/mfa/verify` with the user's current TOTP code (the user
is created enrolled by this script, a fresh one per process) and `GET /users/me` with
the access token it got. It reports its peak resident set size (VmHWM in
/proc/self/status) after the import and after the three answers. Not `ru_maxrss`: on
Linux that keeps, across exec, the RSS of the forked copy of the parent, and the parent
here holds moto.

A third kind only imports `authapi.main` without AWS_LAMBDA_FUNCTION_NAME (no
container warm-up), to tell the import from the warm-up. The floor is the same kind of
process importing fastapi, mangum and botocore, creating a DynamoDB client and serving
one `GET /ping` on a one-route FastAPI app behind Mangum. The kinds take turns in a
rotating order; one untimed round first, so that every module's bytecode is cached and
no process pays for compiling.
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.template import function_memory_mb

from . import lambda_events
from .cold_start import lambda_environment, moto_server
from .report import ROOT, Stats, Target, markdown_table, run_driver, runs_command

SECTION = "## Peak memory"
DEFAULT_RUNS = 5
USERNAME = "memory.user"
PASSWORD = "correct horse battery staple"  # noqa: S105 - throwaway users on a moto server

# Runs in the venv's Python with `-c DRIVER <mode>`, the job as JSON on stdin; prints one
# JSON object. Only the standard library besides what it measures.
DRIVER = (
    r"""
import json, sys

def peak():
    # VmHWM: the peak resident set of this process image. Not ru_maxrss, which on Linux
    # keeps the RSS of the forked copy of the parent from before exec.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    sys.exit("no VmHWM in /proc/self/status")

"""
    + lambda_events.CONTEXT_SOURCE
    + r"""
def answer(handler, event, expected):
    result = handler(event, Context())
    if result["statusCode"] != expected:
        sys.exit(f"{event['rawPath']}: {result['statusCode']} {result.get('body')}")
    return json.loads(result["body"]) if result.get("body") else {}

def with_json(event, body):
    event["body"] = json.dumps(body)
    event["headers"]["content-length"] = str(len(event["body"].encode()))
    return event

def with_bearer(event, token):
    event["headers"]["authorization"] = "Bearer " + token
    return event

mode = sys.argv[1]
job = json.load(sys.stdin)
report = {"started": peak()}
if mode == "floor":
    import botocore.session
    from fastapi import FastAPI
    from mangum import Mangum

    botocore.session.get_session().create_client("dynamodb")
    app = FastAPI()

    @app.get("/ping")
    def ping():
        return {"status": "ok"}

    report["imported"] = peak()
    answer(Mangum(app, lifespan="off"), job["ping"], 200)
elif mode == "import":
    import authapi.main

    report["imported"] = peak()
else:
    import authapi.main

    report["imported"] = peak()
    handler = authapi.main.handler
    challenge = answer(handler, job["login"], 200)
    if challenge.get("mfa") != "totp":
        sys.exit(f"login asked for {challenge.get('mfa')!r}, not a TOTP code")
    verify = with_json(job["verify"], {"mfa_token": challenge["mfa_token"], "code": job["code"]})
    tokens = answer(handler, verify, 200)
    me = answer(handler, with_bearer(job["me"], tokens["access_token"]), 200)
    if me.get("username") != job["username"]:
        sys.exit(f"GET /users/me answered for {me.get('username')!r}")
report["peak"] = peak()
print(json.dumps(report))
"""
)


@dataclass(frozen=True)
class Run:
    imported: int
    peak: int


def run_process(mode: str, env: Mapping[str, str], job: dict[str, Any]) -> Run:
    """One fresh process of this venv's Python (see DRIVER)."""
    report = run_driver([sys.executable, "-c", DRIVER, mode], job, env, ROOT, mode)
    return Run(imported=int(report["imported"]), peak=int(report["peak"]))


class Users:
    """Enrolled users on the moto server, one per service process (a TOTP step can be
    used once per user, and processes may follow each other within one step)."""

    def __init__(self) -> None:
        self.count = 0

    def job(self) -> dict[str, Any]:
        import logging

        import pyotp

        from authapi.core.config import Settings

        from .inprocess import create_enrolled_user

        settings = Settings.from_env()
        self.count += 1
        username = f"{USERNAME}{self.count}"
        audit = logging.getLogger("authapi.security")
        level = audit.level
        audit.setLevel(logging.ERROR)  # no "user_created" line on this script's stderr
        try:
            _, secret = create_enrolled_user(settings, username, PASSWORD)
        finally:
            audit.setLevel(level)
        verify = lambda_events.request(
            "POST", "/auth/mfa/verify", json_body={"mfa_token": "", "code": ""}
        )
        return {
            "username": username,
            "login": lambda_events.login(username, PASSWORD),
            "verify": verify,
            "code": pyotp.TOTP(secret).now(),  # the driver answers within the same step or next
            "me": lambda_events.request("GET", "/users/me", token="set by the driver"),  # noqa: S106
        }


def floor_job() -> dict[str, Any]:
    return {"ping": lambda_events.request("GET", "/ping")}


@dataclass(frozen=True)
class Results:
    runs: int
    python: str
    service_peak: Stats
    service_imported: Stats
    import_only: Stats
    floor_peak: Stats
    floor_imported: Stats
    memory_size: int | None
    argon2_memory_kib: int


def measure(runs: int) -> Results:
    users = Users()
    samples: dict[str, list[float]] = {
        key: [] for key in ("service", "service_imported", "import_only", "floor", "floor_imported")
    }
    with tempfile.TemporaryDirectory(prefix="authapi-memory-") as work, moto_server() as moto:
        lambda_env = lambda_environment(moto.endpoint, Path(work), in_lambda=True)
        # Without AWS_LAMBDA_FUNCTION_NAME: the import alone, no container warm-up.
        plain_env = lambda_environment(moto.endpoint, Path(work))

        def service() -> None:
            served = run_process("handler", lambda_env, users.job())
            samples["service"].append(served.peak)
            samples["service_imported"].append(served.imported)

        def import_only() -> None:
            samples["import_only"].append(run_process("import", plain_env, {}).peak)

        def floor() -> None:
            ran = run_process("floor", lambda_env, floor_job())
            samples["floor"].append(ran.peak)
            samples["floor_imported"].append(ran.imported)

        kinds = [service, import_only, floor]
        # Untimed round: bytecode cached for every module each kind imports.
        run_process("handler", lambda_env, users.job())
        run_process("floor", lambda_env, floor_job())
        for round_ in range(runs):
            shift = round_ % len(kinds)
            for kind in kinds[shift:] + kinds[:shift]:
                kind()
    return Results(
        runs=runs,
        python=f"CPython {sys.version.split()[0]}",
        service_peak=Stats.of(samples["service"]),
        service_imported=Stats.of(samples["service_imported"]),
        import_only=Stats.of(samples["import_only"]),
        floor_peak=Stats.of(samples["floor"]),
        floor_imported=Stats.of(samples["floor_imported"]),
        memory_size=function_memory_mb(),
        argon2_memory_kib=argon2_memory_kib(),
    )


def argon2_memory_kib() -> int:
    """The memory cost (m, KiB) of the service's password hashes."""
    from authapi.security import passwords

    match = re.search(r"\$m=(\d+),", passwords.hash_password(PASSWORD))
    if match is None:
        raise RuntimeError("the password hash names no argon2 memory cost")
    return int(match.group(1))


def _mib(size: float) -> str:
    return f"{size / 1024 / 1024:.1f}"


def table(results: Results) -> str:
    rows = [
        ("service: login + `GET /users/me` answered", results.service_peak),
        (
            "service: after `import authapi.main` with the container warm-up",
            results.service_imported,
        ),
        ("service: after `import authapi.main` alone (no warm-up)", results.import_only),
        ("floor: one `GET /ping` answered", results.floor_peak),
        ("floor: after its imports and the DynamoDB client", results.floor_imported),
    ]
    return markdown_table(
        ["Process", "Median MiB", "Min-max MiB"],
        (
            (label, _mib(stats.median), f"{_mib(stats.minimum)}-{_mib(stats.maximum)}")
            for label, stats in rows
        ),
    )


def targets(results: Results) -> list[Target]:
    """The benchmark issue sets no memory target."""
    return []


def section(results: Results) -> str:
    memory = f"{results.memory_size} MB" if results.memory_size is not None else "not set"
    difference = results.service_peak.median - results.floor_peak.median
    import_cost = results.import_only.median - results.floor_imported.median
    warm_up = results.service_imported.median - results.import_only.median
    serving = results.service_peak.median - results.service_imported.median
    headroom = (
        f"The peak is {results.service_peak.median / 2**20 / results.memory_size:.0%} of "
        "the function's memory setting."
        if results.memory_size
        else ""
    )
    return f"""{SECTION}

How to run: `.venv/bin/python -m bench.memory --runs N` (this section only).

Peak resident set size (VmHWM) of fresh {results.python} processes, {results.runs} per
kind, with moto in another process. The service process imports `authapi.main` with the
Lambda container warm-up and serves a two-step login and `GET /users/me`; the floor
imports fastapi, mangum and botocore and serves one `GET /ping`. The function's memory
setting (`MemorySize` in template.yaml): {memory}. Method:
[docs/benchmarks.md](docs/benchmarks.md#peak-memory).

{table(results)}

The service's peak is {_mib(difference)} MiB above the floor's (medians): importing
`authapi.main` costs {_mib(import_cost)} MiB more than the floor's imports and client, the
container warm-up {_mib(warm_up)} MiB more than the import, and serving the three requests
{_mib(serving)} MiB more than that (an argon2id check holds
{results.argon2_memory_kib / 1024:.0f} MiB while it runs). {headroom}
"""


main = runs_command(
    __doc__,
    default_runs=DEFAULT_RUNS,
    runs_help="processes per kind",
    minimum_runs=1,
    measure=measure,
    section=section,
)


if __name__ == "__main__":
    raise SystemExit(main())
