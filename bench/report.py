"""What every benchmark shares: statistics, machine facts and BENCHMARKS.md sections.

Each benchmark module measures one thing and renders one "## " section; `python -m bench`
runs them all and writes the whole file (see bench/__main__.py), and each module's own
command rewrites only its section (`write_section`), leaving the others as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"


@dataclass(frozen=True)
class Stats:
    """The median of repeated samples and their spread (seconds, or any unit)."""

    count: int
    median: float
    p10: float
    p90: float
    p99: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, samples: list[float]) -> Stats:
        if not samples:
            raise ValueError("no samples")
        if len(samples) == 1:
            only = samples[0]
            return cls(1, only, only, only, only, only, only)
        percentiles = statistics.quantiles(samples, n=100, method="inclusive")
        return cls(
            count=len(samples),
            median=statistics.median(samples),
            p10=percentiles[9],
            p90=percentiles[89],
            p99=percentiles[98],
            minimum=min(samples),
            maximum=max(samples),
        )

    def overlaps(self, other: Stats) -> bool:
        """Whether the p10-p90 ranges overlap."""
        return self.p10 <= other.p90 and other.p10 <= self.p90


def ms(seconds: float, digits: int = 1) -> str:
    return f"{seconds * 1000:.{digits}f}"


def mib(size: float) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}"


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, text_columns: int = 1
) -> str:
    """A Markdown table: the first `text_columns` columns left-aligned (labels), the
    others right-aligned (figures), so that every section's tables read alike."""
    rule = "|" + "|".join(["---"] * text_columns + ["--:"] * (len(header) - text_columns)) + "|"
    lines = [_table_row(header), rule, *(_table_row(row) for row in rows)]
    return "\n".join(lines)


def _table_row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


# ---- the machine ------------------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            ["git", *args],  # noqa: S607 - git from PATH, as a developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def commit() -> str:
    short = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--untracked-files=no"):
        short += " (with uncommitted changes)"
    return short


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _cpu() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def _memory() -> str:
    match = re.search(r"^MemTotal:\s+(\d+) kB", _read("/proc/meminfo"), re.MULTILINE)
    if match is None:
        return "unknown"
    return f"{int(match.group(1)) / 1024 / 1024:.1f} GiB"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def machine_facts() -> list[tuple[str, str]]:
    return [
        ("Platform", platform.platform()),
        ("CPU", _cpu()),
        ("Logical CPUs", str(os.cpu_count())),
        ("Memory", _memory()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Date (UTC)", utc_now()),
        ("Git commit", commit()),
    ]


def machine_section() -> str:
    facts = "\n".join(f"| {name} | {value} |" for name, value in machine_facts())
    return f"## Machine\n\n| Fact | Value |\n|---|---|\n{facts}\n"


# ---- the file ---------------------------------------------------------------------------------

# Sentences built from figures come out as one long line; folded, the file reads in a
# terminal and a rerun's diff shows which figures moved.
PROSE_WIDTH = 92


def wrap_prose(text: str) -> str:
    """Fold prose lines longer than PROSE_WIDTH; tables, headings and code stay as they are."""
    folded: list[str] = []
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or len(line) <= PROSE_WIDTH or line.startswith(("|", "#", "    ")):
            folded.append(line)
        else:
            folded.extend(
                textwrap.wrap(line, PROSE_WIDTH, break_long_words=False, break_on_hyphens=False)
            )
    return "\n".join(folded) + ("\n" if text.endswith("\n") else "")


def write_section(path: Path, text: str) -> None:
    """Replace the section whose "## " heading is `text`'s first line (up to the next
    "## " heading), or append it; the rest of the file stays as it is."""
    heading = text.splitlines()[0].rstrip()
    if not heading.startswith("## "):
        raise ValueError(f"a section starts with a '## ' heading, not {heading!r}")
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    body = wrap_prose(text.rstrip("\n") + "\n")
    if start is None:
        updated = current.rstrip("\n") + "\n\n" + body
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        tail = "".join(lines[end:])
        updated = "".join(lines[:start]) + body + ("\n" + tail if tail else "")
    path.write_text(updated, encoding="utf-8")


@dataclass(frozen=True)
class Target:
    """A goal from the benchmark issue and whether this run met it, for the summary."""

    name: str
    goal: str
    measured: str
    met: bool


# ---- each module's command line ---------------------------------------------------------------


def section_parser(
    doc: str | None, *, runs: int | None = None, runs_help: str = "runs"
) -> argparse.ArgumentParser:
    """`python -m bench.<module>`: --output, and --runs for a module that repeats."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    if runs is not None:
        parser.add_argument("--runs", type=int, default=runs, help=f"{runs_help} ({runs})")
    parser.add_argument(
        "--output",
        type=Path,
        default=BENCHMARKS,
        help="file whose section to write (the others are kept)",
    )
    return parser


def require_at_least(
    parser: argparse.ArgumentParser, option: str, value: float, minimum: float
) -> None:
    if value < minimum:
        parser.error(f"{option} must be at least {minimum:g}")


_Results = TypeVar("_Results")


class Command(Protocol):
    """A module's `main`: its command-line arguments in, an exit status out."""

    def __call__(self, argv: list[str] | None = None) -> int: ...


def runs_command(
    doc: str | None,
    *,
    default_runs: int,
    runs_help: str,
    minimum_runs: int,
    measure: Callable[[int], _Results],
    section: Callable[[_Results], str],
) -> Command:
    """The `main` of a module whose only option is how many times it repeats:
    measure, then write its section."""

    def main(argv: list[str] | None = None) -> int:
        parser = section_parser(doc, runs=default_runs, runs_help=runs_help)
        args = parser.parse_args(argv)
        require_at_least(parser, "--runs", args.runs, minimum_runs)
        publish(args.output, section(measure(args.runs)))
        return 0

    return main


def print_verdicts(targets: Iterable[Target]) -> None:
    for target in targets:
        verdict = "met" if target.met else "NOT met"
        print(f"{target.name}: {target.measured} (goal {target.goal}): {verdict}")


def publish(output: Path, text: str) -> None:
    """Write one module's section into `output` and show it."""
    write_section(output, text)
    print(text)
    print(f"Wrote the {text.splitlines()[0]!r} section of {output}", file=sys.stderr)


def run_driver(
    command: list[str], stdin: Any, env: Mapping[str, str], cwd: Path, what: str
) -> dict[str, Any]:
    """Run a fresh process that reads JSON on stdin and prints one JSON object last;
    its output on failure."""
    done = subprocess.run(  # noqa: S603 - a Python interpreter, fixed arguments
        command,
        input=json.dumps(stdin),
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} process failed ({done.returncode}):\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report
