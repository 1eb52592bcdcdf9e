"""botocore plumbing: what a cold start pays for AWS clients is paid once."""

from __future__ import annotations

import threading
from typing import Any

from authapi.core import aws as plumbing
from authapi.core import db
from authapi.core.config import Settings


def _loader(session: Any) -> Any:
    return session.get_component("data_loader")


def test_dynamodb_and_ssm_clients_come_from_one_session(aws: None, settings: Settings) -> None:
    """A container creates one botocore session, not one for pynamodb and one for SSM:
    the API models and endpoint files are parsed once (cold start)."""
    db.bind(settings)
    assert db.connection().session is plumbing.session()


def test_each_thread_keeps_its_own_session_with_the_shared_loader(
    aws: None, settings: Settings
) -> None:
    """botocore sessions are not thread-safe, so pynamodb's one-session-per-thread stays;
    only the read-only loader is shared."""
    db.bind(settings)
    sessions: list[Any] = []
    worker = threading.Thread(target=lambda: sessions.append(db.connection().session))
    worker.start()
    worker.join()
    [other_thread] = sessions
    here = db.connection().session
    assert other_thread is not here
    assert _loader(other_thread) is _loader(here)
    assert other_thread.get_component("data_loader") is _loader(plumbing.session())
