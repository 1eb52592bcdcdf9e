"""Every benchmark in one command; writes BENCHMARKS.md from scratch.

    python -m bench [--quick] [--output PATH]        (or: make bench)

Runs, in this order, each section's measurement and writes one file with the machine,
the date and the commit, a summary of the issue's targets (met or not, from this run's
figures only), and every section:

* Cold start      (bench.cold_start)   the built package on an isolated CPython 3.13
* Warm latency    (bench.warm_latency) per endpoint through Mangum, SDK vs own time
* Login timing    (bench.login_timing) the enumeration check, and the password hash
* Peak memory     (bench.memory)       a process serving a login and GET /users/me
* AWS calls       (bench.aws_calls)    DynamoDB/SSM calls and capacity per endpoint
* Load            (bench.load)         the local run under concurrent users
* Soak            (bench.soak)         the local run through a day of use: memory, drift
* Scale           (bench.scale)        capacity model and an attacker's burst by partition
* Cost            (bench.cost)         a million requests of each kind, and a worked example

Each module also runs alone (`python -m bench.<module>`) and then rewrites only its own
section. `--quick` takes few samples: it checks that everything runs, and its figures
are not worth reading (the file says so).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .report import BENCHMARKS, Target, machine_section, markdown_table, wrap_prose


@dataclass(frozen=True)
class Outcome:
    text: str
    targets: list[Target]
    seconds: float


def _timed(run: Callable[[], tuple[str, list[Target]]]) -> Outcome:
    started = time.perf_counter()
    text, goals = run()
    return Outcome(text, goals, time.perf_counter() - started)


def _cold_start(quick: bool) -> tuple[str, list[Target]]:
    from . import cold_start

    python = cold_start.find_runtime_python()
    if python is None:
        raise SystemExit("no CPython 3.13 found: set RUNTIME_PYTHON=/path/to/python3.13")
    results = cold_start.run(2 if quick else cold_start.DEFAULT_RUNS, python)
    return cold_start.section(results), cold_start.targets(results)


def _warm_latency(quick: bool) -> tuple[str, list[Target]]:
    from . import warm_latency

    results = warm_latency.measure(10 if quick else warm_latency.DEFAULT_RUNS)
    return warm_latency.section(results), warm_latency.targets(results)


def _login_timing(quick: bool) -> tuple[str, list[Target]]:
    from . import login_timing

    results = login_timing.measure(5 if quick else login_timing.DEFAULT_RUNS)
    return login_timing.section(results), login_timing.targets(results)


def _memory(quick: bool) -> tuple[str, list[Target]]:
    from . import memory

    results = memory.measure(2 if quick else memory.DEFAULT_RUNS)
    return memory.section(results), memory.targets(results)


def _aws_calls(quick: bool) -> tuple[str, list[Target]]:
    from . import aws_calls

    results = aws_calls.measure()
    return aws_calls.section(results), aws_calls.targets(results)


def _load(quick: bool) -> tuple[str, list[Target]]:
    from . import load

    results = load.measure(seconds=5, users=10, concurrency=4) if quick else load.measure()
    return load.section(results), load.targets(results)


def _soak(quick: bool) -> tuple[str, list[Target]]:
    from . import soak

    results = (
        soak.measure(users=10, sign_ins=10, requests=200, window=50, max_seconds=300)
        if quick
        else soak.measure()
    )
    return soak.section(results), soak.targets(results)


def _scale(quick: bool) -> tuple[str, list[Target]]:
    from . import scale

    results = scale.measure(quick)
    if not quick:
        scale.write_docs(results)
    return scale.section(results), scale.targets(results)


def _cost(quick: bool) -> tuple[str, list[Target]]:
    from . import cost

    return cost.section(cost.measure(quick)), []


SECTIONS: dict[str, Callable[[bool], tuple[str, list[Target]]]] = {
    "cold_start": _cold_start,
    "warm_latency": _warm_latency,
    "login_timing": _login_timing,
    "memory": _memory,
    "aws_calls": _aws_calls,
    "load": _load,
    "soak": _soak,
    "scale": _scale,
    "cost": _cost,
}


def summary(outcomes: dict[str, Outcome]) -> str:
    rows = [
        (goal.name, goal.goal, goal.measured, "met" if goal.met else "**not met**")
        for outcome in outcomes.values()
        for goal in outcome.targets
    ]
    table = markdown_table(["Figure", "Target", "Measured", "Result"], rows, text_columns=4)
    return f"## Targets\n\n{table}\n"


def document(outcomes: dict[str, Outcome], quick: bool) -> str:
    total = sum(outcome.seconds for outcome in outcomes.values())
    durations = ", ".join(f"{name} {outcome.seconds:.0f} s" for name, outcome in outcomes.items())
    warning = (
        "\n**Quick run (`--quick`): a handful of samples per figure, to check that the "
        "benchmarks run. These figures are not measurements worth quoting.**\n"
        if quick
        else ""
    )
    parts = [
        "# Benchmarks\n"
        f"{warning}\n"
        "Written by `make bench` (`.venv/bin/python -m bench`): every figure in this file "
        f"comes from that one run ({total / 60:.1f} min: {durations}). Times are medians "
        "with their spread, each beside a floor measured in the same run; other work on the "
        "machine moves them, so compare rows of one run with each other. How each is "
        "measured: [docs/benchmarks.md](docs/benchmarks.md).\n",
        summary(outcomes),
        machine_section(),
        *(outcome.text for outcome in outcomes.values()),
    ]
    return wrap_prose("\n".join(part.rstrip("\n") + "\n" for part in parts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    parser.add_argument("--output", type=Path, default=BENCHMARKS, help="file to write")
    parser.add_argument(
        "--only",
        choices=sorted(SECTIONS),
        action="append",
        help="run only these sections (repeatable); the file then holds only them",
    )
    args = parser.parse_args(argv)
    outcomes: dict[str, Outcome] = {}
    for name, run in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        outcomes[name] = _timed(functools.partial(run, args.quick))
        print(f"bench: {name} done in {outcomes[name].seconds:.0f} s", file=sys.stderr)
    args.output.write_text(document(outcomes, args.quick), encoding="utf-8")
    print(summary(outcomes))
    print(f"Wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
