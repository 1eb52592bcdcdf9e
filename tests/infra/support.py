"""Running the infra scripts the way an operator does: `python -m infra.<script>`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_script(
    module: str, endpoint: str, *args: str, stdin_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The script in a fresh interpreter, pointed at the local AWS by its command line
    only: AWS_ENDPOINT_URL and TABLE_NAME are taken out of its environment, so a script
    that ignored `--endpoint-url` or `--table` fails here instead of passing by accident.
    Its standard input is `stdin_text`, or nothing; never a terminal."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("AWS_ENDPOINT_URL", "TABLE_NAME")
    }
    given: dict[str, Any] = (
        {"stdin": subprocess.DEVNULL} if stdin_text is None else {"input": stdin_text}
    )
    return subprocess.run(
        [sys.executable, "-m", module, "--endpoint-url", endpoint, "--region", "us-east-1", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
        **given,
    )
