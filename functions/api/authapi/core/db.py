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
from typing import NamedTuple, TypeVar

import pynamodb.connection.base
from pynamodb.attributes import UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from authapi.core import aws
from authapi.core.config import Settings
from authapi.core.errors import Conflict

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
        # None until `bind` names the configured table at start-up: an item used before
        # that fails at once (pynamodb: "must have a table_name"), never on a default table.
        table_name: str = None  # type: ignore[assignment]
        region: str  # set by `bind` too
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
    """Point every item type at the configured table and share one connection. Called
    once at start-up, by `create_app` and by the scripts, before any item is used.

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


def update_if(item: Model, actions: list[Action], condition: Condition) -> bool:
    """One conditional UpdateItem; False when the condition did not hold. On success
    `item` holds the item as written (pynamodb asks for ALL_NEW)."""
    with storage_errors():
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if is_condition_failure(exc):
                return False
            raise
    return True


class _Slot(NamedTuple):
    """What one write's failed condition means (see Transaction)."""

    error: type[Exception] | None
    decisive: bool = False
    committed: bool = False


class Transaction:
    """The writes of one TransactWrite, each with what its failed condition means.

    `fails_as` is the domain error a write's failed condition raises (Conflict unless
    said otherwise); None means the condition cannot fail in normal operation, so the
    failure stays a storage error (503). When several conditions fail, a `decisive`
    write's error wins; otherwise the first failed write's, in the order DynamoDB
    received them. That order is not the order of the calls: pynamodb sends condition
    checks, then deletes, then puts, then updates (each group in call order), and
    DynamoDB reports its reasons in the order it received the items. This class keeps
    the slots in that order, so no caller counts positions.
    """

    def __init__(self, writes: TransactWrite) -> None:
        self._writes = writes
        self._checks: list[_Slot] = []
        self._deletes: list[_Slot] = []
        self._puts: list[_Slot] = []
        self._updates: list[_Slot] = []

    def check(
        self,
        model: type[Model],
        key: tuple[str, str],
        condition: Condition,
        fails_as: type[Exception] | None = Conflict,
    ) -> None:
        self._writes.condition_check(model, key[0], key[1], condition=condition)
        self._checks.append(_Slot(fails_as))

    def delete(
        self,
        item: Model,
        condition: Condition | None = None,
        fails_as: type[Exception] | None = Conflict,
    ) -> None:
        self._writes.delete(item, condition=condition)
        self._deletes.append(_Slot(fails_as))

    def save(
        self,
        item: Model,
        condition: Condition,
        fails_as: type[Exception] | None = Conflict,
        *,
        proves_committed: bool = False,
    ) -> None:
        """`proves_committed`: the item's key holds a random id, so only this very
        transaction can have written it. Its condition failing means botocore retried
        the transaction after its answer was lost, and (all or nothing) the first
        attempt had committed in full: a success, not a conflict. DynamoDB's
        idempotency token makes such a retry succeed anyway; this holds without it too.
        """
        self._writes.save(item, condition=condition)
        self._puts.append(_Slot(fails_as, decisive=proves_committed, committed=proves_committed))

    def update(
        self,
        item: Model,
        actions: list[Action],
        condition: Condition | None = None,
        fails_as: type[Exception] | None = Conflict,
        *,
        decisive: bool = False,
    ) -> None:
        self._writes.update(item, actions=actions, condition=condition)
        self._updates.append(_Slot(fails_as, decisive=decisive))

    def meaning_of(self, exc: TransactWriteError) -> _Slot | None:
        """The failed write whose meaning decides the outcome; None when no failed
        condition has a meaning (or the transaction failed for another reason)."""
        slots = [*self._checks, *self._deletes, *self._puts, *self._updates]
        failed = [
            slot
            for slot, reason in zip(slots, exc.cancellation_reasons, strict=False)
            if reason is not None
            and reason.code == CONDITION_FAILED
            and (slot.error is not None or slot.committed)
        ]
        decisive = [slot for slot in failed if slot.decisive]
        return next(iter(decisive or failed), None)


@contextmanager
def transaction() -> Iterator[Transaction]:
    """Collect writes, then commit them all or nothing; a failed condition raises its
    write's `fails_as` (see Transaction), any other failure a 503."""
    with storage_errors():
        writes = TransactWrite(connection=connection())
        collected = Transaction(writes)
        try:
            with writes:  # commits on a clean exit
                yield collected
        except TransactWriteError as exc:
            meaning = collected.meaning_of(exc)
            if meaning is None:
                raise
            if not meaning.committed:
                raise (meaning.error or Conflict)() from exc


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
