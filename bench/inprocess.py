"""The service in this process, against moto's in-process DynamoDB and SSM.

Fake credentials and a benchmark-only table and SSM path, and no endpoint override
inherited from the shell (as tests/conftest.py): nothing here can reach real AWS.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import authapi.core.clock
from authapi.core import db, secrets
from authapi.core.config import Settings
from authapi.security import totp
from authapi.security.keys import load_totp_secret_keys
from authapi.users import service
from authapi.users.domain import Role, User
from infra.secrets import ensure_secrets, key_set_parameters
from infra.template import create_tables
from tests.support import Clock


def use_fake_aws(stage: str) -> None:
    """Point this process at a fake account; call before any AWS client is created."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "TABLE_NAME": f"authapi-{stage}",
            "SSM_PARAMETER_PREFIX": f"/authapi/{stage}",
        }
    )


@contextmanager
def service_in_moto(stage: str) -> Iterator[Settings]:
    """moto's DynamoDB and SSM with the template's table and the stage's key sets."""
    import boto3
    from moto import mock_aws

    use_fake_aws(stage)
    settings = Settings.from_env()
    expected = {settings.signing_keys_parameter, settings.totp_keys_parameter}
    if set(key_set_parameters(stage).values()) != expected:
        raise RuntimeError("SSM_PARAMETER_PREFIX does not match the stage's key sets")
    with mock_aws():
        create_tables(boto3.client("dynamodb"), {"UsersTable": settings.table_name})
        ensure_secrets(boto3.client("ssm"), stage)
        secrets.reset_cache()
        db.bind(settings)
        try:
            yield settings
        finally:
            secrets.reset_cache()


@contextmanager
def patched_clock(fake: Clock) -> Iterator[None]:
    """The app reads time only through authapi.core.clock.now (looked up at call time)."""
    original = authapi.core.clock.now
    authapi.core.clock.now = fake.now
    try:
        yield
    finally:
        authapi.core.clock.now = original


def create_enrolled_user(
    settings: Settings, username: str, password: str, role: Role = Role.USER
) -> tuple[User, str]:
    """A user straight in the table, enrolled in TOTP: the user and their TOTP secret."""
    secret = totp.new_secret()
    user = service.create_user(
        settings,
        username=username,
        email=f"{username}@example.com",
        password=password,
        role=role,
        enrollment=service.Enrollment(secret, [], load_totp_secret_keys(settings)),
    )
    return user, secret
