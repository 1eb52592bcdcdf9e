"""Create this stage's secrets in SSM Parameter Store, idempotently; rotate keys.

    python -m infra.secrets --stage prod [--region R] [--endpoint-url URL]
    python -m infra.secrets --stage prod --rotate signing|totp

Without --rotate, a parameter that exists is never overwritten (rotating a key is a
deliberate act, not a side effect of re-running a script). --rotate appends a new key
to the set: the newest key signs (or encrypts), the older ones keep verifying (or
decrypting). Values are generated here from the OS CSPRNG and never printed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3

from authapi.core.config import Settings
from authapi.security.keys import add_key


def stage_settings(stage: str) -> Settings:
    return Settings(ssm_parameter_prefix=f"/authapi/{stage}")


def key_set_parameters(stage: str) -> dict[str, str]:
    """Rotation name -> parameter name, for every key set of the stage."""
    settings = stage_settings(stage)
    return {
        "signing": settings.signing_keys_parameter,
        "totp": settings.totp_keys_parameter,
    }


def _put(ssm: Any, name: str, value: str, overwrite: bool) -> None:
    ssm.put_parameter(
        Name=name,
        Value=value,
        Type="SecureString",
        Overwrite=overwrite,
        Description="AuthAPI key set, managed by infra.secrets",
    )


def ensure_secrets(ssm: Any, stage: str) -> dict[str, bool]:
    """Create the missing parameters; return name -> whether it was created now."""
    created = {}
    for name in key_set_parameters(stage).values():
        try:
            _put(ssm, name, add_key(None), overwrite=False)
            created[name] = True
        except ssm.exceptions.ParameterAlreadyExists:
            created[name] = False
    return created


def rotate(ssm: Any, stage: str, which: str) -> str:
    """Append a new key to one key set; return the parameter name."""
    name = key_set_parameters(stage)[which]
    current = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    _put(ssm, name, add_key(current), overwrite=True)
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--stage", default="prod", help="deployment stage (default: prod)")
    parser.add_argument("--region", default=None)
    parser.add_argument("--endpoint-url", default=None, help="e.g. a local moto server")
    parser.add_argument(
        "--rotate", choices=["signing", "totp"], help="add a new key to this key set"
    )
    args = parser.parse_args(argv)
    ssm = boto3.client("ssm", region_name=args.region, endpoint_url=args.endpoint_url)
    if args.rotate:
        print(f"{rotate(ssm, args.stage, args.rotate)}: new key added; it is now the newest")
        return 0
    for name, was_created in ensure_secrets(ssm, args.stage).items():
        print(f"{name}: {'created' if was_created else 'exists, left unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
