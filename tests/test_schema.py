"""template.yaml is the single source of truth for what gets deployed; these tests
protect its agreement with the code that runs against it.

- The pynamodb models and the UsersTable definition: keys, attribute types, indexes
  and the TTL attribute (a drift here works in moto-less unit tests and then fails,
  or silently never expires items, in AWS).
- The Lambda function: runtime, architecture, the handler path, and least-privilege
  IAM (no Scan, no wildcards, only this table).
- The function's requirements file, generated from pyproject.toml.
"""

from __future__ import annotations

import fnmatch
import importlib
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from mangum import Mangum
from pynamodb.attributes import TTLAttribute
from pynamodb.models import Model

from authapi.audit import models as audit_models
from authapi.audit.domain import AuditEvent
from authapi.audit.schemas import AuditEventOut
from authapi.auth import models as auth_models
from authapi.core import db
from authapi.core.config import Settings
from authapi.core.db import TTL_ATTRIBUTE, TableItem
from authapi.users import models as user_models
from authapi.users.domain import UserSummary
from authapi.users.schemas import UserOut
from infra import requirements
from infra.template import TEMPLATE_PATH, load_template, table_definitions

ROOT = TEMPLATE_PATH.parent
TABLE_ID = "UsersTable"
FUNCTION_ID = "ApiFunction"
KNOWN_ITEM_TYPES = {
    user_models.UserItem,
    user_models.ClaimItem,
    auth_models.SessionItem,
    auth_models.RefreshTokenItem,
}


# --- helpers ---------------------------------------------------------------------------


def _template() -> dict[str, Any]:
    return load_template()


def _table() -> dict[str, Any]:
    return table_definitions(_template())[TABLE_ID]


def _function() -> dict[str, Any]:
    resource: dict[str, Any] = _template()["Resources"][FUNCTION_ID]
    assert resource["Type"] == "AWS::Serverless::Function"
    return resource


def _effective_function_property(name: str) -> Any:
    """A function property as SAM resolves it: the function's own value, else Globals."""
    own = _function()["Properties"]
    if name in own:
        return own[name]
    return _template().get("Globals", {}).get("Function", {}).get(name)


def _item_types() -> list[type[Model]]:
    """Every model class below TableItem (all of them once authapi.main is imported)."""
    importlib.import_module("authapi.main")

    def walk(cls: type[Model]) -> Iterator[type[Model]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    return list(walk(TableItem))


def _key_schema(entries: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """[{"AttributeName": a, "KeyType": t}, ...] -> {a: t} (order-insensitive)."""
    return {entry["AttributeName"]: entry["KeyType"] for entry in entries}


def _definitions(entries: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {entry["AttributeName"]: entry["AttributeType"] for entry in entries}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- the table and the models --------------------------------------------------------


class TestTableAgreesWithModels:
    def test_template_table_keys_are_table_items_keys(self) -> None:
        """The template's KeySchema is TableItem's: hash `pk`, range `sk`, both strings."""
        attributes = TableItem.get_attributes().values()
        assert [a.attr_name for a in attributes if a.is_hash_key] == ["pk"]
        assert [a.attr_name for a in attributes if a.is_range_key] == ["sk"]
        schema = TableItem._get_schema()
        table = _table()
        assert _key_schema(table["KeySchema"]) == {"pk": "HASH", "sk": "RANGE"}
        assert _key_schema(table["KeySchema"]) == _key_schema(schema["key_schema"])
        assert _definitions(schema["attribute_definitions"]) == {
            "pk": "S",
            "sk": "S",
            "gsi1pk": "S",
            "gsi1sk": "S",
        }

    def test_attribute_definitions_are_exactly_the_key_attributes(self) -> None:
        """AttributeDefinitions list each key attribute of the table and of the models'
        indexes with the models' type, and nothing else (CloudFormation rejects unused
        definitions; a wrong type makes every write fail)."""
        expected: dict[str, str] = {}
        models: list[type[Model]] = [TableItem, *_item_types()]
        for model in models:
            expected.update(_definitions(model._get_schema()["attribute_definitions"]))
        assert _definitions(_table()["AttributeDefinitions"]) == expected

    def test_every_item_type_uses_the_table_keys_and_table(self) -> None:
        """Each item type (users, claims, sessions, refresh tokens, and any added later)
        shares TableItem's keys and table: single-table design, one schema."""
        item_types = _item_types()
        assert set(item_types) >= KNOWN_ITEM_TYPES
        expected = _key_schema(TableItem._get_schema()["key_schema"])
        for model in item_types:
            schema = model._get_schema()
            assert _key_schema(schema["key_schema"]) == expected, model.__name__
            definitions = _definitions(schema["attribute_definitions"])
            assert definitions.items() >= {("pk", "S"), ("sk", "S")}, model.__name__
            assert model.Meta.table_name == TableItem.Meta.table_name, model.__name__

    def test_model_indexes_exist_in_the_template(self) -> None:
        """A secondary index a model queries must be one the template creates, with the
        same key schema (and the template has no index no model declares)."""
        in_models: dict[str, dict[str, str]] = {}
        models: list[type[Model]] = [TableItem, *_item_types()]
        for model in models:
            for index in model._get_schema()["global_secondary_indexes"]:
                in_models[index["index_name"]] = _key_schema(index["key_schema"])
        in_template = {
            index["IndexName"]: _key_schema(index["KeySchema"])
            for index in _table().get("GlobalSecondaryIndexes", [])
        }
        assert in_template == in_models

    def test_index_projection_is_the_listed_attributes(self) -> None:
        """The by-kind index copies exactly `db.LISTED_ATTRIBUTES`, in the template and in
        the models (ASVS 5.0 14.2.6, least data: no secret is copied into the index), and
        every attribute the listings read is among them."""
        [index] = _table()["GlobalSecondaryIndexes"]
        assert index["Projection"]["ProjectionType"] == "INCLUDE"
        assert set(index["Projection"]["NonKeyAttributes"]) == set(db.LISTED_ATTRIBUTES)
        for model in (user_models.UserItem, audit_models.AuditEventItem):
            [schema] = model._get_schema()["global_secondary_indexes"]
            projection = schema["projection"]
            assert projection["ProjectionType"] == "INCLUDE", model.__name__
            assert set(projection["NonKeyAttributes"]) == set(db.LISTED_ATTRIBUTES)
        secrets = {"password_hash", "totp_secret", "pending_totp_secret", "recovery_code_hashes"}
        assert not secrets & set(db.LISTED_ATTRIBUTES)
        listed = set(UserOut.model_fields) - {"id"} | {"user_id"}
        assert listed <= set(db.LISTED_ATTRIBUTES)


class TestEachRecordDefinedOnce:
    """The code's copies of a record's fields, each checked against the one definition
    (the domain dataclass); tests/api checks the HTTP bodies against the contract."""

    def test_user_out_shows_the_users_summary(self) -> None:
        assert set(UserOut.model_fields) == {field.name for field in fields(UserSummary)}

    def test_audit_event_out_shows_the_audit_event(self) -> None:
        assert set(AuditEventOut.model_fields) == {field.name for field in fields(AuditEvent)}

    def test_listed_attributes_are_what_the_listings_show(self) -> None:
        """The by-kind index holds the listings' fields (under their item attribute
        names) and the TTL, nothing more."""
        users = {"user_id" if name == "id" else name for name in UserOut.model_fields}
        events = {"event_id" if name == "id" else name for name in AuditEventOut.model_fields}
        assert set(db.LISTED_ATTRIBUTES) == users | events | {TTL_ATTRIBUTE}
        assert len(db.LISTED_ATTRIBUTES) == len(set(db.LISTED_ATTRIBUTES))


class TestTimeToLive:
    def test_template_ttl_attribute_is_the_code_constant(self) -> None:
        """The TTL the template enables is on `authapi.core.db.TTL_ATTRIBUTE`."""
        ttl = _table()["TimeToLiveSpecification"]
        assert ttl["Enabled"] is True
        assert ttl["AttributeName"] == TTL_ATTRIBUTE

    def test_ttl_attributes_of_the_models_use_that_name(self) -> None:
        """Every TTLAttribute (sessions, refresh tokens) is stored under the TTL attribute
        name, and no other kind of attribute takes that name (DynamoDB would delete
        items by whatever number it found there)."""
        ttl_fields: list[str] = []
        for model in _item_types():
            for name, attribute in model.get_attributes().items():
                if isinstance(attribute, TTLAttribute):
                    assert attribute.attr_name == TTL_ATTRIBUTE, f"{model.__name__}.{name}"
                    ttl_fields.append(f"{model.__name__}.{name}")
                else:
                    assert attribute.attr_name != TTL_ATTRIBUTE, f"{model.__name__}.{name}"
        assert set(ttl_fields) >= {"SessionItem.expires_at", "RefreshTokenItem.expires_at"}

    def test_table_created_from_the_template_has_ttl_on_that_attribute(
        self, aws: None, settings: Settings
    ) -> None:
        """The table the tests and the local run create from template.yaml has the same
        keys and has TTL enabled on TTL_ATTRIBUTE."""
        client = boto3.client("dynamodb")
        table = client.describe_table(TableName=settings.table_name)["Table"]
        assert _key_schema(table["KeySchema"]) == {"pk": "HASH", "sk": "RANGE"}
        assert _definitions(table["AttributeDefinitions"]) == _definitions(
            _table()["AttributeDefinitions"]
        )
        assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == ["by-kind"]
        ttl = client.describe_time_to_live(TableName=settings.table_name)
        description = ttl["TimeToLiveDescription"]
        assert description["TimeToLiveStatus"] == "ENABLED"
        assert description["AttributeName"] == TTL_ATTRIBUTE

    def test_models_bound_to_the_created_table_read_back_the_ttl(
        self, aws: None, settings: Settings
    ) -> None:
        """pynamodb, bound to the created table, writes the TTL attribute as the epoch
        number DynamoDB expects under TTL_ATTRIBUTE."""
        db.bind(settings)
        session = auth_models.SessionItem(
            pk="USER#schema-test", sk=auth_models.session_sk("s1"), created_at=1
        )
        session.expires_at = datetime(2100, 1, 1, tzinfo=UTC)
        session.save()
        raw = boto3.client("dynamodb").get_item(
            TableName=settings.table_name,
            Key={"pk": {"S": "USER#schema-test"}, "sk": {"S": "SESSION#s1"}},
        )["Item"]
        assert raw[TTL_ATTRIBUTE] == {"N": "4102444800"}


# --- the Lambda function ------------------------------------------------------------


class TestFunction:
    def test_runtime_architecture_and_handler(self) -> None:
        """The function runs Python 3.13, on arm64 unless the Architecture parameter says
        otherwise, and enters at authapi.main.handler."""
        assert _effective_function_property("Runtime") == "python3.13"
        assert _effective_function_property("Architectures") == [{"Ref": "Architecture"}]
        architecture = load_template()["Parameters"]["Architecture"]
        assert architecture["Default"] == "arm64"
        assert set(architecture["AllowedValues"]) == {"arm64", "x86_64"}
        assert _function()["Properties"]["Handler"] == "authapi.main.handler"

    def test_handler_path_resolves_inside_the_code_uri(self) -> None:
        """The Handler string names a module in CodeUri and a Mangum adapter in it, so
        `sam build` packages what the function imports."""
        properties = _function()["Properties"]
        module_name, _, attribute = properties["Handler"].rpartition(".")
        module_file = ROOT / properties["CodeUri"] / Path(*module_name.split("."))
        assert module_file.with_suffix(".py").is_file()
        entry_point = getattr(importlib.import_module(module_name), attribute, None)
        assert isinstance(entry_point, Mangum), properties["Handler"]

    def test_function_uses_the_template_table(self) -> None:
        """TABLE_NAME is the template's table, the one the IAM policy is scoped to."""
        variables = _function()["Properties"]["Environment"]["Variables"]
        assert variables["TABLE_NAME"] == {"Ref": TABLE_ID}


def _allowed_table_resource(resource: Any) -> bool:
    """The table's ARN (GetAtt, either form) or its indexes via Sub."""
    if not isinstance(resource, dict) or len(resource) != 1:
        return False
    if "Fn::GetAtt" in resource:
        target = resource["Fn::GetAtt"]
        return target in (f"{TABLE_ID}.Arn", [TABLE_ID, "Arn"])
    if "Fn::Sub" in resource and isinstance(resource["Fn::Sub"], str):
        return resource["Fn::Sub"] in (f"${{{TABLE_ID}.Arn}}", f"${{{TABLE_ID}.Arn}}/index/*")
    return False


def _allow_statements() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in _function()["Properties"].get("Policies", []):
        # Managed policies and SAM policy templates hide their actions from this test;
        # DynamoDB ones (AmazonDynamoDBFullAccess, DynamoDBCrudPolicy, ...) grant Scan.
        assert isinstance(policy, dict), f"managed policy {policy!r}: write the statements"
        assert "Statement" in policy, f"policy template {sorted(policy)}: write the statements"
        for statement in _as_list(policy["Statement"]):
            if statement["Effect"] == "Allow":
                statements.append(statement)
    return statements


class TestLeastPrivilege:
    def test_allow_statements_name_their_actions(self) -> None:
        """No Allow with NotAction / NotResource: they grant everything not listed."""
        statements = _allow_statements()
        assert statements
        for statement in statements:
            assert "NotAction" not in statement
            assert "NotResource" not in statement

    def test_no_scan_and_no_wildcard_actions(self) -> None:
        """No Allow grants dynamodb:Scan, directly or through a wildcard (`*`,
        `dynamodb:*`, `dynamodb:S*`, ...), nor any wildcard DynamoDB action."""
        dynamodb_actions: list[str] = []
        for statement in _allow_statements():
            for action in _as_list(statement.get("Action", [])):
                assert isinstance(action, str)
                lowered = action.lower()
                assert not fnmatch.fnmatchcase("dynamodb:scan", lowered), action
                service = lowered.split(":", 1)[0]
                if fnmatch.fnmatchcase("dynamodb", service):  # "dynamodb", "dynamo*", "*"
                    assert "*" not in lowered, action
                    assert "?" not in lowered, action
                if lowered.startswith("dynamodb:"):
                    dynamodb_actions.append(lowered)
        assert "dynamodb:getitem" in dynamodb_actions

    def test_dynamodb_statements_are_limited_to_the_table(self) -> None:
        """Every statement granting a DynamoDB action names only the table's ARN (or its
        indexes): no `*`, no other table."""
        checked = 0
        for statement in _allow_statements():
            actions = [str(action).lower() for action in _as_list(statement.get("Action", []))]
            if not any(action.startswith("dynamodb:") for action in actions):
                continue
            resources = _as_list(statement["Resource"])
            assert resources
            for resource in resources:
                assert _allowed_table_resource(resource), resource
            checked += 1
        assert checked >= 1


# --- the function's requirements ----------------------------------------------------


def _pyproject_dependencies() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        dependencies: list[str] = tomllib.load(handle)["project"]["dependencies"]
    return dependencies


def _requirement_lines(text: str) -> list[str]:
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


class TestRequirements:
    def test_render_lists_exactly_the_project_dependencies(self) -> None:
        """The generated requirements are [project.dependencies], in order, nothing
        added or dropped, and say they are generated."""
        rendered = requirements.render()
        assert _requirement_lines(rendered) == _pyproject_dependencies()
        assert rendered.startswith("# Generated from pyproject.toml")
        assert "Do not edit" in rendered.splitlines()[0]

    def test_main_writes_what_render_returns(self, tmp_path: Path) -> None:
        """`python -m infra.requirements OUTPUT` writes the rendered file byte for byte."""
        output = tmp_path / "requirements.txt"
        assert requirements.main([str(output)]) == 0
        assert output.read_text(encoding="utf-8") == requirements.render()


# --- production settings -------------------------------------------------------------


class TestProductionTemplate:
    """What a security reviewer checks in template.yaml before the first deploy."""

    def test_parameters_a_stage_needs(self) -> None:
        parameters = load_template()["Parameters"]
        assert {
            "StageName",
            "Architecture",
            "LogRetentionDays",
            "ThrottlingBurstLimit",
            "ThrottlingRateLimit",
            "DeletionProtection",
            "CorsAllowOrigins",
            "WebAuthnRpId",
            "WebAuthnOrigins",
        } <= set(parameters)
        assert parameters["DeletionProtection"]["Default"] == "true"

    def test_table_is_protected_recoverable_encrypted_and_on_demand(self) -> None:
        resource = load_template()["Resources"][TABLE_ID]
        properties = resource["Properties"]
        assert resource["DeletionPolicy"] == "Retain"
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
        assert properties["SSESpecification"] == {"SSEEnabled": True}
        assert properties["DeletionProtectionEnabled"] == {"Ref": "DeletionProtection"}
        assert properties["TimeToLiveSpecification"]["Enabled"] is True

    def test_api_is_throttled_and_access_logged_with_retention(self) -> None:
        resources = load_template()["Resources"]
        api = resources["HttpApi"]["Properties"]
        assert api["DefaultRouteSettings"] == {
            "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
            "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        }
        destination = api["AccessLogSettings"]["DestinationArn"]
        log_group = (
            destination["Fn::GetAtt"][0]
            if isinstance(destination["Fn::GetAtt"], list)
            else destination["Fn::GetAtt"].split(".")[0]
        )
        assert resources[log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        function_logs = _function()["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert resources[function_logs]["Properties"]["RetentionInDays"] == {
            "Ref": "LogRetentionDays"
        }

    def test_kms_decrypt_only_through_ssm(self) -> None:
        statements = [
            statement
            for policy in _function()["Properties"]["Policies"]
            for statement in policy["Statement"]
            if "kms:Decrypt" in statement["Action"]
        ]
        assert len(statements) == 1
        assert statements[0]["Condition"]["StringEquals"]["kms:ViaService"] == {
            "Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"
        }

    def test_outputs_name_the_url_table_and_function(self) -> None:
        assert {"ApiUrl", "TableName", "FunctionName"} <= set(load_template()["Outputs"])
