"""Run a coroutine function to completion from synchronous test code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


def run_async(func: Callable[..., Awaitable[T]], *args: Any) -> T:
    """``anyio.run`` on a fresh thread.

    The main thread may already be running an event loop: the browser tests' session-wide
    Playwright keeps one there for the rest of the run, and ``anyio.run`` refuses to start
    inside it.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(anyio.run, func, *args).result()
