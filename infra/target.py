"""Which table an operator script works on: the local run, a deployed stack, or a name.

Every script takes the same options (`--endpoint-url`, `--stack-name` | `--table`,
`--region`) and sets the environment that `authapi`'s settings read, before the script
reads them (`Settings.from_env`).
"""

from __future__ import annotations

import argparse
import os

import boto3


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--stack-name", help="read the table name from this stack's outputs")
    target.add_argument("--table", help="table name")
    parser.add_argument("--endpoint-url", help="e.g. the local moto server")
    parser.add_argument("--region", default=None)


def point_at_target(args: argparse.Namespace) -> None:
    if args.region:
        os.environ["AWS_REGION"] = args.region
    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    if args.stack_name:
        os.environ["TABLE_NAME"] = table_from_stack(args.stack_name, args.region)
    elif args.table:
        os.environ["TABLE_NAME"] = args.table


def table_from_stack(stack_name: str, region: str | None) -> str:
    stack = boto3.client("cloudformation", region_name=region).describe_stacks(
        StackName=stack_name
    )["Stacks"][0]
    for output in stack.get("Outputs", []):
        if output["OutputKey"] == "TableName":
            return str(output["OutputValue"])
    raise SystemExit(f"Stack {stack_name} has no TableName output.")
