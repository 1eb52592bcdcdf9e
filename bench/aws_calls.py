"""AWS calls and DynamoDB capacity per endpoint.

    python -m bench.aws_calls [--output PATH]      (this section only; make bench: all)

Every endpoint of the warm-latency benchmark (bench/warm_latency.py: the same users,
sessions and requests) is called once more, after a warm-up pass, with every botocore
call recorded: the operations, and the read and write capacity units DynamoDB would
charge for them, computed from the items read and written (bench/capacity.py explains
why and how). A last request is a container's first, which also reads the key sets
from SSM. The budgets themselves are asserted by tests/storage/test_call_budget.py;
this table is the full picture.
"""

from __future__ import annotations

from .inprocess import use_fake_aws

STAGE = "calls"
use_fake_aws(STAGE)  # before anything creates an AWS client

import json  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

from mangum import Mangum  # noqa: E402

from authapi.core import secrets  # noqa: E402
from authapi.core.config import Settings  # noqa: E402
from authapi.main import create_app  # noqa: E402
from tests.passkey_authenticator import SoftAuthenticator  # noqa: E402
from tests.support import Clock  # noqa: E402

from . import lambda_events, warm_latency  # noqa: E402
from .capacity import Cost, spending  # noqa: E402
from .inprocess import patched_clock, service_in_moto  # noqa: E402
from .lambda_events import LambdaContext  # noqa: E402
from .report import Target, markdown_table, publish, section_parser  # noqa: E402

SECTION = "## AWS calls and DynamoDB capacity per endpoint"


@dataclass(frozen=True)
class Row:
    endpoint: str
    note: str
    cost: Cost


@dataclass(frozen=True)
class Results:
    rows: list[Row]
    first_request: Row


def _recorded(
    handler: Any, settings: Settings, event: dict[str, Any], expected: int
) -> tuple[dict[str, Any], Cost]:
    with spending(settings.table_name) as spent:
        result: dict[str, Any] = handler(event, LambdaContext())
    if result["statusCode"] != expected:
        raise RuntimeError(f"expected {expected}, got {result['statusCode']}: {result.get('body')}")
    return result, spent.cost


def _passwordless(handler: Any, settings: Settings, state: warm_latency.State) -> Row:
    """`POST /auth/passkey/verify` for a passkey of bench.me, registered (untimed) at the
    relying party the events' execute-api host stands for."""
    me = warm_latency.required(state.me)
    authenticator = SoftAuthenticator()

    def post(path: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        event = lambda_events.request("POST", path, token=token, json_body=body)
        answer: dict[str, Any] = json.loads(state.call(event, 200, path)["body"])
        return answer

    password = {"password": warm_latency.PASSWORD}
    creation = post("/users/me/passkeys/options", password, me.access_token)
    origin = f"https://{creation['publicKey']['rp']['id']}"
    credential = authenticator.create(creation["publicKey"], origin=origin)
    event = lambda_events.request(
        "POST", "/users/me/passkeys", token=me.access_token, json_body={"credential": credential}
    )
    state.call(event, 201, "passkey registration")
    started = post("/auth/passkey/options", {})
    body = {
        "passkey_token": started["passkey_token"],
        "credential": authenticator.get(started["publicKey"], origin=origin),
    }
    verify = lambda_events.request("POST", "/auth/passkey/verify", json_body=body)
    _, spent = _recorded(handler, settings, verify, 200)
    return Row("POST /auth/passkey/verify", "passkey alone (passwordless)", spent)


def measure() -> Results:
    fake = Clock()
    with service_in_moto(STAGE) as settings, patched_clock(fake), warm_latency.lambda_logging():
        handler: Any = Mangum(create_app(settings), lifespan="off")
        state = warm_latency.prepare(handler, fake, settings)
        cases = warm_latency.cases(state)
        for case in cases:  # warm-up: nothing below is a first time
            result = handler(case.build(), LambdaContext())
            if case.after is not None:
                case.after(result)
        state.restore()
        rows = []
        for case in cases:
            event = case.build()
            result, spent = _recorded(handler, settings, event, case.expected_status)
            if case.after is not None:
                case.after(result)
            rows.append(Row(case.endpoint, case.note, spent))
        rows.append(_passwordless(handler, settings, state))
        secrets.reset_cache()  # a new container: nothing cached
        me = lambda_events.request(
            "GET", "/users/me", token=warm_latency.required(state.me).access_token
        )
        _, first = _recorded(handler, settings, me, 200)
    return Results(rows, Row("GET /users/me", "a container's first request", first))


def _units(value: float) -> str:
    return f"{value:g}" if value else "0"


def table(results: Results) -> str:
    return markdown_table(
        ["Endpoint", "Case", "Calls", "Reads (RCU)", "Writes (WCU)"],
        (
            (
                f"`{row.endpoint}`",
                row.note,
                row.cost.label() or "none",
                _units(row.cost.read_units),
                _units(row.cost.write_units),
            )
            for row in [*results.rows, results.first_request]
        ),
        text_columns=3,
    )


def _row(results: Results, endpoint: str, note: str = "") -> Row:
    return next(
        row for row in results.rows if row.endpoint == endpoint and (not note or row.note == note)
    )


def targets(results: Results) -> list[Target]:
    me = _row(results, "GET /users/me").cost
    sign_in = _row(results, "POST /auth/mfa/verify").cost
    passwordless = _row(results, "POST /auth/passkey/verify").cost
    every = [row.cost for row in [*results.rows, results.first_request]]

    def reads(spent: Cost) -> int:
        return sum(1 for name in spent.operations if name in ("GetItem", "Query", "Scan"))

    first_ssm = results.first_request.cost.operations.count("GetParameters")
    warm_ssm = sum(row.cost.operations.count("GetParameters") for row in results.rows)
    return [
        Target(
            "AWS calls",
            "`GET /users/me` = 1 read; a sign-in ≤ 2 reads + its writes; no Scan; SSM "
            "once per container",
            f"/users/me: {me.label()}; second factor: {sign_in.label()}; "
            f"passwordless: {passwordless.label()}; "
            f"Scan: {sum(spent.operations.count('Scan') for spent in every)}; SSM: "
            f"{first_ssm} on a container's first request, {warm_ssm} on warm ones",
            me.operations == ("GetItem",)
            and reads(sign_in) <= 2
            and reads(passwordless) <= 2
            and all("Scan" not in spent.operations for spent in every)
            and first_ssm == 1
            and warm_ssm == 0,
        )
    ]


def section(results: Results) -> str:
    return f"""{SECTION}

How to run: `make bench` (all sections) or `.venv/bin/python -m bench.aws_calls`
(this section only).

One request per endpoint after a warm-up pass, every botocore call recorded; the last
row is a container's first request, which also reads the key sets from SSM. Capacity
units are computed from the sizes of the items read and written, by DynamoDB's rounding
rules; `tests/storage/test_call_budget.py` asserts the budgets. The passwordless row
signs in with a passkey registered beforehand (untimed). Method:
[docs/benchmarks.md](docs/benchmarks.md#aws-calls).

{table(results)}
"""


def main(argv: list[str] | None = None) -> int:
    args = section_parser(__doc__).parse_args(argv)
    publish(args.output, section(measure()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
