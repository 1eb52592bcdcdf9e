"""What the tests of the built package need (tests/build/support.py: skipped locally when
missing, a failure under CI)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.cold_start import find_runtime_python
from infra.arm64_rootfs import Unavailable, ensure
from tests.build.support import unavailable


@pytest.fixture(scope="module")
def runtime_python() -> Path:
    """CPython 3.13 on this machine: it compiles the package's bytecode (valid on any
    architecture) and runs the x86_64 package."""
    if shutil.which("make") is None:
        unavailable("make is not installed")
    python = find_runtime_python()
    if python is None:
        unavailable("no CPython 3.13 (the Lambda runtime's version): set RUNTIME_PYTHON")
    return python


@pytest.fixture(scope="session")
def arm64_rootfs() -> Path:
    """The emulated arm64 root filesystem (infra/arm64_rootfs.py), built if missing."""
    try:
        return ensure()
    except Unavailable as exc:
        unavailable(
            f"no emulated arm64 root filesystem: {exc}\n"
            "(the test runs as root; sudo python3 -m infra.arm64_rootfs --install prepares it)"
        )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty HOME: no ~/.aws of this machine reaches the function."""
    return tmp_path
