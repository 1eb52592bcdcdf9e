"""botocore plumbing shared by the persistence adapters.

The function uses botocore directly (pynamodb already depends on it) instead of boto3,
which keeps the package and the cold start smaller. Retries use botocore's bounded
"standard" mode. Endpoints follow the standard `AWS_ENDPOINT_URL` variable, which is
how the local run and the tests point everything at moto.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import botocore.config
import botocore.session

CLIENT_CONFIG = botocore.config.Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
)


@lru_cache(maxsize=1)
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


def client(service: str, region: str) -> Any:
    return _session().create_client(service, region_name=region, config=CLIENT_CONFIG)
