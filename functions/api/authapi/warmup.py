"""Work done once per Lambda container, during init instead of the first request.

Lambda runs init with a full CPU burst before the first invocation is billed, so what
every request needs anyway is prepared here: the DynamoDB client, the key sets from SSM
and the dummy password hash of the enumeration defence. Nothing here may fail the init:
if SSM is down the first request simply tries again (and answers 503 if it must).
"""

from __future__ import annotations

import logging
import os

from authapi.core import db
from authapi.core.config import Settings
from authapi.core.errors import ServiceUnavailable
from authapi.core.secrets import secret_store
from authapi.security import passwords

logger = logging.getLogger("authapi")


def in_lambda() -> bool:
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ


def prepare_container(settings: Settings) -> None:
    db.warm_connection()
    try:
        secret_store(settings).get(settings.signing_keys_parameter)
    except ServiceUnavailable:
        logger.error("SSM unavailable during init; the first request will try again")
    passwords.prepare_dummy_hash()
