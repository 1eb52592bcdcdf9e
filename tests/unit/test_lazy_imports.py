"""Modules that run on first use (authapi/core/lazy_imports.py, authapi/__init__.py)."""

from __future__ import annotations

from tests.support import run_fresh_python

# A fresh interpreter, with a package whose module counts its runs (slowly, so that
# threads reading it at once overlap while it runs).
PACKAGE = r"""
import builtins, pathlib, sys, tempfile
root = pathlib.Path(tempfile.mkdtemp())
(root / "pkg").mkdir()
(root / "pkg" / "__init__.py").write_text("")
(root / "pkg" / "heavy.py").write_text(
    "import builtins, time\n"
    "builtins.heavy_runs = getattr(builtins, 'heavy_runs', 0) + 1\n"
    "time.sleep(0.2)\n"
    "VALUE = 42\n"
)
sys.path.insert(0, str(root))
from authapi.core.lazy_imports import imported_on_first_use

def runs():
    return getattr(builtins, "heavy_runs", 0)
"""

FIRST_USE = (
    PACKAGE
    + r"""
module = imported_on_first_use("pkg.heavy")
assert runs() == 0, "ran before its first use"
import pkg.heavy  # as a library imports it by name: the import system reads __spec__
from pkg import heavy  # or from its package
assert heavy is module and pkg.heavy is module
assert runs() == 0, "an import statement ran it"
assert heavy.VALUE == 42
assert runs() == 1
assert imported_on_first_use("pkg.heavy") is module and heavy.VALUE == 42 and runs() == 1
print("ok")
"""
)

THREADS = (
    PACKAGE
    + r"""
import threading
module = imported_on_first_use("pkg.heavy")
start, seen = threading.Barrier(8), []
def read():
    start.wait()
    seen.append(module.VALUE)
threads = [threading.Thread(target=read) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert seen == [42] * 8, seen
assert runs() == 1, runs()
print("ok")
"""
)

# What the app registers (authapi/__init__.py): FastAPI and PyJWT are imported, and
# neither email-validator nor cryptography's X.509 package has run.
LIBRARIES = r"""
import sys
import authapi
import fastapi, fastapi.openapi.models
import jwt
from jwt.algorithms import OKPAlgorithm
for name in ("email_validator", "cryptography.x509"):
    assert type(sys.modules[name]).__name__ == "_RunsOnFirstUse", f"{name} ran at import"
assert "email_validator.rfc_constants" not in sys.modules
assert "cryptography.x509.name" not in sys.modules
from authapi.users.domain import normalize_email
assert normalize_email("Someone@Example.COM") == "Someone@example.com"  # its first use
from cryptography import x509
assert x509.Name.__name__ == "Name"
print("ok")
"""


def test_a_module_runs_at_its_first_attribute_read_only() -> None:
    """A module registered to run on first use runs once, at the first read of one of
    its attributes, not when a library imports it (`import name` reads its `__spec__`,
    which is exactly what `importlib.util.LazyLoader` would run it for)."""
    assert run_fresh_python(FIRST_USE).strip() == "ok"


def test_threads_reading_it_at_once_wait_for_the_whole_module() -> None:
    """Eight threads released together at the first read: one runs it, the others wait
    and see it complete (no AttributeError on a half-run module), and it runs once."""
    assert run_fresh_python(THREADS).strip() == "ok"


def test_fastapi_and_pyjwt_are_imported_without_running_what_they_do_not_use() -> None:
    """email-validator (~30 ms of regular expressions) and cryptography's X.509 package
    (~15-25 ms) stay unrun through the import of FastAPI and PyJWT, and work when used.
    (In this venv, unlike the package, botocore reads X.509 through urllib3's pyOpenSSL
    bridge, so only these two libraries are imported here; tests/build/test_artifact.py
    checks the built function's cold start.)"""
    assert run_fresh_python(LIBRARIES).strip() == "ok"
