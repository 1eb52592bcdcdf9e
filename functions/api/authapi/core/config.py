"""The settings, read from the environment once at start-up and passed on from there.

Entry points call `Settings.from_env()` once and hand the result down as a parameter:
to `create_app`, which binds the table (`core.db.bind`) and gives the routes their
settings, and to the services and functions that need them. The entry points are the
Lambda handler module `authapi.main` (its import is the container's start-up), the
local run, the scripts and the tests. No other module reads the environment at import,
except `users.schemas` for the password length limits (see there).

Secrets never live here: only the *names* of the SSM parameters that hold them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any


def _env(*names: str, parse: Callable[[str], Any] = str) -> dict[str, Any]:
    """Field metadata: the environment variables a field is read from (the first one
    set wins) and how to parse its value."""
    return {"env": names, "parse": parse}


def _number(raw: str) -> int | None:
    return int(raw) if raw else None  # an empty value means the default


def _names(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _mfa_token_ttl(raw: str) -> int | None:
    seconds = _number(raw)
    return None if seconds is None else min(seconds, 300)  # 5 minutes at most


@dataclass(frozen=True)
class Settings:
    table_name: str = field(default="authapi-local", metadata=_env("TABLE_NAME"))
    aws_region: str = field(default="us-east-1", metadata=_env("AWS_REGION", "AWS_DEFAULT_REGION"))
    # Path of this stage's SSM SecureStrings (created by `python -m infra.secrets`).
    ssm_parameter_prefix: str = field(
        default="/authapi/local",
        metadata=_env("SSM_PARAMETER_PREFIX", parse=lambda raw: raw.rstrip("/")),
    )
    jwt_issuer: str = field(default="authapi", metadata=_env("JWT_ISSUER"))
    jwt_audience: str = field(default="authapi", metadata=_env("JWT_AUDIENCE"))
    access_token_ttl_seconds: int = field(
        default=15 * 60, metadata=_env("ACCESS_TOKEN_TTL_SECONDS", parse=_number)
    )
    refresh_token_ttl_seconds: int = field(
        default=14 * 24 * 3600, metadata=_env("REFRESH_TOKEN_TTL_SECONDS", parse=_number)
    )
    mfa_token_ttl_seconds: int = field(
        default=5 * 60, metadata=_env("MFA_TOKEN_TTL_SECONDS", parse=_mfa_token_ttl)
    )
    totp_issuer: str = field(default="AuthAPI", metadata=_env("TOTP_ISSUER"))
    password_min_length: int = field(
        default=12, metadata=_env("PASSWORD_MIN_LENGTH", parse=_number)
    )
    # Not configurable: the limits of this service itself.
    password_max_length: int = 256
    max_body_bytes: int = 16 * 1024
    audit_retention_days: int = field(
        default=400, metadata=_env("AUDIT_RETENTION_DAYS", parse=_number)
    )
    log_level: str = field(
        default="INFO", metadata=_env("LOG_LEVEL", parse=lambda raw: raw.upper())
    )
    cors_allow_origins: tuple[str, ...] = field(
        default=(), metadata=_env("CORS_ALLOW_ORIGINS", parse=_names)
    )
    # The WebAuthn relying party (docs/passkeys.md). Empty: the domain the request came
    # to (the API's execute-api domain when deployed) and that one https origin.
    webauthn_rp_id: str = field(default="", metadata=_env("WEBAUTHN_RP_ID"))
    webauthn_origins: tuple[str, ...] = field(
        default=(), metadata=_env("WEBAUTHN_ORIGINS", parse=_names)
    )

    @property
    def signing_keys_parameter(self) -> str:
        """Ed25519 JWT signing keys (a JSON key set, newest last)."""
        return f"{self.ssm_parameter_prefix}/jwt-signing-keys"

    @property
    def totp_keys_parameter(self) -> str:
        """AES-256-GCM keys that encrypt TOTP secrets at rest (a JSON key set, newest
        last). The parameter keeps the name it is deployed under."""
        return f"{self.ssm_parameter_prefix}/totp-seed-keys"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Each field that names environment variables, from the first one set; the
        default where none is (or a number's variable is empty)."""
        values: dict[str, Any] = {}
        for setting in fields(cls):
            names: tuple[str, ...] = setting.metadata.get("env", ())
            raw = next((environ[name] for name in names if name in environ), None)
            if raw is not None:
                value = setting.metadata["parse"](raw)
                if value is not None:
                    values[setting.name] = value
        return cls(**values)
