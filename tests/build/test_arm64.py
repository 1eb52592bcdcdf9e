"""The arm64 package, the one the template deploys by default, works on arm64.

The package is built exactly as `sam build` builds it for the template's default
architecture (functions/api/Makefile, target build-ApiFunction, LAMBDA_ARCH=aarch64:
manylinux aarch64 wheels). A wrong-platform or wrong-ABI wheel would otherwise first
show up as a failed deploy or a 502.

It then runs on an arm64 CPython 3.13 emulated by QEMU: a Debian trixie arm64 root
filesystem (infra/arm64_rootfs.py, cached between runs) entered with chroot, the package
mounted read-only at /var/task, `python3.13 -I -S -B` with only the package besides the
standard library. ONE process (the emulated import alone takes ~15 s) imports
`authapi.main` and then serves API Gateway HTTP API v2 events through the Lambda handler,
one at a time, against a moto server on loopback (a chroot shares the network). Each
native code path of the function is asserted, and its output is checked on this side
with the x86_64 libraries wherever the function stores or signs something:

* argon2id verify: a wrong and a right password at `/auth/login`; argon2id hash: a
  password change, whose stored hash the x86_64 argon2 verifies;
* Ed25519 sign: the mfa and access tokens, verified here; Ed25519 verify: the mfa token
  at `/auth/mfa/verify`, the access token at `GET /users/me`, a forged one refused;
* AES-GCM decrypt: the TOTP secret sealed here at `/auth/mfa/verify`; AES-GCM encrypt: a
  TOTP enrollment, whose stored secret is opened here, then confirmed there.

Needs root, QEMU user-mode emulation (binfmt_misc) and debootstrap: skipped locally when
the root filesystem cannot be made, a failure under CI (CI set); .ci/run installs them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pyotp
import pytest

from authapi.core import db
from authapi.core.config import Settings
from authapi.security import passwords, totp_secrets
from authapi.security.keys import load_signing_keys, load_totp_secret_keys
from authapi.security.tokens import TokenIssuer, TokenKind
from authapi.users import service
from bench import lambda_events
from bench.cold_start import health_event, lambda_environment
from bench.inprocess import create_enrolled_user
from infra.arm64_rootfs import PYTHON, TASK_DIR
from tests.build.support import build_package
from tests.support import PASSWORD

pytestmark = pytest.mark.arm64

NEW_PASSWORD = "a different passphrase 8Rt"
EM_AARCH64 = 183  # ELF e_machine
# The extension modules that the function's requests load, each of which must come
# from the package's aarch64 wheels.
NATIVE_MODULES = {
    "cryptography.hazmat.bindings._rust",  # Ed25519, AES-GCM
    "_argon2_cffi_bindings._ffi",  # argon2id
    "_cffi_backend",
    "pydantic_core._pydantic_core",
}
# The emulated process must not hang the suite; generous, the machine may be busy.
PROCESS_TIMEOUT = 900

# Runs as `python3.13 -I -S -B -c SERVE /var/task` in the chroot: one event per line on
# stdin, one answer per line on stdout, then (at end of input) a report. Standard
# library and the package only.
SERVE = (
    r"""
import json, platform, sys
sys.path.insert(0, sys.argv[1])
# The answers own stdout; whatever the function prints goes to stderr.
answers, sys.stdout = sys.stdout, sys.stderr

def send(value):
    answers.write(json.dumps(value) + "\n")
    answers.flush()

"""
    + lambda_events.CONTEXT_SOURCE
    + r"""
import authapi.main
send({"ready": True})
for line in sys.stdin:
    result = authapi.main.handler(json.loads(line), Context())
    send({"status": result["statusCode"], "body": result.get("body")})
send({
    "machine": platform.machine(),
    "extensions": {
        # vars(): reading __file__ as an attribute would run a module that waits for
        # its first use (authapi.core.lazy_imports).
        name: vars(module)["__file__"] for name, module in list(sys.modules.items())
        if (vars(module).get("__file__") or "").endswith(".so")
    },
})
"""
)
# In a private mount namespace, so the bind mount ends with the process, whatever happens.
MOUNT_AND_RUN = (
    f'mount --bind -o ro "$2" "$1/{TASK_DIR}"\n'
    f'exec chroot "$1" {PYTHON} -I -S -B -c "$3" /{TASK_DIR}\n'
)


class EmulatedFunction:
    """The Lambda function in one emulated arm64 process: `invoke` one event at a time."""

    def __init__(self, process: subprocess.Popen[str], stderr: IO[str]) -> None:
        self._process = process
        self._stderr = stderr

    def invoke(self, event: dict[str, Any]) -> tuple[int, Any]:
        """The handler's status code and JSON body (None if empty)."""
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(event) + "\n")
        self._process.stdin.flush()
        answer = self._receive()
        body = answer["body"]
        return answer["status"], json.loads(body) if body else None

    def finish(self) -> dict[str, Any]:
        """End the input; the process's report (its machine, extension modules)."""
        assert self._process.stdin is not None
        self._process.stdin.close()
        report = self._receive()
        assert self._process.wait() == 0, self._stderr_tail()
        return report

    def _receive(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            code = self._process.wait()
            pytest.fail(f"the emulated process ended ({code}):\n{self._stderr_tail()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        return "\n".join(self._stderr.read().splitlines()[-40:])


@contextmanager
def emulated_function(
    rootfs: Path, package: Path, env: dict[str, str], log: Path
) -> Iterator[EmulatedFunction]:
    """Start the process; it has imported `authapi.main` once this yields."""
    unshare = shutil.which("unshare")
    assert unshare is not None, "unshare (util-linux) is missing"
    command = [unshare, "--mount", "--propagation", "private", "--"]
    command += ["/bin/sh", "-euc", MOUNT_AND_RUN, "sh", str(rootfs), str(package), SERVE]
    with (
        log.open("w+", encoding="utf-8") as stderr,
        subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**env, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        ) as process,
    ):
        watchdog = threading.Timer(PROCESS_TIMEOUT, process.kill)
        watchdog.start()
        try:
            function = EmulatedFunction(process, stderr)
            assert function._receive() == {"ready": True}
            yield function
        finally:
            watchdog.cancel()
            # Popen's exit closes the pipes and waits; a process still running here
            # (a failed assertion) would keep it waiting.
            if process.poll() is None:
                process.kill()


@pytest.fixture(scope="module")
def package(runtime_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package("aarch64", runtime_python, tmp_path_factory)


def _elf_machine(path: Path) -> int | None:
    """e_machine of a 64-bit little-endian ELF file, else None."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if header[:6] != b"\x7fELF\x02\x01":
        return None
    return int.from_bytes(header[18:20], "little")


def test_every_native_library_is_aarch64(package: Path) -> None:
    libraries = [path for path in package.rglob("*.so*") if path.is_file()]
    machines = {str(path.relative_to(package)): _elf_machine(path) for path in libraries}
    assert {name: machine for name, machine in machines.items() if machine != EM_AARCH64} == {}
    top_level = {name.split("/")[0] for name in machines}
    assert top_level >= {"cryptography", "_argon2_cffi_bindings", "bcrypt", "pydantic_core"}


def _issuer(settings: Settings) -> TokenIssuer:
    return TokenIssuer(load_signing_keys(settings), settings.jwt_issuer, settings.jwt_audience)


def _post(path: str, body: dict[str, str], token: str | None = None) -> dict[str, Any]:
    return lambda_events.request("POST", path, json_body=body, token=token)


def test_sign_in_on_emulated_arm64(
    arm64_rootfs: Path, package: Path, server_aws: str, settings: Settings, tmp_path: Path
) -> None:
    db.bind(settings)
    user, secret = create_enrolled_user(settings, "arm64.user", PASSWORD)
    newcomer = service.create_user(
        settings, username="arm64.newcomer", email="arm64.newcomer@example.com", password=PASSWORD
    )
    issuer = _issuer(settings)
    # HOME inside the root filesystem, where there is no AWS configuration.
    env = lambda_environment(server_aws, Path("/root"), stage="test")
    log = tmp_path / "emulated-stderr.log"
    with emulated_function(arm64_rootfs, package, env, log) as function:
        assert function.invoke(health_event()) == (200, {"status": "ok"})

        # argon2id verify, both ways.
        status, body = function.invoke(lambda_events.login(user.username, PASSWORD + "x"))
        assert (status, body["code"]) == (401, "INVALID_CREDENTIALS")
        status, challenge = function.invoke(lambda_events.login(user.username, PASSWORD))
        assert status == 200, challenge
        assert challenge["mfa"] == "totp"
        # Ed25519 signed there, verified here.
        assert issuer.decode(TokenKind.MFA, challenge["mfa_token"])["sub"] == user.id

        # Ed25519 verify of the mfa token; AES-GCM decrypt of the TOTP secret sealed here.
        code = pyotp.TOTP(secret).now()
        status, tokens = function.invoke(
            _post("/auth/mfa/verify", {"mfa_token": challenge["mfa_token"], "code": code})
        )
        assert status == 200, tokens
        access = tokens["access_token"]
        assert issuer.decode(TokenKind.ACCESS, access)["sub"] == user.id

        # Ed25519 verify of the access token, and a forged signature refused.
        status, me = function.invoke(lambda_events.request("GET", "/users/me", token=access))
        assert status == 200, me
        assert (me["id"], me["username"], me["mfa_enabled"]) == (user.id, user.username, True)
        header, claims, signature = access.split(".")
        forged = f"{header}.{claims}.{signature[::-1]}"
        status, body = function.invoke(lambda_events.request("GET", "/users/me", token=forged))
        assert (status, body["code"]) == (401, "NOT_AUTHENTICATED")

        # argon2id verify of the current password and hash of the new one, which the
        # x86_64 argon2 verifies from the table.
        status, body = function.invoke(
            _post(
                "/users/me/password",
                {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                token=access,
            )
        )
        assert status == 200, body
        stored_hash = service.get_user(user.id).password_hash
        assert stored_hash.startswith("$argon2id$")
        assert passwords.verify_password(NEW_PASSWORD, stored_hash) == (True, None)

        # AES-GCM encrypt there: the enrollment's TOTP secret, opened here; then confirmed there.
        status, challenge = function.invoke(lambda_events.login(newcomer.username, PASSWORD))
        assert (status, challenge["mfa"]) == (200, "setup")
        mfa_token = challenge["mfa_token"]
        status, setup = function.invoke(_post("/auth/mfa/setup", {"mfa_token": mfa_token}))
        assert status == 200, setup
        sealed = service.get_user(newcomer.id).pending_totp_secret
        assert sealed is not None
        assert (
            totp_secrets.decrypt(load_totp_secret_keys(settings), sealed, newcomer.id)
            == setup["secret"]
        )
        code = pyotp.TOTP(setup["secret"]).now()
        status, enrolled = function.invoke(
            _post("/auth/mfa/setup/confirm", {"mfa_token": mfa_token, "code": code})
        )
        assert status == 200, enrolled
        assert len(enrolled["recovery_codes"]) == 10
        assert service.get_user(newcomer.id).totp_secret == sealed

        report = function.finish()

    assert report["machine"] == "aarch64"
    extensions: dict[str, str] = report["extensions"]
    assert set(extensions) >= NATIVE_MODULES
    for name in NATIVE_MODULES:
        assert extensions[name].startswith(f"/{TASK_DIR}/"), (name, extensions[name])
