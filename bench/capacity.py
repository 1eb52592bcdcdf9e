"""DynamoDB and SSM calls per request, and the capacity DynamoDB would charge for them.

moto answers `ReturnConsumedCapacity` with constants (1.0 per write, 0.5 per read,
whatever the item size or read consistency), so the units here are computed instead,
from the items each call reads or writes and DynamoDB's published rounding rules:

* reads: 1 RCU per started 4 KB for a strongly consistent read, half for an eventually
  consistent one (every GSI query); a Query rounds the total of the items it reads; a
  GetItem that finds nothing still costs the minimum;
* writes: 1 WCU per started 1 KB of the larger of the item before and after the write;
  a write that changes an item's entry in the `by-kind` index (its keys or one of the
  listed attributes it projects, `authapi.core.db.LISTED_ATTRIBUTES`) also writes that
  entry, twice when the index key changes; other writes leave the index alone;
* TransactWriteItems: twice the units of each action, a ConditionCheck billed as a write.

Item sizes follow DynamoDB's sizing: attribute name lengths plus value sizes (strings
and binaries by their bytes, numbers about 1 byte per 2 digits + 1, 3 bytes per map or
list plus 1 per element). The states before and after each request come from reading
the table (a benchmark-only Scan, outside the timed path).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from authapi.core.db import LISTED_ATTRIBUTES
from tests.support import table_items

from .sdk_calls import Call, recording

INDEX_PARTITION_KEY = "gsi1pk"
INDEX_KEYS = ("gsi1pk", "gsi1sk")
TABLE_KEYS = ("pk", "sk")
READ_UNIT = 4096
WRITE_UNIT = 1024


# ---- item sizes -------------------------------------------------------------------------------


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """The size of one attribute value in DynamoDB's wire format (`{"S": ...}` etc.)."""
    [(kind, content)] = value.items()
    if kind == "S":
        return len(str(content).encode("utf-8"))
    if kind == "N":
        return _number_size(str(content))
    if kind == "B":
        raw = content if isinstance(content, bytes) else base64.b64decode(content)
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(item).encode("utf-8")) for item in content)
    if kind == "NS":
        return sum(_number_size(str(item)) for item in content)
    if kind == "BS":
        return sum(
            len(item) if isinstance(item, bytes) else len(base64.b64decode(item))
            for item in content
        )
    if kind == "L":
        return 3 + sum(1 + value_size(item) for item in content)
    if kind == "M":
        return 3 + sum(
            1 + len(name.encode("utf-8")) + value_size(item) for name, item in content.items()
        )
    raise ValueError(f"unknown attribute type {kind!r}")


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def key_of(item: dict[str, Any]) -> tuple[str, str]:
    return (item["pk"]["S"], item["sk"]["S"])


# ---- the calls of one request -----------------------------------------------------------------


Table = dict[tuple[str, str], dict[str, Any]]


@dataclass(frozen=True)
class Cost:
    """What the calls of one request consumed."""

    operations: tuple[str, ...]
    read_units: float
    write_units: float

    def label(self) -> str:
        counts: dict[str, int] = {}
        for name in self.operations:
            counts[name] = counts.get(name, 0) + 1
        return ", ".join(f"{name} x{n}" if n > 1 else name for name, n in counts.items())


def index_entry(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the `by-kind` index holds of an item: its keys and the listed attributes
    (projection INCLUDE); None for an item outside the (sparse) index."""
    if not item or INDEX_PARTITION_KEY not in item:
        return None
    kept = (*TABLE_KEYS, *INDEX_KEYS, *LISTED_ATTRIBUTES)
    return {name: value for name, value in item.items() if name in kept}


def _write_units(key: tuple[str, str], before: Table, after: Table) -> float:
    """A standalone write to `key`: the item, plus its index entry if that changed."""
    old, new = before.get(key), after.get(key)
    units = float(_units(max(item_size(old), item_size(new)), WRITE_UNIT))
    old_entry, new_entry = index_entry(old), index_entry(new)
    if old_entry == new_entry:
        return units  # no projected attribute changed: DynamoDB skips the index
    old_index_key = None if old_entry is None else [old_entry.get(k) for k in INDEX_KEYS]
    new_index_key = None if new_entry is None else [new_entry.get(k) for k in INDEX_KEYS]
    if old_entry is not None and new_entry is not None and old_index_key != new_index_key:
        # The index key moved: the old entry is deleted and the new one written.
        return (
            units
            + _units(item_size(old_entry), WRITE_UNIT)
            + _units(item_size(new_entry), WRITE_UNIT)
        )
    return units + _units(max(item_size(old_entry), item_size(new_entry)), WRITE_UNIT)


def _item_key(params: dict[str, Any]) -> tuple[str, str]:
    if "Key" in params:
        return key_of(params["Key"])
    return key_of(params["Item"])


def cost(calls: list[Call], before: Table, after: Table) -> Cost:
    reads = 0.0
    writes = 0.0
    for call in calls:
        if call.service != "dynamodb":
            continue
        params, response = call.params, call.response
        consistent = bool(params.get("ConsistentRead"))
        factor = 1.0 if consistent else 0.5
        if call.operation == "GetItem":
            reads += factor * _units(item_size(response.get("Item")), READ_UNIT)
        elif call.operation == "Query":
            total = sum(item_size(item) for item in response.get("Items", []))
            reads += factor * _units(total, READ_UNIT)
        elif call.operation in ("PutItem", "UpdateItem", "DeleteItem"):
            writes += _write_units(_item_key(params), before, after)
        elif call.operation == "TransactWriteItems":
            for action in params["TransactItems"]:
                [(kind, body)] = action.items()
                if kind == "ConditionCheck":
                    key = key_of(body["Key"])
                    writes += 2 * _units(item_size(before.get(key)), WRITE_UNIT)
                else:
                    writes += 2 * _write_units(_item_key(body), before, after)
        else:
            raise ValueError(f"no capacity rule for {call.operation}")
    return Cost(tuple(call.operation for call in calls), reads, writes)


def snapshot(table_name: str) -> Table:
    """Every item by key (a benchmark-only Scan, outside any request)."""
    return {key_of(item): item for item in table_items(table_name)}


@dataclass
class Spending:
    """What a block of code did to AWS: its calls, and (once the block has ended) the
    capacity they consumed."""

    calls: list[Call] = field(default_factory=list)
    cost: Cost = field(default_factory=lambda: Cost((), 0.0, 0.0))


@contextmanager
def spending(table_name: str) -> Iterator[Spending]:
    """Record every AWS call of the block and price it against the table's items before
    and after (the write units of an item depend on both)."""
    before = snapshot(table_name)
    spent = Spending()
    with recording() as recorder:
        yield spent
    spent.calls = recorder.calls
    spent.cost = cost(recorder.calls, before, snapshot(table_name))
