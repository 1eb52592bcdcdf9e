"""Cold start of the deployment package: import time and time to first response.

    python -m bench.cold_start [--runs N] [--output PATH]      (or: make bench-cold)

Builds the x86_64 package the way `sam build` does (functions/api/Makefile, target
build-ApiFunction) into a temporary directory, then starts N fresh CPython 3.13
processes per variant, each the way the Lambda runtime sees the package: isolated
(`-I -S`: no project venv, no user or site packages, no PYTHON* variables), the package
first on sys.path, `-B` (Lambda's /var/task is read-only, so nothing is written back).
Each process imports `authapi.main`, then calls `handler(event, context)` with API
Gateway HTTP API v2 events (from tests/events): `GET /health` (no AWS) and then
`POST /auth/login` with a wrong password for an existing user, which reads the SSM key
sets and the user from DynamoDB (a moto server on loopback started by this script) and
verifies an argon2id hash. Variants:

* with bytecode: the package as built (precompiled, unchecked-hash .pyc files);
* without bytecode: a copy with every `__pycache__` removed, so each process compiles
  every module it imports;
* floor: a process that only imports fastapi and botocore from the same package and
  creates a DynamoDB client, i.e. what any FastAPI-on-botocore function pays.

Times are CLOCK_MONOTONIC (system-wide on Linux), so "since spawn" spans interpreter
start-up too; CPU time is the process's own (user and system, from its start). Each
round runs, per variant, the service and then the floor back to back, and the ratio to
the floor is taken per round: the median of those ratios is what the target reads,
because this machine's speed drifts between rounds by more than the difference it
measures (a pair shares the drift). The ratio of the two medians is reported beside it.
The "## Cold start" section of BENCHMARKS.md is replaced (or appended); nothing else
in the file is touched.

The helpers here (finding the runtime Python, building the package, the isolated
driver) are shared with tests/build/test_artifact.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pyotp
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from authapi.core import db, secrets
from authapi.core.config import Settings
from authapi.main import create_app
from authapi.users import service
from infra.local import free_port
from infra.secrets import ensure_secrets
from infra.template import create_tables
from tests.support import fill_placeholders

from . import lambda_events
from .inprocess import create_enrolled_user
from .report import (
    ROOT,
    Stats,
    Target,
    mib,
    ms,
    publish,
    ratio,
    require_at_least,
    run_driver,
    section_parser,
)

FUNCTION_MAKEFILE = ROOT / "functions" / "api" / "Makefile"
EVENTS = ROOT / "tests" / "events"
SECTION = "## Cold start"
RUNTIME_VERSION = (3, 13)
DEFAULT_RUNS = 15
UNZIP_RUNS = 5
STAGE = "coldstart"
PLACEHOLDER = re.compile(r"__[A-Z0-9_]+__")

USERNAME = "cold.start"
PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway user in moto
WRONG_PASSWORD = "correct horse battery stapler"  # noqa: S105 - same length, one char more


# ---- the runtime Python and the package --------------------------------------------------


def _is_runtime_python(candidate: str) -> bool:
    try:
        done = subprocess.run(  # noqa: S603 - a Python interpreter, fixed arguments
            [candidate, "-I", "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and done.stdout.strip() == str(RUNTIME_VERSION)


def find_runtime_python() -> Path | None:
    """CPython 3.13, the Lambda runtime's version: $RUNTIME_PYTHON, else pyenv's newest
    3.13.x, else python3.13 on PATH (the Makefile's order). None if none works."""
    candidates: list[str] = []
    if os.environ.get("RUNTIME_PYTHON"):
        candidates.append(os.environ["RUNTIME_PYTHON"])
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    found = sorted(Path(pyenv_root, "versions").glob("3.13*/bin/python3.13"))
    candidates.extend(str(path) for path in reversed(found))
    on_path = shutil.which("python3.13")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        if _is_runtime_python(candidate):
            return Path(candidate)
    return None


def build_artifact(destination: Path, python: Path, arch: str = "x86_64") -> None:
    """The package `sam build` makes, via the same Makefile target, into `destination`."""
    subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [  # noqa: S607 - make from PATH, as sam build runs it
            "make",
            "--no-print-directory",
            "-f",
            str(FUNCTION_MAKEFILE),
            "build-ApiFunction",
            f"ARTIFACTS_DIR={destination}",
            f"LAMBDA_ARCH={arch}",
            f"RUNTIME_PYTHON={python}",
        ],
        cwd=ROOT,
        check=True,
    )


def tree_size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def zipped_size(root: Path, work: Path) -> int:
    return zip_measures(root, work, extractions=0)[0]


def zip_measures(root: Path, work: Path, extractions: int) -> tuple[int, list[float]]:
    """The package zipped as a deployment .zip, and the seconds each of `extractions`
    fresh extractions of it takes (what Lambda does with a .zip before init, here with
    Python's zipfile on this machine's disk)."""
    archive = Path(shutil.make_archive(str(work / root.name), "zip", root_dir=root))
    try:
        seconds = []
        for index in range(extractions):
            destination = work / f"unzipped-{index}"
            started = time.perf_counter()
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(destination)
            seconds.append(time.perf_counter() - started)
            shutil.rmtree(destination)
        return archive.stat().st_size, seconds
    finally:
        archive.unlink()


def without_bytecode(package: Path, destination: Path) -> Path:
    """A copy of the package with every __pycache__ removed."""
    shutil.copytree(package, destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


# ---- events ---------------------------------------------------------------------------------


def _checked(event: dict[str, Any]) -> dict[str, Any]:
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    leftover = sorted(set(PLACEHOLDER.findall(json.dumps(event))))
    if leftover:
        raise RuntimeError(f"unfilled placeholders in an event: {leftover}")
    return event


def login_event(username: str, password: str) -> dict[str, Any]:
    """tests/events' HTTP API v2 `POST /auth/login`, with this body."""
    template = json.loads((EVENTS / "http_api_v2_post_auth_login.json").read_text("utf-8"))
    body = json.dumps({"username": username, "password": password})
    template["body"] = body
    filled: dict[str, Any] = fill_placeholders(
        template, {"CONTENT_LENGTH": str(len(body.encode()))}
    )
    return _checked(filled)


def health_event() -> dict[str, Any]:
    """tests/events' HTTP API v2 `GET /users/me`, turned into `GET /health` (no token)."""
    event: dict[str, Any] = json.loads(
        (EVENTS / "http_api_v2_get_users_me.json").read_text("utf-8")
    )
    event["rawPath"] = "/health"
    event["requestContext"]["http"]["path"] = "/health"
    event["pathParameters"] = {"proxy": "health"}
    del event["headers"]["authorization"]
    return _checked(event)


# ---- the isolated process -----------------------------------------------------------------

# Runs in the runtime Python with `-I -S -B -c DRIVER <package> <mode>`, events as JSON
# on stdin. Standard library and the package only; prints one JSON object.
DRIVER = (
    r"""
import time
started = time.monotonic()
import json, sys
package, mode = sys.argv[1], sys.argv[2]
sys.path.insert(0, package)
events = json.load(sys.stdin)
report = {"started": started}

"""
    + lambda_events.CONTEXT_SOURCE
    + r"""
if mode == "floor":
    import fastapi, botocore.session
    botocore.session.get_session().create_client("dynamodb")
    report["ready"] = time.monotonic()
    report["ready_cpu"] = time.process_time()
else:
    import authapi.main
    report["imported"] = time.monotonic()
    if mode == "lambda":
        # What main.py does at import on Lambda, timed on its own: the same calls, in
        # the same order (the runtime variable is left unset so the import does not),
        # with the garbage collector paused as main.py pauses it for the whole init.
        import gc
        from authapi import warmup
        gc.disable()
        warmup.prepare_container(authapi.main.settings)
        gc.freeze()
        gc.enable()
        report["warmed"] = time.monotonic()
    responses = []
    for event in events:
        result = authapi.main.handler(event, Context())
        responses.append({"status": result["statusCode"], "body": result.get("body")})
        report.setdefault("answered", []).append(time.monotonic())
        report.setdefault("answered_cpu", []).append(time.process_time())
    report["responses"] = responses
    # Modules that ran: one still waiting for its first use is left out, and not read
    # here (reading it would run it).
    from authapi.core import lazy_imports
    waiting = set(lazy_imports.waiting())
    executed = {name: module for name, module in list(sys.modules.items())
                if name not in waiting}
    report["modules"] = sorted(
        name for name, module in executed.items()
        if (getattr(module, "__file__", None) or "").startswith(package)
    )
    report["outside"] = sorted(
        name for name, module in executed.items()
        if name.split(".")[0] in {"authapi", "botocore", "pynamodb", "cryptography", "argon2",
                                  "fastapi", "mangum", "pydantic", "jwt", "_cffi_backend"}
        and not (getattr(module, "__file__", None) or package).startswith(package)
    )
print(json.dumps(report))
"""
)


def lambda_environment(
    endpoint: str | None, home: Path, stage: str = STAGE, *, in_lambda: bool = False
) -> dict[str, str]:
    """What the function reads from its environment, and nothing from this machine's
    AWS configuration: fake credentials, the stage's table and SSM path, the endpoint.
    `in_lambda` adds the variable the runtime sets, so the module runs its container
    warm-up at import as on Lambda (only with an endpoint: it calls SSM and DynamoDB)."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TABLE_NAME": f"authapi-{stage}",
        "SSM_PARAMETER_PREFIX": f"/authapi/{stage}",
    }
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    if in_lambda:
        if not endpoint:
            raise ValueError("the container warm-up needs an AWS endpoint (never real AWS)")
        env["AWS_LAMBDA_FUNCTION_NAME"] = "authapi-ApiFunction"
    return env


@dataclass(frozen=True)
class Run:
    spawned: float
    report: dict[str, Any]

    def since_spawn(self, key: str, index: int | None = None) -> float:
        value = self.report[key] if index is None else self.report[key][index]
        return float(value) - self.spawned

    @property
    def import_seconds(self) -> float:
        return self.between("started", "imported")

    def between(self, start: str, end: str) -> float:
        """Seconds between two marks (a list mark: its first entry)."""

        def mark(key: str) -> float:
            value = self.report[key]
            return float(value[0] if isinstance(value, list) else value)

        return mark(end) - mark(start)


def run_isolated(
    python: Path,
    package: Path,
    mode: str,
    env: Mapping[str, str],
    events: list[dict[str, Any]],
) -> Run:
    """One fresh runtime-Python process on the package (see DRIVER)."""
    spawned = time.monotonic()
    command = [str(python), "-I", "-S", "-B", "-c", DRIVER, str(package), mode]
    return Run(spawned, run_driver(command, events, env, package, mode))


# ---- the moto server ------------------------------------------------------------------------


@dataclass
class Moto:
    """A loopback moto server with the template's table and the stage's key sets."""

    endpoint: str
    settings: Settings
    _users: int = 0

    def new_user(self) -> str:
        """A fresh user (each gets its own failure budget, so a wrong password answers
        401 on every run instead of 429 after a few)."""
        self._users += 1
        username = f"{USERNAME}{self._users}"
        service.create_user(
            self.settings, username=username, email=f"{username}@example.com", password=PASSWORD
        )
        return username

    def new_access_token(self) -> str:
        """A fresh enrolled user signed in through the API (`POST /token`, password and
        TOTP code) in this process: a real access token for the isolated process's
        first authenticated request."""
        self._users += 1
        username = f"{USERNAME}{self._users}"
        _, secret = create_enrolled_user(self.settings, username, PASSWORD)
        with TestClient(create_app(self.settings)) as client:
            form = {"username": username, "password": PASSWORD + pyotp.TOTP(secret).now()}
            answer = client.post("/token", data=form)
        if answer.status_code != 200:
            raise RuntimeError(f"sign-in for the cold-start run failed: {answer.text}")
        token: str = answer.json()["access_token"]
        return token


@contextmanager
def moto_server() -> Iterator[Moto]:
    """Start moto on loopback and point this process's authapi (the dev install, used
    only to create users) at it with the same variables the isolated processes get."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per moto request
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        names = [
            *("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"),
            *("AWS_ENDPOINT_URL", "TABLE_NAME", "SSM_PARAMETER_PREFIX"),
        ]
        environment = lambda_environment(endpoint, Path("/nonexistent"))
        os.environ.update({name: environment[name] for name in names})
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        yield Moto(endpoint, _prepare())
    finally:
        server.stop()


def _prepare() -> Settings:
    """The table and key sets in the moto server this process points at, bound."""
    settings = Settings.from_env()
    create_tables(boto3.client("dynamodb"), {"UsersTable": settings.table_name})
    ensure_secrets(boto3.client("ssm"), STAGE)
    secrets.reset_cache()
    db.bind(settings)
    return settings


# ---- measuring and reporting ------------------------------------------------------------

LABELS = {
    "import": "in process: import `authapi.main` (the app and its routes)",
    "warm-up": "in process: then the container warm-up (clients, SSM key sets)",
    "request": "in process: then the first `GET /users/me` handled",
    "first": "spawn → first authenticated response, `GET /users/me`",
    "login": "spawn → then `POST /auth/login` answered (wrong password: argon2id verify)",
    "floor": "floor: spawn → fastapi + botocore imported, DynamoDB client created",
    "first CPU": "CPU time: spawn → first authenticated response",
    "floor CPU": "CPU time: the floor",
}
# Measures compared with the floor, round by round: measure -> the floor's measure.
PAIRED = {"first": "floor", "login": "floor", "first CPU": "floor CPU"}
TARGET_RATIO = 1.25


@dataclass(frozen=True)
class Results:
    runs: int
    python: str
    unzipped: int
    zipped: int
    unzip: Stats
    samples: dict[str, dict[str, Stats]]  # variant -> measure -> seconds
    ratios: dict[str, dict[str, Stats]]  # variant -> measure -> per-round ratio to the floor


def _check_responses(run: Run) -> None:
    statuses = [response["status"] for response in run.report["responses"]]
    if statuses != [200, 401]:
        raise RuntimeError(f"unexpected responses: {run.report['responses']}")
    if run.report["outside"]:
        raise RuntimeError(f"modules loaded from outside the package: {run.report['outside']}")


def measure(runs: int, python: Path, work: Path) -> Results:
    package = work / "package"
    build_artifact(package, python)
    plain = without_bytecode(package, work / "package-without-bytecode")
    unzipped = tree_size(package)
    zipped, unzip_seconds = zip_measures(package, work, extractions=UNZIP_RUNS)
    home = work / "home"
    home.mkdir()
    with moto_server() as moto:
        env = lambda_environment(moto.endpoint, home)

        def events() -> list[dict[str, Any]]:
            return [
                lambda_events.request("GET", "/users/me", token=moto.new_access_token()),
                login_event(moto.new_user(), WRONG_PASSWORD),
            ]

        variants = {"with bytecode": package, "without bytecode": plain}
        samples: dict[str, dict[str, list[float]]] = {
            name: {key: [] for key in LABELS} for name in variants
        }
        # One untimed round first: the page cache holds both copies, moto is warm.
        for path in variants.values():
            _check_responses(run_isolated(python, path, "lambda", env, events()))
            run_isolated(python, path, "floor", env, [])
        for round_ in range(runs):
            order = list(variants.items())
            if round_ % 2:
                order.reverse()
            for name, path in order:
                handled = run_isolated(python, path, "lambda", env, events())
                _check_responses(handled)
                samples[name]["import"].append(handled.import_seconds)
                samples[name]["warm-up"].append(handled.between("imported", "warmed"))
                samples[name]["request"].append(handled.between("warmed", "answered"))
                samples[name]["first"].append(handled.since_spawn("answered", 0))
                samples[name]["login"].append(handled.since_spawn("answered", 1))
                samples[name]["first CPU"].append(handled.report["answered_cpu"][0])
                floor = run_isolated(python, path, "floor", env, [])
                samples[name]["floor"].append(floor.since_spawn("ready"))
                samples[name]["floor CPU"].append(floor.report["ready_cpu"])
    version = subprocess.run(  # noqa: S603 - the runtime Python, fixed arguments
        [str(python), "-I", "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stats = {
        variant: {key: Stats.of(values) for key, values in by_key.items()}
        for variant, by_key in samples.items()
    }
    ratios = {
        variant: {
            key: Stats.of([a / b for a, b in zip(by_key[key], by_key[floor], strict=True)])
            for key, floor in PAIRED.items()
        }
        for variant, by_key in samples.items()
    }
    unzip = Stats.of(unzip_seconds)
    return Results(runs, f"CPython {version}", unzipped, zipped, unzip, stats, ratios)


def targets(results: Results) -> list[Target]:
    wall = results.samples["with bytecode"]
    paired = results.ratios["with bytecode"]
    first, floor = wall["first"].median, wall["floor"].median
    return [
        Target(
            "Cold start",
            f"first authenticated response ≤ {TARGET_RATIO}x the floor (with bytecode; "
            "median of the per-round ratios)",
            f"{paired['first'].median:.2f}x (CPU time {paired['first CPU'].median:.2f}x; "
            f"ratio of the medians {first / floor:.2f}x: {ms(first, 0)} vs {ms(floor, 0)} ms)",
            paired["first"].median <= TARGET_RATIO,
        )
    ]


def section(results: Results) -> str:
    rows = []
    for key, label in LABELS.items():
        for variant, by_key in results.samples.items():
            stats = by_key[key]
            versus_floor = ["", ""]
            if key in PAIRED:
                paired = results.ratios[variant][key]
                versus_floor = [
                    f"{paired.median:.2f} ({paired.minimum:.2f}-{paired.maximum:.2f})",
                    ratio(stats.median, by_key[PAIRED[key]].median),
                ]
            rows.append(
                f"| {label} | {variant} | {ms(stats.median, 0)} "
                f"| {ms(stats.minimum, 0)}-{ms(stats.maximum, 0)} | {' | '.join(versus_floor)} |"
            )
    table = "\n".join(rows)
    unzip = results.unzip
    unzip_ms = f"{ms(unzip.median, 0)} ms ({ms(unzip.minimum, 0)}-{ms(unzip.maximum, 0)})"
    return f"""{SECTION}

How to run: `make bench` (all sections) or `make bench-cold` (this section only).

The x86_64 package built by `functions/api/Makefile` (what `sam build` ships, here for
this machine's architecture): {mib(results.unzipped)} unzipped, {mib(results.zipped)}
zipped. Unpacking the .zip (Python's zipfile on this machine's disk, median of
{unzip.count}) takes {unzip_ms}: a .zip function is unpacked before its init, and the
rows below leave that out.
Each sample is a fresh {results.python} process started as `-I -S -B` with only the
package on sys.path (no venv, no site-packages). It imports `authapi.main`, runs the
container warm-up that `main.py` runs at import on Lambda (`warmup.prepare_container`:
the DynamoDB client and the key sets from SSM; called by the driver so that it is timed
apart, with the garbage collector paused as during that import), then calls
`authapi.main.handler` with API Gateway HTTP API v2 events: first `GET /users/me` with
an access token signed in beforehand, then a wrong-password login; against a moto server
on loopback. "Without bytecode" is a copy with every `__pycache__` removed (`-B`:
nothing is written back, as on Lambda's read-only /var/task). {results.runs} rounds
after one untimed round; in each, per variant, the service's process and then the
floor's, back to back. Times are CLOCK_MONOTONIC, "spawn" is just before the process is
started, so interpreter start-up is included; CPU time is the process's own. A ratio to
the floor is taken in each round (a pair shares the machine's drift between rounds), and
the target reads the median of those; the ratio of the two medians is beside it. This
machine is not Lambda (no Firecracker start, no code download, a different CPU and
filesystem): compare the rows with each other, not with Lambda's Init Duration.

| Measure | Variant | Median ms | Min-max ms | Ratio to the floor per round: median (min-max) \
| Ratio of the medians |
|---|---|--:|--:|--:|--:|
{table}
"""


def main(argv: list[str] | None = None) -> int:
    rounds = "rounds (per variant: a service process, then a floor process)"
    parser = section_parser(__doc__, runs=DEFAULT_RUNS, runs_help=rounds)
    args = parser.parse_args(argv)
    require_at_least(parser, "--runs", args.runs, 2)
    python = find_runtime_python()
    if python is None:
        parser.error("no CPython 3.13 found: set RUNTIME_PYTHON=/path/to/python3.13")
    publish(args.output, section(run(args.runs, python)))
    return 0


def run(runs: int, python: Path) -> Results:
    """Build, measure and clean up (the temporary packages take ~130 MiB)."""
    with tempfile.TemporaryDirectory(prefix="authapi-cold-") as work:
        return measure(runs, python, Path(work))


if __name__ == "__main__":
    raise SystemExit(main())
