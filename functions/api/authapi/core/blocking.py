"""Where blocking work runs (calls to AWS, password hashing): in place under Mangum, in
the thread pool under uvicorn.

FastAPI runs a plain `def` endpoint or dependency in anyio's thread pool, so that the
event loop can serve other requests meanwhile. Through Mangum (Lambda, `sam local`) the
loop serves one invocation only: Mangum runs each to completion. There a thread-pool hop
blocks nothing less and costs more: anyio's worker threads belong to the task that runs
the invocation, so every invocation started a new thread, and a cold start imported
anyio's thread machinery for its first request. So under Mangum the work runs in place.
Served by uvicorn (the local run), other requests wait on the loop: the work goes to the
thread pool, as FastAPI would send it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from authapi.core import request_context

_Result = TypeVar("_Result")


async def run_blocking(call: Callable[..., _Result], *args: Any, **kwargs: Any) -> _Result:
    """Make a call that blocks, in the right place for how this request is served."""
    if request_context.current().served_by_mangum:
        return call(*args, **kwargs)
    return await run_in_threadpool(call, *args, **kwargs)


def in_place_under_mangum(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A plain `def` endpoint as a coroutine that runs it through `run_blocking`; any
    other endpoint as it is. FastAPI reads the wrapper's signature, annotations and
    docstring from the endpoint (`functools.wraps`), so the route and its OpenAPI
    operation are what they would be."""
    if not inspect.isfunction(endpoint) or inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await run_blocking(endpoint, *args, **kwargs)

    return run
