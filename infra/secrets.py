"""Create this stage's secrets in SSM Parameter Store, idempotently.

    python -m infra.secrets --stage prod [--region R] [--endpoint-url URL]

A parameter that exists is never overwritten (rotating a key is a deliberate act, not
a side effect of re-running a script). Values are generated here from the OS CSPRNG
and never printed.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable
from typing import Any

import boto3


def signing_key_parameter(stage: str) -> str:
    return f"/authapi/{stage}/jwt-signing-key"


def _new_hmac_key() -> str:
    # 384 bits: more than the 256 bits HS256 needs (RFC 7518 §3.2).
    return secrets.token_urlsafe(48)


def stage_secrets(stage: str) -> dict[str, Callable[[], str]]:
    """Parameter name -> how to generate its value."""
    return {signing_key_parameter(stage): _new_hmac_key}


def ensure_secrets(ssm: Any, stage: str) -> dict[str, bool]:
    """Create the missing parameters; return name -> whether it was created now."""
    created = {}
    for name, generate in stage_secrets(stage).items():
        try:
            ssm.put_parameter(
                Name=name,
                Value=generate(),
                Type="SecureString",
                Overwrite=False,
                Description="AuthAPI secret, created by infra.secrets",
            )
            created[name] = True
        except ssm.exceptions.ParameterAlreadyExists:
            created[name] = False
    return created


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="prod", help="deployment stage (default: prod)")
    parser.add_argument("--region", default=None)
    parser.add_argument("--endpoint-url", default=None, help="e.g. a local moto server")
    args = parser.parse_args(argv)
    ssm = boto3.client("ssm", region_name=args.region, endpoint_url=args.endpoint_url)
    for name, was_created in ensure_secrets(ssm, args.stage).items():
        print(f"{name}: {'created' if was_created else 'exists, left unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
