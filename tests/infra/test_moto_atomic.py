"""infra/moto_atomic.py: moto's DynamoDB transactions stay all-or-nothing, cost the items
they touch, and leave nothing alive.

moto 5.2.5 backs every transaction up by deep-copying the whole table, and its model
registry keeps every copy (and every item ever replaced) alive; the patch copies only
the touched items. These tests run on the in-process moto that every test uses, patched
by tests/conftest.py exactly as the local run patches its moto server. They count
objects, never time.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

TABLE = "moto-atomic"
# Items already in the table, and how many transactions each test runs.
ITEMS = 50
TRANSACTIONS = 40


def key(pk: str, sk: str = "A") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def put(pk: str, sk: str = "A", **values: str) -> dict[str, Any]:
    item = key(pk, sk) | {name: {"S": value} for name, value in values.items()}
    return {"Put": {"TableName": TABLE, "Item": item}}


def update(pk: str, sk: str = "A", **values: str) -> dict[str, Any]:
    names = sorted(values)
    return {
        "Update": {
            "TableName": TABLE,
            "Key": key(pk, sk),
            "UpdateExpression": "SET " + ", ".join(f"#{n} = :{n}" for n in names),
            "ExpressionAttributeNames": {f"#{n}": n for n in names},
            "ExpressionAttributeValues": {f":{n}": {"S": values[n]} for n in names},
        }
    }


def delete(pk: str, sk: str = "A") -> dict[str, Any]:
    return {"Delete": {"TableName": TABLE, "Key": key(pk, sk)}}


def failing_check(pk: str, sk: str = "A") -> dict[str, Any]:
    """A condition that fails on an existing item: the transaction is cancelled."""
    return {
        "ConditionCheck": {
            "TableName": TABLE,
            "Key": key(pk, sk),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(ITEMS):
            client.put_item(TableName=TABLE, Item=key(f"user{i}") | {"v": {"S": "0"}})
        yield client


def everything(ddb: Any, table: str = TABLE) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


def live(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)


@pytest.mark.parametrize("failing_first", [True, False], ids=["fails-first", "fails-last"])
def test_a_cancelled_transaction_leaves_every_item_as_it_was(ddb: Any, failing_first: bool) -> None:
    before = everything(ddb)
    writes = [
        update("user1", v="changed", extra="new"),
        put("user2", v="replaced"),
        put("newcomer"),
        delete("user3"),
        update("user4", sk="B", v="created by an update"),
    ]
    check = failing_check("user0")
    with pytest.raises(ClientError) as cancelled:
        ddb.transact_write_items(
            TransactItems=[check, *writes] if failing_first else [*writes, check]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert everything(ddb) == before


@pytest.mark.parametrize(
    "second",
    [
        delete("user1"),  # a second operation on an item: moto's rollback covers it
        put("user2") | delete("user3"),  # two operations in one entry: moto's did not
    ],
    ids=["same-item-twice", "two-operations-in-one-entry"],
)
def test_a_rejected_transaction_leaves_every_item_as_it_was(
    ddb: Any, second: dict[str, Any]
) -> None:
    """moto rejects these while it applies the transaction, after the first operations."""
    before = everything(ddb)
    with pytest.raises(ClientError) as rejected:
        ddb.transact_write_items(
            TransactItems=[update("user1", v="changed"), put("newcomer"), second]
        )
    assert rejected.value.response["Error"]["Code"] == "ValidationException"
    assert everything(ddb) == before


def test_a_committed_transaction_applies_every_operation(ddb: Any) -> None:
    ddb.transact_write_items(
        TransactItems=[update("user1", v="changed"), put("newcomer", v="1"), delete("user3")]
    )
    stored = {(item["pk"]["S"], item["sk"]["S"]): item for item in everything(ddb)}
    assert stored[("user1", "A")]["v"] == {"S": "changed"}
    assert stored[("newcomer", "A")]["v"] == {"S": "1"}
    assert ("user3", "A") not in stored
    assert len(stored) == ITEMS


def test_transactions_leave_no_table_copy_or_item_alive(ddb: Any) -> None:
    """Committed and cancelled transactions on existing items: afterwards the process
    holds as many moto tables and items as before (unpatched: a whole table per
    operation, and every replaced item, stay alive until moto is reset)."""
    tables, items = live(Table), live(Item)
    for i in range(TRANSACTIONS):
        ddb.transact_write_items(
            TransactItems=[update(f"user{i}", v=str(i)), put(f"user{i + 1}", v=str(i))]
        )
        with pytest.raises(ClientError):
            ddb.transact_write_items(
                TransactItems=[
                    put(f"newcomer{i}"),
                    update(f"user{i}", v="x"),
                    failing_check("user0"),
                ]
            )
    assert live(Table) == tables
    assert live(Item) == items
    assert len(everything(ddb)) == ITEMS


def test_a_table_backup_is_still_a_full_copy(ddb: Any) -> None:
    """Table deep copies outside a transaction (backups, restores) still copy."""
    arn = ddb.create_backup(TableName=TABLE, BackupName="before")["BackupDetails"]["BackupArn"]
    before = everything(ddb)
    ddb.transact_write_items(TransactItems=[update("user1", v="changed"), delete("user2")])
    ddb.restore_table_from_backup(TargetTableName="restored", BackupArn=arn)
    assert everything(ddb, "restored") == before
