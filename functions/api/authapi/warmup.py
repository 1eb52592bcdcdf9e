"""Work done once per Lambda container, during init instead of the first request.

Lambda runs init with a full CPU burst, so what every request needs anyway is prepared
here: the DynamoDB client and the key sets from SSM. What only some requests need loads
on their first use instead (password hashing, QR codes, WebAuthn, each route's
validators): a container that never serves them never pays for them. Nothing here may
fail the init: if SSM is down the first request simply tries again (and answers 503 if
it must).
"""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI

from authapi.core import aws, db, lazy_imports, secrets
from authapi.core.config import Settings
from authapi.core.errors import ServiceUnavailable
from authapi.core.secrets import secret_store
from authapi.security import passwords

logger = logging.getLogger("authapi")


def in_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


def prepare_container(settings: Settings) -> None:
    db.warm_connection()
    try:
        secret_store(settings).get(settings.signing_keys_parameter)
    except ServiceUnavailable:
        logger.error("SSM unavailable during init; the first request will try again")


# ---- Lambda SnapStart (template parameter SnapStart) ---------------------------------------
#
# With SnapStart, Lambda runs the init above once per published version, snapshots the
# memory, and starts every environment of that version from the snapshot: possibly
# days later, many at once. What the init made must then not be shared or trusted:
# - open connections (every restored environment would hold the same sockets) and the
#   credentials the botocore sessions resolved at init;
# - the cached key sets, whose age is the snapshot's: a key rotated since must be used,
#   and one removed since must stop verifying tokens.
# Nothing random is made at init: ids, tokens and nonces come from `secrets`/`os.urandom`
# at request time, which Lambda reseeds on restore. The dummy hash is a constant.


def drop_connections() -> None:
    """Before the snapshot: no open connection or session goes into it."""
    aws.forget_sessions()
    db.reset_connections()


def prepare_snapshot(app: FastAPI) -> None:
    """Before the snapshot: what a cold start loads or builds on first use (password
    hashing, every route, the OpenAPI document, the modules that wait for their first
    use), done now, since every restored environment then has it for free; and no
    connection goes into it."""
    passwords.prepare()
    app.openapi()  # builds every route (routing.DeferredAPIRoute) and caches the document
    lazy_imports.run_waiting()
    drop_connections()


def restore_container(settings: Settings) -> None:
    """After a restore, before the first request: new sessions and connections, and
    key sets fetched now (the same work as a cold start's init, minus the imports)."""
    drop_connections()
    secrets.reset_cache()
    prepare_container(settings)


def register_snapshot_hooks(settings: Settings, app: FastAPI) -> None:
    """Hand the hooks to Lambda's runtime (snapshot-restore-py, AWS's own). Harmless
    without SnapStart: the runtime then never calls them."""
    from snapshot_restore_py import register_after_restore, register_before_snapshot

    register_before_snapshot(prepare_snapshot, app)
    register_after_restore(restore_container, settings)
