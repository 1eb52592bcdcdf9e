"""`python -m infra.secrets`, run as an operator runs it, against a loopback moto server.

Protects the secrets script's promises: a stage's key sets (JWT signing keys, TOTP
secret keys) are created once as SSM SecureStrings from the OS CSPRNG, re-running never
overwrites them, --rotate appends a key, and no key is ever printed.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import boto3
import pytest

from infra.secrets import key_set_parameters
from tests.infra.support import run_script

STAGE = "test2"
# 256 bits are 43 URL-safe base64 characters.
MIN_KEY_CHARACTERS = 43
KEY_SETS = ["signing", "totp"]


def key_values(parameter_value: str) -> list[str]:
    return [entry["key"] for entry in json.loads(parameter_value)["keys"]]


def parameter(stage: str, which: str) -> str:
    return key_set_parameters(stage)[which]


def run_secrets(endpoint: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_script("infra.secrets", endpoint, "--stage", STAGE, *extra)


def line_about(name: str, output: str) -> str:
    lines = [line for line in output.splitlines() if name in line]
    assert len(lines) == 1, output
    return lines[0]


def read_parameter(name: str) -> dict[str, Any]:
    parameter: dict[str, Any] = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)[
        "Parameter"
    ]
    return parameter


@pytest.mark.parametrize("which", KEY_SETS)
def test_creates_each_key_set_once_and_never_prints_it(server_aws: str, which: str) -> None:
    """The first run creates a SecureString; the second reports that it exists and leaves
    its value unchanged; neither run prints a key."""
    name = parameter(STAGE, which)
    other_stage = read_parameter(parameter("test", which))

    first = run_secrets(server_aws)
    assert first.returncode == 0, first.stderr
    created = read_parameter(name)
    assert created["Type"] == "SecureString"
    [key] = key_values(created["Value"])
    assert len(key) >= MIN_KEY_CHARACTERS, "key shorter than 256 bits"
    assert "created" in line_about(name, first.stdout), first.stdout
    assert key not in first.stdout + first.stderr

    second = run_secrets(server_aws)
    assert second.returncode == 0, second.stderr
    assert "exists" in line_about(name, second.stdout), second.stdout
    assert "created" not in line_about(name, second.stdout), second.stdout
    assert key not in second.stdout + second.stderr
    after = read_parameter(name)
    assert after["Value"] == created["Value"]
    assert after["Version"] == created["Version"], "the parameter was rewritten"
    assert read_parameter(parameter("test", which)) == other_stage


@pytest.mark.parametrize("which", KEY_SETS)
def test_each_stage_gets_its_own_random_keys(server_aws: str, which: str) -> None:
    """Keys come from a CSPRNG: this stage's keys differ from the test stage's ones."""
    assert run_secrets(server_aws).returncode == 0
    assert key_values(read_parameter(parameter(STAGE, which))["Value"]) != key_values(
        read_parameter(parameter("test", which))["Value"]
    )


@pytest.mark.parametrize("which", KEY_SETS)
def test_rotate_appends_a_new_newest_key_and_keeps_the_old(server_aws: str, which: str) -> None:
    assert run_secrets(server_aws).returncode == 0
    [old] = key_values(read_parameter(parameter(STAGE, which))["Value"])
    rotated = run_secrets(server_aws, "--rotate", which)
    assert rotated.returncode == 0, rotated.stderr
    keys = key_values(read_parameter(parameter(STAGE, which))["Value"])
    assert keys[0] == old
    assert len(keys) == 2
    assert keys[1] != old
    assert not any(key in rotated.stdout + rotated.stderr for key in keys)
