"""The curl pages run as written: docs/walkthrough.md, then docs/administration.md,
every `sh` block in order in one bash session against `make run` (as a reader pastes
them into a second terminal), and each error code a page shows under a command is what
that command printed.

The pages' only edits: the API's port (a free one instead of 8000) and the admin's TOTP
secret where the page says PASTE_IT_HERE; the block that starts `make run` is what this
test starts itself. Needs bash, curl and jq (`.ci/run` installs jq; locally the test
skips without it, and fails under CI).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from infra.local import free_port
from tests.e2e.test_local_run import REPO_ROOT, LocalRun

pytestmark = pytest.mark.e2e

PAGES = [REPO_ROOT / "docs" / "walkthrough.md", REPO_ROOT / "docs" / "administration.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SHOWN_CODE = re.compile(r'"code": "([A-Z_]+)"|^"([A-Z_]+)"$', re.MULTILINE)
# The password the walkthrough starts `make run` with (its first block).
DOCS_ADMIN_PASSWORD = "correct-horse-battery-9"
BLOCK_MARK = "@@block {}@@"


def _blocks(page: Path) -> Iterator[tuple[str, str]]:
    for match in FENCE.finditer(page.read_text(encoding="utf-8")):
        yield match.group(1), match.group(2)


def _script(port: int, admin_secret: str) -> tuple[str, list[set[str]]]:
    """The pages' shell blocks as one script, each after a marker line, and for each the
    error codes that the page shows right under it."""
    parts: list[str] = []
    expected: list[set[str]] = []
    for page in PAGES:
        blocks = list(_blocks(page))
        for index, (language, text) in enumerate(blocks):
            if language != "sh" or any(
                line.split("#")[0].strip().endswith("make run") for line in text.splitlines()
            ):
                continue  # starting the API: the fixture did that
            if "PASTE_IT_HERE" in text and "ADMIN_SECRET=" not in text:
                continue  # the one-off example of computing a code by hand
            text = text.replace("PASTE_IT_HERE", admin_secret)
            text = text.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
            shown = blocks[index + 1] if index + 1 < len(blocks) else ("sh", "")
            codes = set() if shown[0] == "sh" else _codes(shown[1])
            parts.append(f"echo '{BLOCK_MARK.format(len(expected))}'\n{text}")
            expected.append(codes)
    return "\n".join(parts), expected


def _codes(shown: str) -> set[str]:
    return {a or b for a, b in SHOWN_CODE.findall(shown)}


@pytest.fixture
def docs_run() -> Iterator[LocalRun]:
    run = LocalRun(free_port(), extra_env={"ADMIN_PASSWORD": DOCS_ADMIN_PASSWORD})
    try:
        run.wait_until_healthy()
        yield run
    finally:
        run.kill()


def test_walkthrough_and_administration_pages_run_as_written(docs_run: LocalRun) -> None:
    """Every command of the curl pages works against the README's run command, and the
    error codes the pages promise are the ones the API answers."""
    for tool in ("bash", "curl", "jq"):
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is missing (under CI the docs' commands must run)")
            pytest.skip(f"{tool} is missing")
    uri = docs_run.otpauth_uri()
    [secret] = parse_qs(urlparse(uri).query)["secret"]
    script, expected = _script(docs_run.port, secret)
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    # What the pages printed, for whoever reads a failure (test-output/ is git-ignored).
    log = REPO_ROOT / "test-output" / "docs-commands.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text(f"{script}\n\n----- stdout\n{done.stdout}\n----- stderr\n{done.stderr}")
    for problem in ("parse error", "command not found", "Traceback", "Internal Server Error"):
        assert problem not in output, output[-4000:]
    assert done.returncode == 0, output[-4000:]
    printed = re.split(r"^@@block (\d+)@@$", done.stdout, flags=re.MULTILINE)
    by_block = {
        int(number): text for number, text in zip(printed[1::2], printed[2::2], strict=True)
    }
    assert sorted(by_block) == list(range(len(expected))), "a block did not run"
    for number, codes in enumerate(expected):
        for code in codes:
            assert code in by_block[number], (number, code, by_block[number][-2000:])
    # The admin did sign in (a walkthrough that drifted from the API prints null tokens).
    assert '"access_token": "ey' in done.stdout, done.stdout[:2000]
