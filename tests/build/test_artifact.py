"""The deployment package is complete: it runs on the runtime Python with nothing else.

The package is built the way `sam build` builds it (functions/api/Makefile, target
build-ApiFunction), for x86_64 so that this machine can run it, into a temporary
directory (the arm64 package, which the template deploys by default, runs under
emulation in test_arm64.py). A CPython 3.13 process (the Lambda runtime's version) then
starts isolated (`-I -S`: no project venv, no site-packages, no PYTHON* variables) with
only the package on sys.path, imports `authapi.main` and calls `handler(event, context)`
with API Gateway HTTP API v2 events. A dependency that the dev venv happens to provide
but pyproject.toml does not declare fails here, not in production.

Skipped when no CPython 3.13 is found, except under CI (CI set), where that fails.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from authapi.core import db
from authapi.core.config import Settings
from authapi.security.password_policy import MIN_COMMON_PASSWORDS
from authapi.users import service
from bench.cold_start import (
    health_event,
    lambda_environment,
    login_event,
    run_isolated,
    tree_size,
    zipped_size,
)
from bench.lambda_events import request
from bench.report import mib
from tests.build.support import build_package
from tests.support import PASSWORD, Clock, Directory

pytestmark = pytest.mark.build

# AWS Lambda quotas for a .zip deployment package.
MAX_UNZIPPED = 262_144_000
MAX_ZIPPED_DIRECT_UPLOAD = 50 * 1024 * 1024
# What the function needs at run time, each of which must load from the package.
RUNTIME_PACKAGES = {"authapi", "fastapi", "mangum", "pynamodb", "botocore", "cryptography"}
# A password checked: the first step of a sign-in (pyotp waits for the second).
LOGIN_PACKAGES = {"passlib", "argon2", "_argon2_cffi_bindings"}
# Loaded only by the requests that need them (a cold start serving anything else never
# pays for them): the QR code of an enrollment, the common-password list of a new
# password, passlib's bcrypt handler for a legacy hash. pydantic.v1 is not in the package
# at all. (The bcrypt library itself loads at import: PyJWT imports cryptography's SSH
# key support, which imports bcrypt when it is installed.)
LOADED_ON_FIRST_USE = {"segno", "zxcvbn", "passlib.handlers.bcrypt", "pydantic.v1"}
# Shipped by dependencies but never imported by the function (functions/api/Makefile).
PRUNED = (
    *("dns", "pydantic/v1", "boto3", "pip", "setuptools", "bin"),
    "urllib3/contrib/pyopenssl.py",
)
# Shipped and needed, but not by a cold start that serves an authenticated read:
# pyOpenSSL (webauthn's attestation certificate chains), which botocore would load
# through urllib3's pruned bridge; anyio's worker threads, which a request served
# through Mangum never needs (authapi.core.blocking); password hashing, which
# loads with the first sign-in (authapi.security.passwords); cryptography's X.509
# package and email-validator, which PyJWT and FastAPI import without using them
# (authapi/__init__.py); pyotp, which loads with the first TOTP check.
NOT_LOADED_BY_AN_AUTHENTICATED_READ = {
    *("OpenSSL", "urllib3.contrib.pyopenssl", "anyio._backends"),
    *("passlib", "argon2", "_argon2_cffi_bindings"),
    *("cryptography.x509", "email_validator", "pyotp"),
}
DOCS_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")


@pytest.fixture(scope="module")
def package(runtime_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package("x86_64", runtime_python, tmp_path_factory)


def _top_level(modules: list[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_package_size_and_contents(
    package: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unzipped = tree_size(package)
    zipped = zipped_size(package, tmp_path)
    with capsys.disabled():
        print(f"\nApiFunction package (x86_64): {mib(unzipped)} unzipped, {mib(zipped)} zipped")
    assert unzipped < MAX_UNZIPPED
    assert zipped < MAX_ZIPPED_DIRECT_UPLOAD
    static = package / "authapi" / "account" / "static"
    assert {path.name for path in static.iterdir()} >= {
        "account.html",
        "account.css",
        "account.js",
    }
    # Only the API models of the services the function calls ship (the rest is ~28 MiB
    # that every client creation would list); the calls themselves are exercised below.
    models = {path.name for path in (package / "botocore" / "data").iterdir() if path.is_dir()}
    assert models == {"dynamodb", "ssm", "sts"}
    assert (package / "botocore" / "data" / "endpoints.json").is_file()
    # SSM's model holds the one operation the function calls (infra.prune_api_model);
    # test_login_against_dynamodb_and_ssm makes that call from the package.
    [ssm_model] = (package / "botocore" / "data" / "ssm").glob("*/service-2.json.gz")
    assert set(json.loads(gzip.decompress(ssm_model.read_bytes()))["operations"]) == {
        "GetParameters"
    }
    for pruned in PRUNED:
        assert not (package / pruned).exists(), pruned
    # Of zxcvbn, only the password list (imported as a namespace package).
    assert {path.name for path in (package / "zxcvbn").glob("*.py")} == {"frequency_lists.py"}
    assert {path.name for path in (package / "fastapi_offline" / "static").iterdir()} == set(
        DOCS_ASSETS
    )
    uncompiled = [
        str(source.relative_to(package))
        for source in package.rglob("*.py")
        if not (source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc").is_file()
    ]
    assert uncompiled == []


def test_health_without_aws(runtime_python: Path, package: Path, home: Path) -> None:
    run = run_isolated(
        runtime_python, package, "handler", lambda_environment(None, home), [health_event()]
    )
    [response] = run.report["responses"]
    assert response["status"] == 200, response
    assert json.loads(response["body"]) == {"status": "ok"}
    assert run.report["outside"] == []
    assert _top_level(run.report["modules"]) >= RUNTIME_PACKAGES
    assert not _loaded(run.report["modules"], LOADED_ON_FIRST_USE)


def _loaded(modules: list[str], names: set[str]) -> set[str]:
    return {name for name in modules for prefix in names if f"{name}.".startswith(f"{prefix}.")}


def test_docs_and_their_assets_from_the_package(
    runtime_python: Path, package: Path, home: Path
) -> None:
    """Swagger UI and ReDoc with the assets that remain after pruning."""
    paths = ["/docs", "/redoc", *(f"/docs-assets/{name}" for name in DOCS_ASSETS)]
    events = [request("GET", path) for path in paths]
    run = run_isolated(runtime_python, package, "handler", lambda_environment(None, home), events)
    statuses = [response["status"] for response in run.report["responses"]]
    assert dict(zip(paths, statuses, strict=True)) == dict.fromkeys(paths, 200)


def test_common_password_list_from_the_package(runtime_python: Path, package: Path) -> None:
    """The password policy's list loads from zxcvbn's pruned remains alone."""
    check = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from authapi.security.password_policy import common_passwords;"
        "entries = common_passwords();"
        "print(len(entries), 'password' in entries, 'zxcvbn.matching' in sys.modules)"
    )
    done = subprocess.run(
        [str(runtime_python), "-I", "-S", "-B", "-c", check, str(package)],
        capture_output=True,
        text=True,
        check=True,
    )
    count, has_password, matching_loaded = done.stdout.split()
    assert int(count) >= MIN_COMMON_PASSWORDS
    assert (has_password, matching_loaded) == ("True", "False")


def test_login_against_dynamodb_and_ssm(
    runtime_python: Path, package: Path, home: Path, server_aws: str, settings: Settings
) -> None:
    db.bind(settings)
    user = service.create_user(
        settings, username="artifact.check", email="artifact.check@example.com", password=PASSWORD
    )
    run = run_isolated(
        runtime_python,
        package,
        "handler",
        lambda_environment(server_aws, home, stage="test"),
        [login_event(user.username, PASSWORD + "x"), login_event(user.username, PASSWORD)],
    )
    wrong, right = run.report["responses"]
    assert (wrong["status"], json.loads(wrong["body"])["code"]) == (401, "INVALID_CREDENTIALS")
    # The correct password reaches the second step: an MFA token signed with the
    # Ed25519 key from SSM (cryptography and pyjwt from the package).
    assert right["status"] == 200, right
    assert json.loads(right["body"])["mfa_token"]
    assert run.report["outside"] == []
    assert _top_level(run.report["modules"]) >= RUNTIME_PACKAGES | LOGIN_PACKAGES
    assert not _loaded(run.report["modules"], LOADED_ON_FIRST_USE)
    # The login route is a plain `def`: through Mangum it runs in place, and no worker
    # thread is started for it (authapi.core.blocking).
    assert not _loaded(run.report["modules"], {"anyio._backends"})


def test_an_authenticated_read_loads_only_what_it_needs(
    runtime_python: Path,
    package: Path,
    home: Path,
    server_aws: str,
    server_client: TestClient,
    settings: Settings,
    clock: Clock,
) -> None:
    """A cold start's `GET /users/me` through the Lambda handler: the user is read in
    place (no anyio worker thread), no AWS client loads pyOpenSSL and no password
    hashing loads (see NOT_LOADED_BY_AN_AUTHENTICATED_READ)."""
    account = Directory(server_client, settings, clock).user()
    run = run_isolated(
        runtime_python,
        package,
        "handler",
        lambda_environment(server_aws, home, stage="test"),
        [request("GET", "/users/me", token=account.tokens["access_token"])],
    )
    [response] = run.report["responses"]
    assert response["status"] == 200, response
    assert json.loads(response["body"])["username"] == account.username
    assert run.report["outside"] == []
    assert not _loaded(run.report["modules"], NOT_LOADED_BY_AN_AUTHENTICATED_READ)
    assert not _loaded(run.report["modules"], LOADED_ON_FIRST_USE)
