"""Every AWS call the app makes, seen at botocore's one entry point for API calls.

`BaseClient._make_api_call` carries every call: DynamoDB (through pynamodb) and SSM.
The benchmarks wrap it to time the calls (the app's own time is the rest of a request)
or to record them with their parameters and answers (bench/capacity.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient


@dataclass
class SdkTimer:
    """Wall time and number of botocore API calls since the last reset."""

    seconds: float = 0.0
    calls: int = 0

    def reset(self) -> None:
        self.seconds = 0.0
        self.calls = 0


@contextmanager
def wrapped_sdk_calls(
    wrapper: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> Iterator[None]:
    """`BaseClient._make_api_call` (every botocore API call: DynamoDB through pynamodb,
    SSM) replaced by `wrapper(original)` for the duration."""
    original = BaseClient._make_api_call
    setattr(BaseClient, "_make_api_call", wrapper(original))  # noqa: B010 - patched method
    try:
        yield
    finally:
        setattr(BaseClient, "_make_api_call", original)  # noqa: B010


def timed_sdk(timer: SdkTimer) -> AbstractContextManager[None]:
    """Time every botocore API call into `timer`."""

    def wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            start = time.perf_counter()
            try:
                return original(client, operation_name, api_params)
            finally:
                timer.seconds += time.perf_counter() - start
                timer.calls += 1

        return timed

    return wrapped_sdk_calls(wrapper)


@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    response: dict[str, Any]


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)


@contextmanager
def recording() -> Iterator[Recorder]:
    """Every AWS call this process makes, with its parameters and parsed response."""
    recorder = Recorder()

    def wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
        def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
            response = original(client, operation, params)
            service = client.meta.service_model.service_name
            recorder.calls.append(Call(service, operation, params, response))
            return response

        return record

    with wrapped_sdk_calls(wrapper):
        yield recorder
