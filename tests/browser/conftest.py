"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, and `make run`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from infra.local import free_port
from tests.e2e.test_local_run import LocalRun

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing under CI: .ci/run installs Debian's chromium package")
    pytest.skip(f"{CHROMIUM} is missing: install it with `apt-get install chromium`")


@pytest.fixture
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def local_run(browser: Browser) -> Iterator[LocalRun]:
    """After `browser`, so a missing Chromium skips before `make run` starts."""
    run = LocalRun(free_port())
    try:
        yield run
    finally:
        run.kill()
