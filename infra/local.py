"""Run the API on a laptop: an embedded AWS (moto server) plus uvicorn, one process.

    make run        (or: .venv/bin/python -m infra.local)

Starts moto on 127.0.0.1 (DynamoDB + SSM, no Docker, no cloud account), creates the
table from template.yaml and the secrets, seeds an admin, and serves the API on
http://127.0.0.1:8000 (Swagger UI at /docs). Everything lives in memory: Ctrl-C stops
it all and the data is gone.

Environment: ADMIN_USERNAME (admin), ADMIN_EMAIL (admin@example.com), ADMIN_PASSWORD
(generated when unset), PORT (8000), MOTO_PORT (a free port), WEBAUTHN_RP_ID (localhost),
WEBAUTHN_ORIGINS (http://localhost:PORT).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.seed_admin import SeededAdmin

LOCAL_STAGE = "local"
LOCAL_TABLE = "authapi-local"
LOCAL_REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _point_at_local_aws(endpoint: str) -> None:
    """Fake credentials and a loopback endpoint: nothing here can reach real AWS."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": LOCAL_REGION,
            "AWS_DEFAULT_REGION": LOCAL_REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "TABLE_NAME": LOCAL_TABLE,
            "SSM_PARAMETER_PREFIX": f"/authapi/{LOCAL_STAGE}",
        }
    )


@contextmanager
def embedded_aws(hosts: Sequence[str] = ("127.0.0.1",)) -> Iterator[str]:
    """moto on `hosts` (one server each, same port, shared state), with the table, the
    key sets and this process pointed at it; yields the loopback endpoint.

    Every server of one process shares moto's in-memory backends, so a second address
    (the Docker bridge, for `make sam-local`) serves the same data without opening the
    server to every network the machine is on.
    """
    from moto.server import ThreadedMotoServer

    from infra.moto_atomic import serialize_dynamodb_writes

    moto_port = int(os.environ.get("MOTO_PORT") or free_port())
    endpoint = f"http://127.0.0.1:{moto_port}"
    _point_at_local_aws(endpoint)

    # moto's server logs every AWS call through werkzeug; keep the terminal for the API.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    servers = [ThreadedMotoServer(ip_address=host, port=moto_port, verbose=False) for host in hosts]
    serialize_dynamodb_writes()  # DynamoDB's atomic conditional writes (see the module)
    with ExitStack() as stack:
        for server in servers:
            server.start()
            stack.callback(server.stop)
        import boto3

        from infra.secrets import ensure_secrets
        from infra.template import create_tables

        create_tables(boto3.client("dynamodb"), {"UsersTable": LOCAL_TABLE})
        ensure_secrets(boto3.client("ssm"), LOCAL_STAGE)
        yield endpoint


def seed_local_admin() -> SeededAdmin | None:
    """The admin from ADMIN_USERNAME / ADMIN_EMAIL / ADMIN_PASSWORD; None (and why, on
    stderr) if it cannot be created, e.g. a weak ADMIN_PASSWORD."""
    from authapi.core.config import Settings
    from authapi.core.errors import DomainError
    from infra.seed_admin import seed_admin

    try:
        return seed_admin(
            Settings.from_env(),
            os.environ.get("ADMIN_USERNAME", "admin"),
            os.environ.get("ADMIN_EMAIL", "admin@example.com"),
            os.environ.get("ADMIN_PASSWORD") or None,
        )
    except DomainError as exc:
        print(f"Cannot create the admin: {exc.detail}", file=sys.stderr)
        return None


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    # Passkeys need a domain as relying party (an IP address cannot be one), and browsers
    # treat http://localhost as a secure context: the page works at http://localhost:PORT.
    os.environ.setdefault("WEBAUTHN_RP_ID", "localhost")
    os.environ.setdefault("WEBAUTHN_ORIGINS", f"http://localhost:{port}")
    with embedded_aws() as endpoint:
        import uvicorn

        from infra.seed_admin import print_admin

        admin = seed_local_admin()
        if admin is None:
            return 2
        print(f"Local AWS (moto, in memory) at {endpoint}")
        print_admin(admin, as_json=False)
        print(
            f"\nAPI: http://127.0.0.1:{port}  Swagger UI: http://127.0.0.1:{port}/docs\n"
            f"Account page (passkeys work at this address): http://localhost:{port}/account\n"
            "All data lives in memory and is gone when you press Ctrl-C.",
            flush=True,
        )
        from authapi.main import app

        uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
