"""Secrets from SSM Parameter Store, fetched once per container and refreshed rarely.

Only the parameter *names* come from configuration; values are never logged,
never put in environment variables and never returned in a response.

The values are re-read every REFRESH_SECONDS so that a rotated key set reaches every
warm container (security.keys only starts using a new key after a longer delay). A
failed refresh keeps serving the values already held: an SSM hiccup never takes a
working container down.
"""

from __future__ import annotations

import logging
import threading

from botocore.exceptions import BotoCoreError, ClientError

from authapi.core import aws, clock
from authapi.core.config import Settings
from authapi.core.errors import ServiceUnavailable

REFRESH_SECONDS = 5 * 60
# After a failed refresh (stale keys kept), wait this long before asking SSM again, so
# an outage costs one slow request per container per minute, not every request.
RETRY_AFTER_FAILURE_SECONDS = 60


logger = logging.getLogger("authapi")


class SecretStore:
    """Fetches every parameter the service needs in one GetParameters call, the first
    time any of them is asked for, and again once REFRESH_SECONDS have passed."""

    def __init__(self, region: str, names: tuple[str, ...]) -> None:
        self.region = region
        self.names = names
        self._values: dict[str, str] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def get(self, name: str) -> str:
        value = self._values.get(name)
        if value is not None and clock.now() - self._fetched_at < REFRESH_SECONDS:
            return value
        with self._lock:
            if name not in self._values or clock.now() - self._fetched_at >= REFRESH_SECONDS:
                self._refresh(name)
            if name not in self._values:
                # A missing parameter is an operator error. Nothing is cached for it, so
                # the service recovers by itself once the parameter exists.
                raise ServiceUnavailable()
            return self._values[name]

    def _refresh(self, name: str) -> None:
        try:
            fetched = self._fetch({*self.names, name})
        except ServiceUnavailable:
            if name not in self._values:
                raise
            logger.error("SSM refresh failed; keeping the key sets already loaded")
            self._fetched_at = clock.now() - REFRESH_SECONDS + RETRY_AFTER_FAILURE_SECONDS
            return
        self._values.update(fetched)
        self._fetched_at = clock.now()

    def _fetch(self, names: set[str]) -> dict[str, str]:
        try:
            response = aws.client("ssm", self.region).get_parameters(
                Names=sorted(names), WithDecryption=True
            )
        except (BotoCoreError, ClientError) as exc:
            # Throttled or down: a 503, nothing cached, the next request tries again.
            raise aws.unavailable("ssm", exc) from exc
        return {str(found["Name"]): str(found["Value"]) for found in response["Parameters"]}


_store: SecretStore | None = None


def secret_store(settings: Settings) -> SecretStore:
    global _store
    names = (settings.signing_keys_parameter, settings.totp_keys_parameter)
    if _store is None or (_store.region, _store.names) != (settings.aws_region, names):
        _store = SecretStore(settings.aws_region, names)
    return _store


def reset_cache() -> None:
    """Forget cached secrets (tests and the local run use this between fresh stacks)."""
    global _store
    _store = None
