"""`python -m infra.secrets`, run as an operator runs it, against a loopback moto server.

Protects the secrets script's promises: a stage's signing key is created once as an
SSM SecureString from the OS CSPRNG, re-running never overwrites it, and its value is
never printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

from infra.secrets import signing_key_parameter

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGE = "test2"
# 256 bits, the minimum for an HS256 key, is 43 URL-safe base64 characters.
MIN_KEY_CHARACTERS = 43


def run_secrets(endpoint: str) -> subprocess.CompletedProcess[str]:
    """The script in a fresh interpreter; the endpoint comes only from its command line."""
    env = dict(os.environ)
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.secrets",
            "--stage",
            STAGE,
            "--endpoint-url",
            endpoint,
            "--region",
            "us-east-1",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def line_about(name: str, output: str) -> str:
    lines = [line for line in output.splitlines() if name in line]
    assert len(lines) == 1, output
    return lines[0]


def read_parameter(name: str) -> dict[str, Any]:
    parameter: dict[str, Any] = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)[
        "Parameter"
    ]
    return parameter


def test_creates_the_signing_key_once_and_never_prints_it(server_aws: str) -> None:
    """The first run creates a SecureString; the second reports that it exists and leaves
    its value unchanged; neither run prints the value."""
    name = signing_key_parameter(STAGE)
    other_stage = read_parameter(signing_key_parameter("test"))

    first = run_secrets(server_aws)
    assert first.returncode == 0, first.stderr
    created = read_parameter(name)
    assert created["Type"] == "SecureString"
    value = created["Value"]
    assert len(value) >= MIN_KEY_CHARACTERS, "key too short for HS256"
    assert "created" in line_about(name, first.stdout), first.stdout
    assert value not in first.stdout + first.stderr

    second = run_secrets(server_aws)
    assert second.returncode == 0, second.stderr
    assert "exists" in line_about(name, second.stdout), second.stdout
    assert "created" not in line_about(name, second.stdout), second.stdout
    assert value not in second.stdout + second.stderr
    after = read_parameter(name)
    assert after["Value"] == value
    assert after["Version"] == created["Version"], "the parameter was rewritten"
    assert read_parameter(signing_key_parameter("test")) == other_stage


def test_each_stage_gets_its_own_random_key(server_aws: str) -> None:
    """Keys come from a CSPRNG: this stage's key differs from the test stage's one."""
    assert run_secrets(server_aws).returncode == 0
    assert (
        read_parameter(signing_key_parameter(STAGE))["Value"]
        != read_parameter(signing_key_parameter("test"))["Value"]
    )
