"""The capacity model behind BENCHMARKS.md's "AWS calls" table (bench/capacity.py).

moto reports constant capacity, so the benchmark computes it from item sizes; these
cases pin the rules to DynamoDB's documented sizing and rounding.
"""

from __future__ import annotations

from typing import Any

from bench.capacity import cost, item_size
from bench.sdk_calls import Call

SMALL_USER = {
    "pk": {"S": "USER#1"},
    "sk": {"S": "USER"},
    "gsi1pk": {"S": "USERS"},
    "gsi1sk": {"S": "2026-11-28T20:00:00Z#1"},
}
KEY = ("USER#1", "USER")


def _call(operation: str, params: dict[str, Any], response: dict[str, Any] | None = None) -> Call:
    return Call("dynamodb", operation, params, response or {})


def test_item_size_counts_names_and_values() -> None:
    assert item_size({"pk": {"S": "USER#1"}}) == 2 + 6
    assert item_size({"n": {"N": "12345"}}) == 1 + (3 + 1)
    assert item_size({"ok": {"BOOL": True}}) == 2 + 1
    assert item_size({"m": {"M": {"a": {"S": "xy"}}}}) == 1 + 3 + (1 + 1 + 2)
    assert item_size({"l": {"L": [{"S": "é"}]}}) == 1 + 3 + (1 + 2)
    assert item_size(None) == 0


def test_reads_round_up_to_4_kb_and_halve_when_eventually_consistent() -> None:
    big = {"pk": {"S": "x"}, "sk": {"S": "y"}, "blob": {"S": "a" * 5000}}
    strong = _call("GetItem", {"ConsistentRead": True}, {"Item": big})
    eventual = _call("Query", {}, {"Items": [big, big]})
    missing = _call("GetItem", {"ConsistentRead": True}, {})
    assert cost([strong], {}, {}).read_units == 2
    assert cost([eventual], {}, {}).read_units == 0.5 * 3
    assert cost([missing], {}, {}).read_units == 1


def test_writes_pay_for_the_index_entry_only_when_it_changes() -> None:
    """Projection INCLUDE: a sign-in (totp_last_step) leaves the index alone, a profile
    edit (full_name, listed) writes the entry too, a moved index key writes it twice."""
    update = _call("UpdateItem", {"Key": {"pk": SMALL_USER["pk"], "sk": SMALL_USER["sk"]}})
    signed_in = {**SMALL_USER, "totp_last_step": {"N": "59000000"}}
    renamed = {**SMALL_USER, "full_name": {"S": "Alice"}}
    reordered = {**SMALL_USER, "gsi1sk": {"S": "other"}}
    assert cost([update], {KEY: SMALL_USER}, {KEY: signed_in}).write_units == 1
    assert cost([update], {KEY: SMALL_USER}, {KEY: renamed}).write_units == 1 + 1
    assert cost([update], {KEY: SMALL_USER}, {KEY: reordered}).write_units == 1 + 2
    created = _call("PutItem", {"Item": SMALL_USER})
    assert cost([created], {}, {KEY: SMALL_USER}).write_units == 1 + 1


def test_transactions_count_double_and_a_condition_check_as_a_write() -> None:
    update = {"Update": {"Key": {"pk": SMALL_USER["pk"], "sk": SMALL_USER["sk"]}}}
    check = {"ConditionCheck": {"Key": {"pk": {"S": "C"}, "sk": {"S": "C"}}}}
    transaction = _call("TransactWriteItems", {"TransactItems": [update, check]})
    renamed = {**SMALL_USER, "full_name": {"S": "Alice"}}
    assert cost([transaction], {KEY: SMALL_USER}, {KEY: renamed}).write_units == 2 * 2 + 2


def test_other_services_cost_no_dynamodb_capacity() -> None:
    ssm = Call("ssm", "GetParameters", {"Names": ["a"]}, {"Parameters": []})
    spent = cost([ssm], {}, {})
    assert (spent.read_units, spent.write_units, spent.operations) == (0, 0, ("GetParameters",))
