"""Lambda SnapStart: what a restored environment must not share or trust.

The init runs once, is snapshotted, and every environment of the version starts from
that snapshot, maybe days later. The runtime calls the hooks registered through
snapshot-restore-py (AWS's own package); these tests call them the same way, from its
registries, and check what a restored environment then uses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import boto3
import pytest
import snapshot_restore_py

from authapi import warmup
from authapi.core import aws as aws_clients
from authapi.core import db, lazy_imports, secrets
from authapi.core.config import Settings
from authapi.core.lazy_imports import imported_on_first_use
from authapi.main import create_app

Registry = list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> dict[str, Registry]:
    """The runtime's registries, empty for this test (and restored after it)."""
    before: Registry = []
    after: Registry = []
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", before)
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", after)
    return {"before": before, "after": after}


def _run(registry: Registry) -> None:
    """What Lambda's Python runtime does with each registry."""
    for function, args, kwargs in registry:
        function(*args, **kwargs)


def test_a_restored_container_fetches_the_key_sets_current_at_restore(
    aws: None, settings: Settings, hooks: dict[str, Registry]
) -> None:
    warmup.prepare_container(settings)
    warmup.register_snapshot_hooks(settings, create_app(settings))
    at_init = secrets.secret_store(settings).get(settings.signing_keys_parameter)
    _run(hooks["before"])
    # Days pass; the signing keys are rotated in SSM.
    boto3.client("ssm").put_parameter(
        Name=settings.signing_keys_parameter,
        Value='{"rotated": true}',
        Overwrite=True,
        Type="SecureString",
    )
    _run(hooks["after"])
    restored = secrets.secret_store(settings).get(settings.signing_keys_parameter)
    assert restored == '{"rotated": true}'
    assert restored != at_init


def test_a_restored_container_uses_new_sessions_and_connections(
    aws: None, settings: Settings, hooks: dict[str, Registry]
) -> None:
    warmup.prepare_container(settings)
    warmup.register_snapshot_hooks(settings, create_app(settings))
    session_at_init = aws_clients.session()
    connection_at_init = db.connection()
    client_at_init = connection_at_init.client
    _run(hooks["before"])
    _run(hooks["after"])
    assert aws_clients.session() is not session_at_init
    assert db.connection() is not connection_at_init
    assert db.connection().client is not client_at_init
    # And the new connection works.
    assert db.connection().describe_table(settings.table_name)["TableName"] == settings.table_name


def test_the_hooks_are_registered_once_per_container(
    settings: Settings, hooks: dict[str, Registry]
) -> None:
    warmup.register_snapshot_hooks(settings, create_app(settings))
    assert [function for function, _, _ in hooks["before"]] == [warmup.prepare_snapshot]
    assert [(function, args) for function, args, _ in hooks["after"]] == [
        (warmup.restore_container, (settings,))
    ]


def test_the_snapshot_carries_what_a_cold_start_loads_on_first_use(
    settings: Settings, hooks: dict[str, Registry]
) -> None:
    """A cold start loads password hashing on the first sign-in, builds each route on
    its first request and runs some modules on their first use; a snapshot has them
    done already, so a restored environment pays for none of them."""
    from authapi.security import passwords

    passwords._dummy_hash.cache_clear()
    # A module waiting for its first use, as email-validator does in a fresh container
    # (in this process, earlier tests may have used the app's own already).
    sys.modules.pop("colorsys", None)
    imported_on_first_use("colorsys")
    assert "colorsys" in lazy_imports.waiting()
    app = create_app(settings)
    warmup.register_snapshot_hooks(settings, app)
    assert app.openapi_schema is None
    _run(hooks["before"])
    assert passwords._dummy_hash.cache_info().currsize == 1
    assert lazy_imports.waiting() == []
    assert type(sys.modules["colorsys"]) is ModuleType
    # The document is built from every route, which builds each (tests/unit/test_routing.py).
    assert app.openapi_schema is not None
