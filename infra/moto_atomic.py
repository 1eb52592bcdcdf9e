"""Give an embedded moto DynamoDB real DynamoDB's write atomicity at the cost of the
items a write touches, with nothing kept alive afterwards.

Three patches on moto 5.2.5's DynamoDB, applied together by `serialize_dynamodb_writes`:

1. One lock around moto's write and read operations. moto's server answers requests on
   many threads, and its DynamoDB backend checks a ConditionExpression and applies the
   write in two steps with no lock, so two parallel conditional writes can both pass (we
   saw 2 of 20 parallel logins with one TOTP code succeed), and a read can see a write
   half done. DynamoDB evaluates a condition and writes atomically, and never shows half
   a write; the lock restores that, for the local run and the tests alike, so that both
   exercise *our* use of conditions rather than moto's threading.

2. Transactions roll back item by item. moto's `transact_write_items` deep-copies the
   whole table, once per operation in the transaction, as its rollback backup: a sign-in
   (three operations) copied every user, session and audit event three times. Here the
   transaction first copies only the items its operations name (under the lock, so
   nothing else writes them meanwhile), moto's whole-table copy is skipped, and if the
   transaction fails in any way those items are put back as they were: all or nothing,
   as before, for the price of the items touched. (moto itself left earlier operations
   applied when a later entry had two operations; this rolls those back too.) Not
   restored: records a cancelled transaction added to a table's stream (the project's
   table has none).

3. moto's model registry is switched off for DynamoDB. Every `BaseModel` instance moto
   creates is appended to its class's `instances_tracked` list, for moto's dashboard
   (/moto-api/data.json), until moto is reset: every item ever written or replaced, the
   copies a query, scan or update makes, and every table copy above. In a long-running
   server that list only grows (the local run reached 2.4 GiB, with full garbage
   collections of about a second). DynamoDB's models are no longer listed on moto's
   dashboard; nothing in this project reads it.

See docs/moto-transaction-memory.md for a standalone reproduction and the figures.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import threading
from collections.abc import Callable
from typing import Any

WRITE_OPERATIONS = (
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "batch_write_item",
)
# Reads take the same lock: moto's update_item of a new item first stores it with only
# its keys and then applies the update, so a parallel read could see that half-made
# item (we saw a THROTTLE# item without its count under a burst of failed logins).
# DynamoDB never shows a write half done.
READ_OPERATIONS = ("get_item", "query", "scan", "batch_get_item", "transact_get_items")

# Set while this thread runs a transaction whose items were copied for the rollback: the
# table deep copy moto makes then is the table itself (see _deepcopy_table).
_ITEM_ROLLBACK = contextvars.ContextVar("item_level_rollback", default=False)
_ABSENT = object()


def serialize_dynamodb_writes() -> Callable[[], None]:
    """Patch moto's DynamoDB (every backend instance, in this process) as the module
    says; returns the undo."""
    from moto.core.model_instances import model_data
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    saved: list[tuple[type, str, object]] = []

    def replace(owner: type, name: str, value: object) -> None:
        saved.append((owner, name, owner.__dict__.get(name, _ABSENT)))
        setattr(owner, name, value)

    lock = threading.RLock()
    for name in (*WRITE_OPERATIONS, *READ_OPERATIONS):
        original = getattr(DynamoDBBackend, name)
        if name == "transact_write_items":
            original = _with_item_rollback(original)
        replace(DynamoDBBackend, name, _serialized(original, lock))
    replace(Table, "__deepcopy__", _deepcopy_table)
    for model in list(model_data["dynamodb"].values()):
        if isinstance(model, type):  # the registry holds every BaseModel subclass
            replace(model, "__new__", staticmethod(_untracked_new))

    def undo() -> None:
        for owner, name, value in reversed(saved):
            if value is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, value)

    return undo


def _serialized(operation: Callable[..., Any], lock: threading.RLock) -> Callable[..., Any]:
    @functools.wraps(operation)
    def serialized(*args: object, **kwargs: object) -> object:
        with lock:
            return operation(*args, **kwargs)

    return serialized


def _with_item_rollback(transact: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(transact)
    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        restores = _copy_touched_items(backend, transact_items)
        token = _ITEM_ROLLBACK.set(True)
        try:
            transact(backend, transact_items)
        except BaseException:
            for restore in reversed(restores):
                restore()
            raise
        finally:
            _ITEM_ROLLBACK.reset(token)

    return transact_write_items


def _copy_touched_items(
    backend: Any, transact_items: list[dict[str, Any]]
) -> list[Callable[[], None]]:
    """For each item the transaction may write, a function that puts it back as it is now."""
    from moto.dynamodb.exceptions import MockValidationException, ResourceNotFoundException

    restores: list[Callable[[], None]] = []
    for entry in transact_items:
        for kind, operation in entry.items():
            if kind == "ConditionCheck":
                continue  # reads only
            try:
                table = backend.get_table(operation["TableName"])
                keys = operation["Item"] if kind == "Put" else operation["Key"]
                hash_key, range_key = backend.get_keys_value(table, keys)
            except (KeyError, TypeError, MockValidationException, ResourceNotFoundException):
                continue  # moto cancels such an operation itself, before it writes anything
            # A copy: update_item changes the stored item in place.
            before = copy.deepcopy(table.get_item(hash_key, range_key))
            restores.append(functools.partial(_put_back, table, hash_key, range_key, before))
    return restores


def _put_back(table: Any, hash_key: object, range_key: object, item: object) -> None:
    """Store `item` under its key as moto's Table keeps items (None: the key had none)."""
    if range_key is None:
        slot, key = table.items, hash_key
    else:
        slot, key = table.items[hash_key], range_key
    if item is None:
        slot.pop(key, None)
    else:
        slot[key] = item


def _deepcopy_table(table: Any, memo: dict[int, Any]) -> Any:
    if _ITEM_ROLLBACK.get():
        # moto's whole-table rollback backup: the touched items were copied instead, and
        # its rollback (putting this "copy" back in place) changes nothing.
        return table
    # Any other deep copy (a backup, a restore) stays a full one, made as copy.deepcopy
    # makes it for a class without __deepcopy__: a new instance, then its state copied.
    clone = copy.copy(table)
    memo[id(table)] = clone
    clone.__dict__.update(copy.deepcopy(vars(table), memo))
    return clone


def _untracked_new(cls: type, *args: object, **kwargs: object) -> object:
    """BaseModel.__new__ without the append to cls.instances_tracked."""
    return object.__new__(cls)
