"""Secrets from SSM Parameter Store, fetched once per container and cached.

Only the parameter *names* come from configuration; values are never logged,
never put in environment variables and never returned in a response.
"""

from __future__ import annotations

import threading

from botocore.exceptions import BotoCoreError, ClientError

from authapi.core import aws
from authapi.core.config import Settings
from authapi.core.errors import ServiceUnavailable


class SecretStore:
    def __init__(self, region: str) -> None:
        self._region = region
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> str:
        value = self._values.get(name)
        if value is not None:
            return value
        with self._lock:
            if name not in self._values:
                self._values[name] = self._fetch(name)
            return self._values[name]

    def _fetch(self, name: str) -> str:
        try:
            response = aws.client("ssm", self._region).get_parameter(Name=name, WithDecryption=True)
        except (BotoCoreError, ClientError) as exc:
            # A missing parameter is an operator error, a throttle is transient; either way
            # the caller gets a 503 and nothing is cached, so the next request tries again.
            raise ServiceUnavailable() from exc
        return str(response["Parameter"]["Value"])


_store: SecretStore | None = None


def secret_store(settings: Settings) -> SecretStore:
    global _store
    if _store is None or _store._region != settings.aws_region:
        _store = SecretStore(settings.aws_region)
    return _store


def reset_cache() -> None:
    """Forget cached secrets (tests and the local run use this between fresh stacks)."""
    global _store
    _store = None
