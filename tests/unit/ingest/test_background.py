import threading
from collections.abc import Iterator

import pytest

from askwiki.ingest.background import in_background


def test_items_arrive_in_order() -> None:
    assert list(in_background(lambda: iter(range(100)), capacity=3)) == list(range(100))


def test_producer_runs_in_another_thread() -> None:
    seen: list[str] = []

    def produce() -> Iterator[int]:
        seen.append(threading.current_thread().name)
        yield 1

    list(in_background(produce))
    assert seen == ["ingest-producer"]


def test_producer_error_is_raised_after_the_items_before_it() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("broken page")

    received: list[int] = []
    with pytest.raises(ValueError, match="broken page"):
        for item in in_background(produce):
            received.append(item)
    assert received == [1, 2]


def test_consumer_stopping_early_stops_the_producer() -> None:
    produced: list[int] = []

    def produce() -> Iterator[int]:
        for n in range(10_000):
            produced.append(n)
            yield n

    items = in_background(produce, capacity=2)
    assert next(items) == 0
    items.close()  # joins the worker
    assert len(produced) < 10
