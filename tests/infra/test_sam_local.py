"""What `make sam-local` hands to SAM, checked without Docker.

Protects the "no path to real AWS by accident" promise: SAM copies the credentials of
its own session and any declared variable found in its environment into the function's
container, so the environment SAM runs with must hold no credential of the developer's
and point SAM itself at the local endpoint; the function gets its endpoint from an
env-vars file, which SAM applies only to variables the template declares; and a
`sam local` command run by hand uses that same file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from infra.local import LOCAL_TABLE
from infra.sam_local import (
    ENV_VARS_FILE,
    FUNCTION_ID,
    REPO_ROOT,
    declared_variables,
    sam_environment,
    write_env_vars,
)
from infra.template import load_template
from tests.support import DEVELOPER_KEY_ID, DEVELOPER_SECRET

ENDPOINT = "http://127.0.0.1:4599"


@pytest.fixture
def developer_shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[work]\naws_access_key_id = {DEVELOPER_KEY_ID}\n"
        f"aws_secret_access_key = {DEVELOPER_SECRET}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DEVELOPER_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DEVELOPER_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "developer-session-token")
    monkeypatch.setenv("AWS_PROFILE", "work")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.eu-west-1.amazonaws.com")
    monkeypatch.setenv("TABLE_NAME", "production-users")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")


@pytest.mark.usefixtures("developer_shell")
def test_sam_runs_with_dummy_credentials_and_the_local_endpoint_only() -> None:
    environment = sam_environment(ENDPOINT)

    assert {name for name in environment if name.startswith("AWS_")} == {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_ENDPOINT_URL",
    }
    assert environment["AWS_ENDPOINT_URL"] == ENDPOINT
    # SAM passes a declared variable found in its environment on to the function: only
    # the endpoint is left, local too (and the env-vars file's value comes first).
    assert declared_variables() & set(environment) == {"AWS_ENDPOINT_URL"}
    assert environment["PATH"] == os.environ["PATH"]


@pytest.mark.usefixtures("developer_shell")
def test_sams_own_session_sees_only_the_dummy_credentials() -> None:
    """The credentials SAM copies into the container are its boto3 session's."""
    probe = (
        "import boto3, json; session = boto3.session.Session();"
        " credentials = session.get_credentials();"
        " print(json.dumps([credentials.access_key, credentials.secret_key, credentials.token,"
        " session.client('sts').meta.endpoint_url]))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe],
        env=sam_environment(ENDPOINT),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(shown.stdout) == ["testing", "testing", None, ENDPOINT]


def test_the_env_vars_file_sets_the_functions_endpoint_table_and_relying_party(
    tmp_path: Path,
) -> None:
    written = json.loads(write_env_vars(tmp_path / "env.json", ENDPOINT, 3001).read_text())
    assert written == {
        FUNCTION_ID: {
            "AWS_ENDPOINT_URL": ENDPOINT,
            "TABLE_NAME": LOCAL_TABLE,
            # Passkeys need a host name: the page is served at http://localhost:PORT.
            "WEBAUTHN_RP_ID": "localhost",
            "WEBAUTHN_ORIGINS": "http://localhost:3001",
        }
    }
    # SAM applies an env-vars file only to variables the template declares.
    assert set(written[FUNCTION_ID]) <= declared_variables()


def test_the_template_declares_the_endpoint_without_setting_it_in_aws() -> None:
    """AWS_ENDPOINT_URL is AWS::NoValue: CloudFormation drops it, so a deployed function
    uses AWS's endpoints, while `sam local` sees it declared and applies --env-vars. No
    variable depends on a condition: SAM does not evaluate Fn::If and passes "" instead."""
    variables = load_template()["Resources"][FUNCTION_ID]["Properties"]["Environment"]
    assert variables["Variables"]["AWS_ENDPOINT_URL"] == {"Ref": "AWS::NoValue"}
    assert "Fn::If" not in json.dumps(variables)


def test_sam_local_commands_run_by_hand_use_the_local_env_vars_file() -> None:
    config = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    expected = str(ENV_VARS_FILE.relative_to(REPO_ROOT))
    for command in ("local_start_api", "local_invoke", "local_start_lambda"):
        assert config["default"][command]["parameters"]["env_vars"] == expected, command


@pytest.mark.parametrize(
    ("lambda_arch", "architecture"),
    [("x86_64", "x86_64"), ("aarch64", "arm64"), ("arm64", "arm64")],
)
def test_make_build_tells_sam_the_architecture_it_builds(
    lambda_arch: str, architecture: str
) -> None:
    """`make build LAMBDA_ARCH=x86_64` (which `make sam-local` runs on x86_64) once let
    SAM say, and read the template as, "architecture: arm64"."""
    planned = subprocess.run(
        ["make", "-n", "--no-print-directory", "build", f"LAMBDA_ARCH={lambda_arch}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"--parameter-overrides Architecture={architecture}" in planned.stdout
    allowed = load_template()["Parameters"]["Architecture"]["AllowedValues"]
    assert architecture in allowed
