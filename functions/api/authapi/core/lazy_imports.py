"""Modules that run on first use, for the import time of a cold start.

A Lambda container pays for every module it imports before its first response, while
much of what this app imports serves rare requests. `imported_on_first_use` gives a
module object at once and runs the module's code the first time one of its attributes
is read. It is for modules whose attributes are not read at import: a function body or
a deferred route (`routing.DeferredAPIRoute`) reads them.

The routes modules use it for the request and response bodies of routes a container may
never serve (sign-in, passkeys, audit: ~25 Pydantic models, ~10 ms). They refer to them
as `schemas.Model` in signatures, which FastAPI reads when it builds the route, and
declare response models by return annotation: `response_model=` would read the model
at import. `authapi/__init__.py` uses it for third-party modules that other
libraries import without using them at import.

Why not `importlib.util.LazyLoader`: its module runs when anything reads its `__spec__`,
and the import system reads that whenever an `import name` statement finds the module in
sys.modules (to see whether it is still being imported). A module that other libraries
import by name, as FastAPI imports email-validator, would run at once.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any, cast

# What the import system and this module read without needing the module's code to run.
_READ_WITHOUT_RUNNING = frozenset({"__spec__", "__name__", "__class__", "__dict__"})


class _RunsOnFirstUse(ModuleType):
    """A module whose code has not run yet; the first read of any other attribute runs
    it (once: other threads wait for it), then the module is an ordinary module."""

    def __getattribute__(self, attr: str) -> Any:
        if attr not in _READ_WITHOUT_RUNNING:
            _run(self)
        return ModuleType.__getattribute__(self, attr)


# Held while a module's code runs, so that another thread reading the module waits for
# the whole module. Re-entrant: the module's own code (or a module it imports) may read
# it while it runs, and sees it partly run, as a circular import does.
_RUNNING = threading.RLock()
_running: set[str] = set()


def _run(module: ModuleType) -> None:
    with _RUNNING:
        spec = object.__getattribute__(module, "__spec__")
        if type(module) is not _RunsOnFirstUse or spec.name in _running:
            return
        _running.add(spec.name)
        try:
            spec.loader.exec_module(module)
        finally:
            _running.discard(spec.name)
        # Any: mypy has narrowed `module` to the lazy class, which this assignment ends.
        cast(Any, module).__class__ = ModuleType


def imported_on_first_use(name: str) -> ModuleType:
    """The module `name`, whose code runs when one of its attributes is first read,
    unless something imported it already.

    It is also set on its parent package, as an import does, so that a later
    `from package import module` finds it there.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _RunsOnFirstUse
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


def waiting() -> list[str]:
    """The modules still waiting for their first use."""
    return [name for name, module in list(sys.modules.items()) if type(module) is _RunsOnFirstUse]


def run_waiting() -> None:
    """Run every module still waiting for its first use: for an init that is
    snapshotted (SnapStart), where loading early costs a restored environment nothing."""
    for name in waiting():
        _run(sys.modules[name])
