"""The garbage collector around a container's init (authapi/main.py): paused while the
module is imported, then everything init made is frozen and collection resumes."""

from __future__ import annotations

from tests.support import run_fresh_python

IMPORT = """
import gc, os, sys
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                  AWS_DEFAULT_REGION="us-east-1", TABLE_NAME="authapi-gc",
                  SSM_PARAMETER_PREFIX="/authapi/gc")
if sys.argv[1] == "disabled":
    gc.disable()
collections_before = sum(generation["collections"] for generation in gc.get_stats())
import authapi.main
collections = sum(generation["collections"] for generation in gc.get_stats())
print(collections - collections_before, gc.isenabled(), gc.get_freeze_count())
"""


def _import_main(collector: str) -> tuple[int, bool, int]:
    collections, enabled, frozen = run_fresh_python(IMPORT, collector).split()
    return int(collections), enabled == "True", int(frozen)


def test_init_runs_no_collection_and_freezes_what_it_made() -> None:
    collections, enabled, frozen = _import_main("enabled")
    # Without the pause, importing the app collects ~60 times. A few young-generation
    # passes come before main.py's first line, while the package's `__init__` runs (it
    # registers the modules that run on first use, which imports `cryptography`).
    assert collections <= 5
    assert enabled
    # The modules, classes and routes of init: never walked by a later collection.
    assert frozen > 50_000


def test_a_collector_switched_off_by_the_host_stays_off() -> None:
    _, enabled, _ = _import_main("disabled")
    assert not enabled
