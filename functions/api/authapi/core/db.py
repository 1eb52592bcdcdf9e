"""The DynamoDB table, as pynamodb sees it.

One table holds every item type (single-table design). Its schema is defined in
`template.yaml`; tests and the local run create the table from there, and a test
checks that these models agree with it.

Key layout (pk / sk):
    USER#<id>        / USER                the user
    USER#<id>        / SESSION#<sid>       one refresh-token chain (a signed-in device)
    USER#<id>        / REFRESH#<digest>    one refresh token, stored hashed
    USERNAME#<name>  / CLAIM               uniqueness claim for a username
    EMAIL#<email>    / CLAIM               uniqueness claim for an email address
    THROTTLE#<name>  / LOGIN               failure budget of a username with no account
    COUNTER#ENABLED_ADMINS / COUNTER       how many enabled admins exist (LAST_ADMIN)
    USER#<id>        / MFA#<jti>           a spent mfa_token (expires with the token)
    USER#<id>        / PASSKEY#<pid>       a passkey as its user sees it (name, AAGUID, uses)
    PASSKEY#<pid>    / LOOKUP              its credential record: owner, public key, counter
    WEBAUTHN#<digest>/ CHALLENGE           a WebAuthn challenge (single use, expires in 5 min)
    AUDIT#<user id>  / <time>#<event id>   one audit event (kept when the user is deleted)
    AUDIT#-#<shard>  / <time>#<event id>   one audit event that names no account

The sparse index `by-kind` (gsi1pk / gsi1sk) lists users by creation time
(gsi1pk "USERS") and audit events by time (gsi1pk "AUDIT#00".."AUDIT#15", see
audit/models.py); only the items meant to be listed carry its attributes.

Everything that belongs to a user lives in the user's partition, so deleting a user
is a Query on one partition, never a Scan. The one exception, a passkey's LOOKUP item
(<pid> is the SHA-256 of the credential id), has the passkey item's sort key as its
partition key, so it is found from the user's partition too; both are written and
deleted in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import pynamodb.connection.base
from pynamodb.attributes import UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from authapi.core import aws
from authapi.core.config import Settings, get_settings

TTL_ATTRIBUTE = "expires_at"
CONDITION_FAILED = "ConditionalCheckFailed"


_Item = TypeVar("_Item", bound=Model)


# What the by-kind index copies besides the keys: what a listing shows, and nothing else.
# Password hashes, TOTP secrets, recovery-code hashes and session data stay in the table
# only (least data: anyone who may query the index sees no secret), and a write that
# changes none of these (a sign-in, a failed login) does not write the index at all.
# template.yaml lists the same attributes (tests/test_schema.py checks).
LISTED_ATTRIBUTES = (
    # users (GET /users)
    "user_id",
    "username",
    "email",
    "full_name",
    "role",
    "disabled",
    "mfa_enabled",
    "created_at",
    "updated_at",
    # audit events (GET /audit-events)
    "event_id",
    "at",
    "type",
    "actor_id",
    "ip",
    "detail",
    "expires_at",
)


class ByKindIndex(GlobalSecondaryIndex[_Item]):  # type: ignore[no-untyped-call]
    """Items of one kind in a stable order (see the module docstring)."""

    class Meta:
        index_name = "by-kind"
        projection = IncludeProjection(list(LISTED_ATTRIBUTES))

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class TableItem(Model):
    """Base of every item type: the table's key attributes and its connection."""

    class Meta:
        table_name = get_settings().table_name
        region = get_settings().aws_region
        # Bounded retries in botocore's "standard" mode; then the caller answers 503.
        max_retry_attempts = 2
        connect_timeout_seconds = 2
        read_timeout_seconds = 5

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    # Declared here so the one shared connection knows the index; item types that are
    # listed redeclare them (and the index, to get their own type back from queries).
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_kind = ByKindIndex["TableItem"]()


# pynamodb creates its botocore session (one per thread) through this module-level name;
# pointing it at ours gives the DynamoDB and SSM clients one session and one parse of the
# API models and endpoint files per container (see aws.session).
pynamodb.connection.base.get_session = aws.session  # type: ignore[attr-defined]


def bind(settings: Settings) -> None:
    """Point every item type at the configured table and share one connection.

    Subclasses inherit TableItem's cached connection, so the container creates a
    single botocore client for the table instead of one per item type.
    """
    TableItem.Meta.table_name = settings.table_name
    TableItem.Meta.region = settings.aws_region
    reset_connections()


def reset_connections() -> None:
    """Forget every item type's connection and make the one shared connection anew
    (its botocore client is created on first use)."""
    models: list[type[Model]] = [TableItem, *_subclasses(TableItem)]
    for model in models:
        if "_connection" in vars(model):
            model._connection = None
    TableItem._get_connection()


def _subclasses(cls: type[Model]) -> list[type[Model]]:
    found: list[type[Model]] = []
    for sub in cls.__subclasses__():
        found.extend([sub, *_subclasses(sub)])
    return found


def warm_connection() -> None:
    """Create the botocore DynamoDB client now (it is created lazily otherwise)."""
    _ = TableItem._get_connection().connection.client


def connection() -> Connection:
    """The low-level connection, for transactions across item types."""
    return TableItem._get_connection().connection


def is_condition_failure(exc: PynamoDBException) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


def failed_conditions(exc: TransactWriteError) -> list[bool]:
    """Per transaction item, whether its condition failed (in the order DynamoDB got them:
    pynamodb sends condition checks, then deletes, then puts, then updates)."""
    return [
        reason is not None and reason.code == CONDITION_FAILED
        for reason in exc.cancellation_reasons
    ]


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn any DynamoDB failure the caller did not handle into a 503.

    Throttling, timeouts and internal errors have already been retried by botocore
    (bounded); nothing more can be done inside this request.
    """
    try:
        yield
    except PynamoDBException as exc:
        raise aws.unavailable("dynamodb", exc) from exc
