"""One settings object, read from the environment once per container.

Secrets never live here: only the *names* of the SSM parameters that hold them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return int(raw)


def _env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    table_name: str = "authapi-local"
    aws_region: str = "us-east-1"
    # Path of this stage's SSM SecureStrings (created by `python -m infra.secrets`).
    ssm_parameter_prefix: str = "/authapi/local"
    jwt_issuer: str = "authapi"
    jwt_audience: str = "authapi"
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 14 * 24 * 3600
    mfa_token_ttl_seconds: int = 5 * 60
    totp_issuer: str = "AuthAPI"
    password_min_length: int = 12
    password_max_length: int = 256
    max_body_bytes: int = 16 * 1024
    audit_retention_days: int = 400
    log_level: str = "INFO"
    cors_allow_origins: tuple[str, ...] = field(default_factory=tuple)

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
    def from_env(cls) -> Settings:
        defaults = cls()
        return cls(
            table_name=os.environ.get("TABLE_NAME", defaults.table_name),
            aws_region=os.environ.get(
                "AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", defaults.aws_region)
            ),
            ssm_parameter_prefix=os.environ.get(
                "SSM_PARAMETER_PREFIX", defaults.ssm_parameter_prefix
            ).rstrip("/"),
            jwt_issuer=os.environ.get("JWT_ISSUER", defaults.jwt_issuer),
            jwt_audience=os.environ.get("JWT_AUDIENCE", defaults.jwt_audience),
            access_token_ttl_seconds=_env_int(
                "ACCESS_TOKEN_TTL_SECONDS", defaults.access_token_ttl_seconds
            ),
            refresh_token_ttl_seconds=_env_int(
                "REFRESH_TOKEN_TTL_SECONDS", defaults.refresh_token_ttl_seconds
            ),
            mfa_token_ttl_seconds=min(
                _env_int("MFA_TOKEN_TTL_SECONDS", defaults.mfa_token_ttl_seconds), 300
            ),
            totp_issuer=os.environ.get("TOTP_ISSUER", defaults.totp_issuer),
            password_min_length=_env_int("PASSWORD_MIN_LENGTH", defaults.password_min_length),
            audit_retention_days=_env_int("AUDIT_RETENTION_DAYS", defaults.audit_retention_days),
            log_level=os.environ.get("LOG_LEVEL", defaults.log_level).upper(),
            cors_allow_origins=_env_list("CORS_ALLOW_ORIGINS", defaults.cors_allow_origins),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
