"""botocore plumbing shared by the persistence adapters.

The function uses botocore directly (pynamodb already depends on it) instead of boto3,
which keeps the package and the cold start smaller. Retries use botocore's bounded
"standard" mode. Endpoints follow the standard `AWS_ENDPOINT_URL` variable, which is
how the local run and the tests point everything at moto.
"""

from __future__ import annotations

import json
import logging
import threading
from functools import lru_cache
from typing import Any

import botocore.config
import botocore.loaders
import botocore.session
from botocore.exceptions import ClientError

from authapi.core.errors import ServiceUnavailable

logger = logging.getLogger("authapi")

CLIENT_CONFIG = botocore.config.Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
)


_per_thread = threading.local()


@lru_cache(maxsize=1)
def _data_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def session() -> botocore.session.Session:
    """This thread's botocore session, made once and shared by every client it creates.

    Sessions are not thread-safe, hence one per thread (as pynamodb does). All of them
    share one data loader, which parses and caches the API models and the endpoint and
    partition files: on a cold start each parse of endpoints.json costs tens of
    milliseconds, and creating a session costs about as much again, so the DynamoDB and
    SSM clients of a Lambda container come from one session and one loader. The loader
    only reads the package's data files, so sharing it shares nothing mutable but a cache.
    """
    current: botocore.session.Session | None = getattr(_per_thread, "session", None)
    if current is None:
        current = botocore.session.get_session()
        current.register_component("data_loader", _data_loader())
        _per_thread.session = current
    return current


def forget_sessions() -> None:
    """Drop every thread's session, with its open connections and the credentials it
    resolved; the next client a thread asks for comes from a new session. For Lambda
    SnapStart (authapi.warmup): nothing made before a snapshot may be reused after it."""
    global _per_thread
    _per_thread = threading.local()


def client(service: str, region: str) -> Any:
    return session().create_client(service, region_name=region, config=CLIENT_CONFIG)


def unavailable(service: str, exc: Exception) -> ServiceUnavailable:
    """The 503 for a failed AWS call, with its cause logged for the operator.

    Only the service and the error code (or exception type) are logged, never the
    message: AWS error messages may quote request values, which can be secrets.
    """
    cause = getattr(exc, "cause", None) or exc  # pynamodb wraps botocore's exception
    code = getattr(exc, "cause_response_code", None)
    if code is None and isinstance(cause, ClientError):
        code = cause.response.get("Error", {}).get("Code")
    logger.error(
        json.dumps(
            {"event": "aws_unavailable", "service": service, "error": code or type(cause).__name__}
        )
    )
    return ServiceUnavailable()
