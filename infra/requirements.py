"""Write the Lambda function's requirements file from pyproject.toml.

    python -m infra.requirements [OUTPUT]   (default: functions/api/requirements.txt)

pyproject.toml declares the runtime dependencies once; this derives the file
`sam build` installs, so the two can never disagree.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def runtime_requirements() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    return list(project["dependencies"])


def render() -> str:
    header = "# Generated from pyproject.toml by `python -m infra.requirements`. Do not edit.\n"
    return header + "".join(f"{requirement}\n" for requirement in runtime_requirements())


def main(argv: list[str]) -> int:
    output = Path(argv[0]) if argv else ROOT / "functions" / "api" / "requirements.txt"
    output.write_text(render(), encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
