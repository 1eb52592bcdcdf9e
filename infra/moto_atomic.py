"""Give an embedded moto server the per-item write atomicity real DynamoDB has.

moto's server answers requests on many threads, and its DynamoDB backend checks a
ConditionExpression and applies the write in two steps with no lock, so two parallel
conditional writes can both pass (we saw 2 of 20 parallel logins with one TOTP code
succeed). Worse, a transaction deep-copies the whole table for its rollback while other
threads write to it, which fails with "dictionary changed size during iteration" and
answers 500 (the API then answers 503): under a few concurrent sign-ups the local run
failed one request in ten. DynamoDB evaluates a condition and writes atomically, and a
read never sees a write half done. One lock around moto's write and read operations
restores that, for the local run and the tests alike, so that both exercise *our* use
of conditions rather than moto's threading.
"""

from __future__ import annotations

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


def serialize_dynamodb_writes() -> Callable[[], None]:
    """Patch moto's DynamoDB backend (every instance, in this process); returns the undo."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    originals: dict[str, Any] = {}
    for name in (*WRITE_OPERATIONS, *READ_OPERATIONS):
        original = getattr(DynamoDBBackend, name)
        originals[name] = original

        @functools.wraps(original)
        def serialized(*args: object, _original: Any = original, **kwargs: object) -> object:
            with lock:
                return _original(*args, **kwargs)

        setattr(DynamoDBBackend, name, serialized)

    def undo() -> None:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)

    return undo
