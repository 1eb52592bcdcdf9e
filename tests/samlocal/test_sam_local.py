"""End to end: `make sam-local`, the built package under `sam local` on a Docker engine.

Protects the "Tools outside HTTP / make sam-local" part of the contract (API.md): one
command starts `sam local start-api` on 127.0.0.1 against the embedded local AWS with a
seeded admin whose otpauth:// URI is printed on a line of its own; the two-step login,
the password grant, /users/me and a refresh work through SAM's API Gateway emulation;
`sam local invoke` with a generated HTTP API event reaches the same local AWS; the
function's container points at the local endpoint with dummy credentials, whatever
credentials the developer's shell holds; and Ctrl-C stops everything, containers too.

Needs Docker, a CPython 3.13 (the package build) and, where AWS's base image cannot be
pulled, debootstrap (the stand-in). Skipped without them, except under CI (CI set),
where that fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pyotp
import pytest

from bench.cold_start import find_runtime_python
from infra.lambda_base_image import image_exists, official_image, this_machine
from infra.local import LOCAL_TABLE, free_port
from infra.sam_local import (
    FUNCTION_ID,
    SAM,
    choose_base_image,
    container_environment,
    docker_bridge_address,
    local_options,
    sam_containers,
    sam_environment,
    write_env_vars,
)
from tests.e2e.test_local_run import (
    ADMIN_PASSWORD,
    LocalRun,
    accepts_connections,
    assert_error,
    assert_tokens,
    bearer,
    code_at,
    ok,
    wait_for_step_margin,
)
from tests.support import DEVELOPER_KEY_ID, DEVELOPER_SECRET, DEVELOPER_TOKEN

pytestmark = pytest.mark.samlocal

# A first run builds the package, perhaps the stand-in base image (about a minute
# each) and SAM's image on top of it.
START_TIMEOUT_SECONDS = 900.0
STOP_TIMEOUT_SECONDS = 60.0
INVOKE_TIMEOUT_SECONDS = 300.0
MOTO_LINE = re.compile(
    r"Local AWS \(moto, in memory\) at http://127\.0\.0\.1:(\d+) \(the function: (\S+)\)"
)
BASE_IMAGE_LINE = re.compile(r"^Lambda base image: .+$", re.MULTILINE)
# What a developer's shell may hold; none of it may reach the function's container.
PRODUCTION_TABLE = "production-users"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (under CI the sam local test must run, not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def docker_engine() -> None:
    if shutil.which("docker") is None or docker_bridge_address() is None:
        _unavailable("no usable Docker engine (`docker network inspect bridge` fails)")
    if find_runtime_python() is None:
        _unavailable("no CPython 3.13 (the Lambda runtime's version): set RUNTIME_PYTHON")
    if shutil.which("debootstrap") is None and not image_exists(official_image(this_machine())):
        _unavailable("no debootstrap to build the stand-in for the Lambda base image")


@pytest.fixture
def developer_shell(tmp_path: Path) -> dict[str, str]:
    """Real-looking credentials in every place SAM looks for them, and a declared
    variable of the function set in the shell (SAM passes those on, too)."""
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = {DEVELOPER_KEY_ID}\n"
        f"aws_secret_access_key = {DEVELOPER_SECRET}\n",
        encoding="utf-8",
    )
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-west-1\n", encoding="utf-8")
    return {
        "AWS_ACCESS_KEY_ID": DEVELOPER_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DEVELOPER_SECRET,
        "AWS_SESSION_TOKEN": DEVELOPER_TOKEN,
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_CONFIG_FILE": str(config),
        "AWS_REGION": "eu-west-1",
        "TABLE_NAME": PRODUCTION_TABLE,
    }


@pytest.fixture
def sam_local(docker_engine: None, developer_shell: dict[str, str]) -> Iterator[LocalRun]:
    containers_before = sam_containers()
    run = LocalRun(
        free_port(),
        command=("make", "sam-local"),
        start_timeout=START_TIMEOUT_SECONDS,
        extra_env=developer_shell,
    )
    try:
        yield run
    finally:
        # After a failure: Ctrl-C first, so that SAM removes its container, then
        # whatever is left of this run, containers included.
        if run.group_alive():
            os.killpg(run.process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        run.kill()
        for container in sam_containers() - containers_before:
            subprocess.run(["docker", "rm", "--force", container], capture_output=True, check=False)


def invoke(
    event: dict[str, object], moto_port: str, function_host: str, tmp_path: Path
) -> dict[str, object]:
    """`sam local invoke` of the built function, against the running local AWS."""
    arch = this_machine()
    env_vars = write_env_vars(tmp_path / "env.json", f"http://{function_host}:{moto_port}")
    event_file = tmp_path / "event.json"
    event_file.write_text(json.dumps(event), encoding="utf-8")
    image = choose_base_image(arch)
    invoked = subprocess.run(
        [
            str(SAM),
            "local",
            "invoke",
            FUNCTION_ID,
            "--event",
            str(event_file),
            *local_options(arch, env_vars, image),
        ],
        capture_output=True,
        text=True,
        env=sam_environment(f"http://127.0.0.1:{moto_port}"),
        timeout=INVOKE_TIMEOUT_SECONDS,
        check=False,
    )
    assert invoked.returncode == 0, invoked.stderr[-3000:]
    # The function's answer is the last line of standard output (logs go to stderr).
    answer: dict[str, object] = json.loads(invoked.stdout.strip().splitlines()[-1])
    return answer


def generate_event(method: str, path: str, moto_port: str) -> dict[str, object]:
    generated = subprocess.run(
        [
            str(SAM),
            "local",
            "generate-event",
            "apigateway",
            "http-api-proxy",
            "--method",
            method,
            "--path",
            path.lstrip("/"),
            "--body",
            "",
        ],
        capture_output=True,
        text=True,
        env=sam_environment(f"http://127.0.0.1:{moto_port}"),
        check=True,
    )
    event: dict[str, object] = json.loads(generated.stdout)
    return event


def test_sam_local_serves_the_login_walk_and_invoke_and_stops_on_ctrl_c(
    sam_local: LocalRun, tmp_path: Path
) -> None:
    containers_before = sam_containers()
    startup = sam_local.wait_until_healthy()
    print(f"\nsam local start-up (make sam-local -> first /health 200): {startup:.1f} s")
    admin_totp = pyotp.parse_uri(sam_local.otpauth_uri())
    assert isinstance(admin_totp, pyotp.TOTP)
    output = sam_local.output(1000)
    moto = MOTO_LINE.search(output)
    assert moto is not None, output
    moto_port, function_host = moto.groups()
    # It says which base image runs the function (AWS's, or the stand-in and why).
    base_image = BASE_IMAGE_LINE.search(output)
    assert base_image is not None, output
    print(base_image.group())

    # The function's container: this run's local AWS, dummy credentials, nothing of the
    # developer's shell.
    ours = sam_containers() - containers_before
    assert len(ours) == 1, ours  # one warm container (EAGER) for the one function
    (container,) = ours
    environment = container_environment(container)
    assert environment["AWS_ENDPOINT_URL"] == f"http://{function_host}:{moto_port}"
    assert environment["AWS_ACCESS_KEY_ID"] == "testing"
    assert environment["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert "AWS_SESSION_TOKEN" not in environment
    assert environment["TABLE_NAME"] == LOCAL_TABLE
    values = "\n".join(environment.values())
    for leaked in (DEVELOPER_KEY_ID, DEVELOPER_SECRET, DEVELOPER_TOKEN, PRODUCTION_TABLE):
        assert leaked not in values

    with httpx2.Client(base_url=sam_local.base_url, timeout=60.0) as http:
        assert ok(http.get("/health")) == {"status": "ok"}
        wait_for_step_margin()
        first = ok(http.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}))
        assert first["mfa"] == "totp", first
        verified = ok(
            http.post(
                "/auth/mfa/verify",
                json={"mfa_token": first["mfa_token"], "code": code_at(admin_totp.secret, 0)},
            )
        )
        assert_tokens(verified)
        me = ok(http.get("/users/me", headers=bearer(verified)))
        assert (me["username"], me["role"], me["mfa_enabled"]) == ("admin", "admin", True), me

        granted = ok(
            http.post(
                "/token",
                data={
                    "username": "admin",
                    "password": ADMIN_PASSWORD + code_at(admin_totp.secret, 1),
                },
            )
        )
        assert_tokens(granted)

        refreshed = ok(http.post("/auth/refresh", json={"refresh_token": granted["refresh_token"]}))
        assert_tokens(refreshed)
        assert refreshed["refresh_token"] != granted["refresh_token"]
        assert ok(http.get("/users/me", headers=bearer(refreshed)))["id"] == me["id"]
        # Rotation: the old refresh token is spent.
        reused = http.post("/auth/refresh", json={"refresh_token": granted["refresh_token"]})
        assert_error(reused, 401, "NOT_AUTHENTICATED")

    # `sam local invoke` with SAM's own HTTP API event, against the same local AWS.
    event = generate_event("GET", "/users/me", moto_port)
    event["headers"] = {"authorization": f"Bearer {verified['access_token']}"}
    answer = invoke(event, moto_port, function_host, tmp_path)
    assert answer["statusCode"] == 200, answer
    assert json.loads(str(answer["body"]))["id"] == me["id"], answer

    stop_started = time.monotonic()
    sam_local.interrupt(STOP_TIMEOUT_SECONDS)
    assert not accepts_connections(int(moto_port)), "the local AWS still accepts connections"
    assert container not in sam_containers(), "SAM's container outlived Ctrl-C"
    print(f"stopped {time.monotonic() - stop_started:.1f} s after SIGINT")
