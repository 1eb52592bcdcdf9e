"""Helpers of the tests of the built package (fixtures in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from bench.cold_start import build_artifact


def unavailable(reason: str) -> NoReturn:
    """Skip locally; under CI (CI set) these checks must run, so fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (under CI the package check must run, not skip)")
    pytest.skip(reason)


def build_package(arch: str, python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package `sam build` makes for `arch` (functions/api/Makefile, `python` compiles
    its bytecode), in a temporary directory."""
    destination = tmp_path_factory.mktemp(f"artifact-{arch}") / "ApiFunction"
    build_artifact(destination, python, arch=arch)
    return destination
