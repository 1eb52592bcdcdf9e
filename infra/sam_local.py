"""`make run`, but the API is the built Lambda package under `sam local start-api`.

    make sam-local      (or: .venv/bin/python -m infra.sam_local)

One command: the embedded local AWS of `make run` (moto with its write lock, the table
from template.yaml, the key sets, the admin with its otpauth:// URI and QR code), a
`sam build` for this machine's architecture, and `sam local start-api` on
http://127.0.0.1:${PORT:-3000} with warm containers. Needs a Docker engine. The function
runs in AWS's Lambda base image when it is present or can be pulled, otherwise in an
offline stand-in (infra/lambda_base_image.py), and says which. Ctrl-C stops SAM (which
removes its containers) and the local AWS. docs/sam-local.md has the details.

Nothing here can reach real AWS: the function's AWS_ENDPOINT_URL comes from an env-vars
file that points at the local moto, and SAM itself (which copies its own credentials
into the container, and calls STS) runs with dummy credentials, the same endpoint and
none of this shell's AWS_* variables.

Environment: the same as `make run` (ADMIN_USERNAME, ADMIN_EMAIL, ADMIN_PASSWORD,
MOTO_PORT), and PORT (3000).
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from infra.lambda_base_image import (
    Architecture,
    build,
    image_exists,
    official_image,
    stand_in_image,
    this_machine,
)
from infra.local import LOCAL_REGION, LOCAL_STAGE, LOCAL_TABLE, embedded_aws, seed_local_admin
from infra.seed_admin import print_admin
from infra.template import load_template

REPO_ROOT = Path(__file__).resolve().parent.parent
SAM = REPO_ROOT / ".venv-sam/bin/sam"
BUILT_TEMPLATE = REPO_ROOT / ".aws-sam/build/template.yaml"
# samconfig.toml names this file for every `sam local` command, so that one run by hand
# also points the function at a local endpoint (or fails when there is none).
ENV_VARS_FILE = REPO_ROOT / ".aws-sam/local-env.json"
FUNCTION_ID = "ApiFunction"
DEFAULT_PORT = 3000
# Docker Desktop (macOS, Windows) routes this name to the host's loopback; its bridge
# address is inside a VM, not on this machine.
DOCKER_DESKTOP_HOST = "host.docker.internal"
STOP_TIMEOUT_SECONDS = 30


def docker_bridge_address() -> str | None:
    """The host's address on Docker's default bridge, or None if Docker is not usable.

    The bridge's Gateway when Docker reports one, else (Docker 20.10 leaves it out for
    the default bridge) the first address of its subnet, which Docker gives the host.
    """
    try:
        found = subprocess.run(
            ["docker", "network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if found.returncode != 0:
        return None
    for config in json.loads(found.stdout) or []:
        if config.get("Gateway"):
            return str(config["Gateway"])
        if config.get("Subnet"):
            return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))
    return None


def is_local_address(address: str) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def declared_variables() -> set[str]:
    """The function's environment variables in template.yaml."""
    function = load_template()["Resources"][FUNCTION_ID]
    return set(function["Properties"]["Environment"]["Variables"])


def sam_environment(endpoint: str) -> dict[str, str]:
    """This process's environment for SAM, minus anything that could reach real AWS.

    SAM copies the credentials of its own session (environment, profile, instance role)
    into the container, and the value of any declared variable found in its environment.
    So every AWS_* variable and every declared name goes; SAM gets dummy credentials,
    no config or credentials file, and the local endpoint for its own calls (STS, which
    otherwise costs every command a 5 s wait offline).
    """
    dropped = declared_variables()
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in dropped
    }
    environment.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": LOCAL_REGION,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": endpoint,
            "SAM_CLI_TELEMETRY": "0",
        }
    )
    return environment


def write_env_vars(path: Path, function_endpoint: str, api_port: int = DEFAULT_PORT) -> Path:
    """The env-vars file: the function's endpoint and table (SAM resolves the rest from
    the template with StageName=local), and the passkeys' relying party: `localhost`,
    as in `make run`. Left to the request, it would be the address the browser used, and
    passkeys never work on an IP address such as 127.0.0.1."""
    path.parent.mkdir(parents=True, exist_ok=True)
    variables = {
        "AWS_ENDPOINT_URL": function_endpoint,
        "TABLE_NAME": LOCAL_TABLE,
        "WEBAUTHN_RP_ID": "localhost",
        "WEBAUTHN_ORIGINS": f"http://localhost:{api_port}",
    }
    path.write_text(json.dumps({FUNCTION_ID: variables}, indent=2) + "\n", encoding="utf-8")
    return path


def local_options(arch: Architecture, env_vars: Path, image: str | None) -> list[str]:
    """What every `sam local` command of this run takes (start-api, invoke)."""
    options = [
        "--template",
        str(BUILT_TEMPLATE),
        "--env-vars",
        str(env_vars),
        "--parameter-overrides",
        f"Architecture={arch.lambda_name} StageName={LOCAL_STAGE}",
        # The image is local (present, just pulled or just built): no registry round trip.
        "--skip-pull-image",
    ]
    if image is not None:
        options += ["--invoke-image", image]
    return options


def choose_base_image(arch: Architecture) -> str | None:
    """None for AWS's image (present or pulled), else the stand-in's name (built if needed)."""
    official = official_image(arch)
    if image_exists(official):
        print(f"Lambda base image: {official}")
        return None
    pulled = subprocess.run(
        ["docker", "pull", "--quiet", official], capture_output=True, text=True, check=False
    )
    if pulled.returncode == 0:
        print(f"Lambda base image: {official} (pulled)")
        return None
    reason = (pulled.stderr.strip().splitlines() or ["docker pull failed"])[-1]
    stand_in = stand_in_image(arch)
    if not image_exists(stand_in):
        print(
            f"Cannot pull {official} ({reason}).\n"
            f"Building a stand-in instead (make lambda-base-image), once:",
            flush=True,
        )
        build(arch)
    print(
        f"Lambda base image: {stand_in}, a stand-in for {official}, which cannot be pulled:\n"
        "  Debian's CPython 3.13 and glibc, not Amazon Linux's (docs/sam-local.md)."
    )
    return stand_in


def build_package(arch: Architecture, environment: dict[str, str]) -> None:
    print(f"Building the Lambda package for {arch.lambda_name} (make build)", flush=True)
    subprocess.run(
        ["make", "--no-print-directory", "build", f"LAMBDA_ARCH={arch.wheel}"],
        cwd=REPO_ROOT,
        env=environment,
        check=True,
    )


class Terminated(Exception):
    """SIGTERM: unlike Ctrl-C in a terminal, it reached this process only."""


def on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def stop(sam: subprocess.Popen[bytes], signalled: bool) -> None:
    """Let SAM stop its warm containers (SAM handles SIGTERM as it does Ctrl-C); SIGTERM
    unless the terminal's SIGINT already reached it, again, then SIGKILL if it hangs."""
    if not signalled:
        sam.send_signal(signal.SIGTERM)
    for escalation in (signal.SIGTERM, signal.SIGKILL):
        try:
            sam.wait(timeout=STOP_TIMEOUT_SECONDS / 2)
            return
        except subprocess.TimeoutExpired:
            sam.send_signal(escalation)
    sam.wait()


def sam_containers() -> set[str]:
    """The ids of every container SAM made (SAM labels them), running or not."""
    listed = subprocess.run(
        [
            "docker",
            "ps",
            "--all",
            "--quiet",
            "--no-trunc",
            "--filter",
            "label=sam.cli.container.type",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return set(listed.stdout.split())


def container_environment(container: str) -> dict[str, str]:
    inspected = subprocess.run(
        ["docker", "inspect", "--format", "{{json .Config.Env}}", container],
        capture_output=True,
        text=True,
        check=False,
    )
    entries: list[str] = json.loads(inspected.stdout or "[]")
    return dict(entry.split("=", 1) for entry in entries)


def remove_leftover_containers(function_endpoint: str) -> None:
    """Remove any container of this run that SAM left behind (it was killed, say): the
    ones whose AWS_ENDPOINT_URL is this run's, which no other run shares."""
    for container in sam_containers():
        if container_environment(container).get("AWS_ENDPOINT_URL") == function_endpoint:
            subprocess.run(["docker", "rm", "--force", container], capture_output=True, check=False)


def serve(command: list[str], environment: dict[str, str], function_endpoint: str) -> int:
    """Run SAM until it exits, Ctrl-C or SIGTERM; then no container of this run is left."""
    sam = subprocess.Popen(command, cwd=REPO_ROOT, env=environment)
    try:
        status = sam.wait()
        return 128 - status if status < 0 else status  # killed by a signal: the shell's code
    except KeyboardInterrupt:
        # Ctrl-C in a terminal reaches the whole process group, SAM included.
        stop(sam, signalled=True)
        return 0
    except Terminated:
        stop(sam, signalled=False)
        return 0
    finally:
        if sam.poll() is None:
            stop(sam, signalled=False)
        remove_leftover_containers(function_endpoint)


def main() -> int:
    # Ctrl-C must work even where this process was started with SIGINT ignored (a
    # background job of a script), and SAM, started from here, then handles it too.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        return run()
    except (KeyboardInterrupt, Terminated):
        return 130  # stopped while starting; the local AWS has stopped with it


def run() -> int:
    port = int(os.environ.get("PORT", str(DEFAULT_PORT)))
    arch = this_machine()
    bridge = docker_bridge_address()
    if bridge is None:
        print(
            "make sam-local needs a running Docker engine (`docker network inspect bridge`"
            " failed). `make run` serves the same API without Docker.",
            file=sys.stderr,
        )
        return 2
    # moto listens on loopback and, where the bridge address is this machine's (Linux),
    # on that address too: containers reach it there, and no other network can.
    on_this_machine = is_local_address(bridge)
    hosts = ("127.0.0.1", bridge) if on_this_machine else ("127.0.0.1",)
    with embedded_aws(hosts) as endpoint:
        admin = seed_local_admin()  # first: a weak ADMIN_PASSWORD fails before the build
        if admin is None:
            return 2
        environment = sam_environment(endpoint)
        try:
            build_package(arch, environment)
            image = choose_base_image(arch)
        except subprocess.CalledProcessError as exc:
            print(f"`{' '.join(map(str, exc.cmd))}` failed ({exc.returncode})", file=sys.stderr)
            return 2
        function_host = bridge if on_this_machine else DOCKER_DESKTOP_HOST
        function_endpoint = f"http://{function_host}:{endpoint.rsplit(':', 1)[1]}"
        env_vars = write_env_vars(ENV_VARS_FILE, function_endpoint, port)
        print(f"Local AWS (moto, in memory) at {endpoint} (the function: {function_host})")
        print_admin(admin, as_json=False)
        print(
            f"\nAPI: http://127.0.0.1:{port}  Swagger UI: http://127.0.0.1:{port}/docs\n"
            f"Account page (passkeys work at this address): http://localhost:{port}/account\n"
            "(sam local start-api, ready when SAM prints 'Running on'). All data lives in"
            " memory and is gone when you press Ctrl-C.",
            flush=True,
        )
        command = [
            str(SAM),
            "local",
            "start-api",
            *local_options(arch, env_vars, image),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--warm-containers",
            "EAGER",
        ]
        return serve(command, environment, function_endpoint)


if __name__ == "__main__":
    sys.exit(main())
