"""End to end: the README's run command (`make run`), driven over real HTTP.

Protects the "Tools outside HTTP / Local run" part of the contract (API.md): one command
starts the API on 127.0.0.1 with an embedded local AWS and a seeded admin whose
otpauth:// URI is printed on a line of its own, the whole login and user-management
walk works against it, and Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx2
import pyotp
import pytest

from infra.local import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "e2e first operator passphrase 7Qx"
USER_PASSWORD = "e2e user passphrase, long enough 3Kz"
START_TIMEOUT_SECONDS = 90.0
STOP_TIMEOUT_SECONDS = 20.0
URI_TIMEOUT_SECONDS = 5.0
TOTP_STEP_SECONDS = 30
# The user's three logins below use the codes of the previous, current and next step
# (one step of drift is allowed); they need this much time left in the current step.
STEP_MARGIN_SECONDS = 10.0
OTPAUTH_LINE = re.compile(r"otpauth://totp/\S+")

pytestmark = pytest.mark.e2e


class LocalRun:
    """`make run` (or another `command`) in its own process group, its merged output
    collected line by line."""

    def __init__(
        self,
        port: int,
        command: Sequence[str] = ("make", "run"),
        start_timeout: float = START_TIMEOUT_SECONDS,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        env = dict(os.environ)
        for name in ("AWS_ENDPOINT_URL", "ADMIN_USERNAME", "ADMIN_EMAIL", "MOTO_PORT"):
            env.pop(name, None)
        env.update({"PORT": str(port), "ADMIN_PASSWORD": ADMIN_PASSWORD, **(extra_env or {})})
        self.command = " ".join(command)
        self.start_timeout = start_timeout
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            list(command),
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\r\n"))

    def output(self, last: int = 60) -> str:
        with self._lock:
            return "\n".join(self.lines[-last:])

    def wait_until_healthy(self) -> float:
        """Seconds from the start of the command to the first 200 from /health."""
        deadline = self.started_at + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"`{self.command}` exited early ({self.process.returncode}):\n{self.output()}"
                )
            try:
                if httpx2.get(f"{self.base_url}/health", timeout=2.0).status_code == 200:
                    return time.monotonic() - self.started_at
            except httpx2.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"/health did not answer within {self.start_timeout} s:\n{self.output()}")

    def otpauth_uri(self) -> str:
        """The admin's otpauth:// URI, printed on a line of its own."""
        deadline = time.monotonic() + URI_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with self._lock:
                found = [line for line in self.lines if OTPAUTH_LINE.fullmatch(line)]
            if found:
                assert len(found) == 1, found
                return found[0]
            time.sleep(0.1)
        pytest.fail(f"no otpauth:// URI on a line of its own:\n{self.output(200)}")

    def finish_reading(self) -> None:
        """Wait for the rest of the output once the process has exited."""
        self._reader.join(timeout=5.0)

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def interrupt(self, stop_timeout: float = STOP_TIMEOUT_SECONDS) -> str:
        """Ctrl-C (SIGINT to the whole process group, as a terminal sends it); asserts that
        every process of the group ends and the port closes, and returns what the command
        printed while stopping, which must hold no traceback."""
        lines_before_stop = len(self.lines)
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {stop_timeout} s after SIGINT:\n{self.output()}")
        deadline = time.monotonic() + 5.0
        while self.group_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not self.group_alive(), f"a process of `{self.command}` outlived Ctrl-C"
        assert not accepts_connections(self.port), "the API port still accepts connections"
        self.finish_reading()
        shutdown_output = "\n".join(self.lines[lines_before_stop:])
        assert "Traceback" not in shutdown_output, shutdown_output
        return shutdown_output

    def kill(self) -> None:
        if self.group_alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        finally:
            self.finish_reading()
            if self.process.stdout is not None and not self._reader.is_alive():
                self.process.stdout.close()


@pytest.fixture
def local_run() -> Iterator[LocalRun]:
    run = LocalRun(free_port())
    try:
        yield run
    finally:
        run.kill()


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def code_at(secret: str, steps_from_now: int) -> str:
    return pyotp.TOTP(secret).at(time.time() + steps_from_now * TOTP_STEP_SECONDS)


def wait_for_step_margin() -> None:
    """Sleep into the next TOTP step only when the current one is about to end."""
    left = TOTP_STEP_SECONDS - time.time() % TOTP_STEP_SECONDS
    if left < STEP_MARGIN_SECONDS:
        time.sleep(left + 0.5)


def ok(response: httpx2.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json() if response.content else None


def assert_error(response: httpx2.Response, status: int, code: str) -> None:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    assert response.json()["code"] == code, response.text


def assert_tokens(body: dict[str, Any]) -> None:
    assert body["token_type"] == "bearer", body
    assert body["access_token"], body
    assert body["refresh_token"], body


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_make_run_serves_the_whole_walk_and_stops_on_ctrl_c(local_run: LocalRun) -> None:
    """`make run` starts the API with a seeded, TOTP-enrolled admin; an admin creates a
    user who enrolls TOTP, signs in both ways and edits their profile, with roles
    enforced; Ctrl-C (SIGINT to the process group) stops the API and the local AWS."""
    startup = local_run.wait_until_healthy()
    print(f"\nlocal start-up (make run -> first /health 200): {startup:.2f} s")
    uri = local_run.otpauth_uri()
    admin_totp = pyotp.parse_uri(uri)
    assert isinstance(admin_totp, pyotp.TOTP), uri
    assert "admin" in uri, uri

    with httpx2.Client(base_url=local_run.base_url, timeout=15.0) as http:
        assert ok(http.get("/health")) == {"status": "ok"}

        # Step 2: the admin signs in with the OAuth2 password grant (password + code).
        admin_tokens = ok(
            http.post(
                "/token",
                data={"username": "admin", "password": ADMIN_PASSWORD + admin_totp.now()},
            )
        )
        assert_tokens(admin_tokens)
        admin_me = ok(http.get("/users/me", headers=bearer(admin_tokens)))
        assert admin_me["username"] == "admin", admin_me
        assert admin_me["role"] == "admin", admin_me
        assert admin_me["mfa_enabled"] is True, admin_me
        docs = http.get("/docs")
        assert docs.status_code == 200, docs.text
        assert docs.headers["content-type"].startswith("text/html"), docs.headers
        assert "swagger" in docs.text.lower(), docs.text[:500]
        assert "/token" in ok(http.get("/openapi.json"))["paths"]

        # Step 3: the admin creates a user, who enrolls TOTP at first login.
        created = http.post(
            "/users",
            headers=bearer(admin_tokens),
            json={"username": "Alice", "email": "alice@example.com", "password": USER_PASSWORD},
        )
        alice = ok(created, 201)
        assert alice["username"] == "alice", alice
        assert alice["role"] == "user", alice
        assert created.headers["location"].endswith(f"/users/{alice['id']}"), created.headers
        first = ok(http.post("/auth/login", json={"username": "alice", "password": USER_PASSWORD}))
        assert first["mfa"] == "setup", first
        setup = ok(http.post("/auth/mfa/setup", json={"mfa_token": first["mfa_token"]}))
        assert setup["otpauth_uri"].startswith("otpauth://totp/"), setup
        assert "<svg" in setup["qr_svg"], setup["qr_svg"][:200]
        secret = setup["secret"]
        assert pyotp.parse_uri(setup["otpauth_uri"]).secret == secret

        wait_for_step_margin()
        confirmed = ok(
            http.post(
                "/auth/mfa/setup/confirm",
                json={"mfa_token": first["mfa_token"], "code": code_at(secret, -1)},
            )
        )
        assert_tokens(confirmed)
        assert len(confirmed["recovery_codes"]) == 10, confirmed
        assert len(set(confirmed["recovery_codes"])) == 10, confirmed

        # The user signs in again, two-step with the current code ...
        second = ok(http.post("/auth/login", json={"username": "alice", "password": USER_PASSWORD}))
        assert second["mfa"] == "totp", second
        current_code = code_at(secret, 0)
        verified = ok(
            http.post(
                "/auth/mfa/verify", json={"mfa_token": second["mfa_token"], "code": current_code}
            )
        )
        assert_tokens(verified)
        # ... that code is spent now, even on the other login path ...
        replay = http.post(
            "/token", data={"username": "alice", "password": USER_PASSWORD + current_code}
        )
        assert_error(replay, 400, "INVALID_CREDENTIALS")  # RFC 6749 §5.2 invalid_grant
        assert replay.json()["error"] == "invalid_grant", replay.text
        # ... and the password grant works with the next step's code.
        user_tokens = ok(
            http.post(
                "/token",
                data={"username": "alice", "password": USER_PASSWORD + code_at(secret, 1)},
            )
        )
        assert_tokens(user_tokens)

        # Step 4: the user's own profile; admin-only routes and roles.
        user_headers = bearer(user_tokens)
        me = ok(http.get("/users/me", headers=user_headers))
        assert (me["id"], me["username"], me["role"]) == (alice["id"], "alice", "user"), me
        patched = ok(http.patch("/users/me", headers=user_headers, json={"full_name": "Alice A."}))
        assert patched["full_name"] == "Alice A.", patched
        put = ok(http.put("/users/me", headers=user_headers, json={"email": "alice@example.org"}))
        assert put["email"] == "alice@example.org", put
        assert put["full_name"] == "Alice A.", put
        for method in ("PATCH", "PUT"):
            escalate = http.request(
                method, "/users/me", headers=user_headers, json={"role": "admin"}
            )
            assert_error(escalate, 422, "VALIDATION_ERROR")
        assert ok(http.get("/users/me", headers=user_headers))["role"] == "user"

        seen_by_admin = ok(http.get(f"/users/{alice['id']}", headers=bearer(admin_tokens)))
        assert seen_by_admin["email"] == "alice@example.org", seen_by_admin
        assert seen_by_admin["full_name"] == "Alice A.", seen_by_admin
        assert_error(http.get(f"/users/{admin_me['id']}", headers=user_headers), 403, "FORBIDDEN")
        assert_error(
            http.get("/users/nonexistent", headers=bearer(admin_tokens)), 404, "USER_NOT_FOUND"
        )

    stop_started = time.monotonic()
    local_run.interrupt()
    print(f"stopped {time.monotonic() - stop_started:.2f} s after SIGINT")


CONCURRENT_SIGN_UPS = 96
WORKERS = 16


def test_make_run_keeps_dynamodb_writes_atomic_under_concurrent_requests(
    local_run: LocalRun,
) -> None:
    """The local run's embedded moto answers parallel transactions like DynamoDB does.

    Unpatched, moto's server deep-copies the table for each transaction while other
    threads write to it ("dictionary changed size during iteration"), and the API then
    answers 503 to a share of concurrent sign-ups (infra/moto_atomic.py). Each user
    created here is a transaction (user + username and email claims + counter)."""
    from concurrent.futures import ThreadPoolExecutor

    local_run.wait_until_healthy()
    admin_totp = pyotp.parse_uri(local_run.otpauth_uri())
    assert isinstance(admin_totp, pyotp.TOTP)
    with httpx2.Client(base_url=local_run.base_url, timeout=60.0) as http:
        password = ADMIN_PASSWORD + admin_totp.now()
        admin_tokens = ok(http.post("/token", data={"username": "admin", "password": password}))
        headers = bearer(admin_tokens)

        def sign_up(index: int) -> int:
            body = {
                "username": f"parallel{index}",
                "email": f"parallel{index}@example.com",
                "password": USER_PASSWORD,
            }
            return http.post("/users", headers=headers, json=body).status_code

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            statuses = list(pool.map(sign_up, range(CONCURRENT_SIGN_UPS)))
        assert statuses == [201] * CONCURRENT_SIGN_UPS, sorted(set(statuses))
        listed = ok(http.get("/users", headers=headers, params={"limit": 100}))
        names = {user["username"] for user in listed["items"]}
        assert {f"parallel{index}" for index in range(CONCURRENT_SIGN_UPS)} <= names
