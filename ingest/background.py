"""Running a producer in a thread, so loading and splitting overlap with encoding.

The consumer (the embedding model) holds the cores most of the time; the producer reads
files, parses them and counts tokens between its batches. A bounded queue keeps the
producer at most ``capacity`` items ahead, so a large wiki is never held in memory at once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
_POLL_S = 0.1


class _Done:
    """The producer finished; ``error`` is what it raised, if anything."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def in_background(produce: Callable[[], Iterable[T]], capacity: int = 64) -> Iterator[T]:
    """The items of ``produce()``, computed in a worker thread up to ``capacity`` ahead.

    An exception in the producer is raised here, in the consumer, after the items made
    before it. When the consumer stops early (an exception, ``close()``), the worker stops
    at its next item instead of running to the end.
    """
    items: queue.Queue[T | _Done] = queue.Queue(maxsize=capacity)
    stop = threading.Event()

    def offer(item: T | _Done) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in produce():
                if not offer(item):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            offer(_Done(exc))
            return
        offer(_Done())

    worker = threading.Thread(target=work, name="ingest-producer", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if isinstance(item, _Done):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        worker.join()
