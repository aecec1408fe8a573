"""Run the same work in several threads at once, as concurrent requests would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def run_at_once(work: Callable[[int], T], count: int) -> list[T]:
    """``work(0)`` … ``work(count - 1)``, each in its own thread, released together.

    Returns their results in order; re-raises the first exception a thread raised.
    """
    start = threading.Barrier(count)

    def released(n: int) -> T:
        start.wait()
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(released, n) for n in range(count)]
        return [future.result() for future in futures]
