"""The README's benchmark command runs and writes every section.

`python -m bench --quick` (few samples; its figures are not worth reading) into a
temporary file: the command must keep working from a fresh clone, since BENCHMARKS.md
is only as good as the last time someone could rerun it. No time is asserted.

Skipped when no CPython 3.13 is found (the cold start runs the Lambda package on it),
except under CI (CI set), where that fails; as tests/build.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.cold_start import find_runtime_python

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[2]
# The targets first: what a reader comes for; the machine and the methods after it.
SECTIONS = [
    "## Targets",
    "## Machine",
    "## Cold start",
    "## Warm latency",
    "## Login timing (user enumeration, ASVS 5.0 6.3.8)",
    "## Peak memory",
    "## AWS calls and DynamoDB capacity per endpoint",
    "## Load (local run)",
    "## Soak (local run)",
    "## Scale: ceilings and an attacker's burst",
    "## Cost per million requests",
]


def test_quick_run_writes_every_section_and_target(tmp_path: Path) -> None:
    if find_runtime_python() is None:
        reason = "no CPython 3.13 (the Lambda runtime's version): set RUNTIME_PYTHON"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (under CI the benchmark command must run, not skip)")
        pytest.skip(reason)
    output = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    text = output.read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == SECTIONS
    # Method notes stay short and readable: prose is folded, only table rows run long.
    assert max(len(line) for line in text.splitlines()) <= 500
    assert "Quick run" in text
    assert report.commit().split()[0] in text
    targets = text.split("## Targets", 1)[1].split("\n## ", 1)[0]
    for figure in (
        "Cold start",
        "Warm latency",
        "Login timing",
        "AWS calls",
        "Load",
        "Soak",
        "Scale",
    ):
        assert f"| {figure}" in targets, targets
    # The AWS-call budgets and the load's zero errors hold even in a quick run.
    for line in targets.splitlines():
        if line.startswith(("| AWS calls", "| Load", "| Scale")):
            assert line.rstrip().endswith("| met |"), line
