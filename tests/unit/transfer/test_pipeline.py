"""The prefetching stage: the consumer sees the stage's exact sequence and its error at the same point;
it runs a bounded distance ahead; a consumer that stops early stops the worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from transfer.pipeline import prefetch


def workers() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "prefetch")


@pytest.mark.parametrize("n", [0, 1, 255, 256, 257, 5000])
def test_same_sequence(n: int) -> None:
    assert list(prefetch(iter(range(n)), batch=256, depth=2)) == list(range(n))
    assert workers() == 0


def test_the_error_comes_after_the_items_before_it() -> None:
    def stage() -> Iterator[int]:
        yield from range(1000)
        raise ValueError("item 1000 is bad")

    seen: list[int] = []
    with pytest.raises(ValueError, match="item 1000 is bad"):
        for x in prefetch(stage(), batch=64, depth=2):
            seen.append(x)
    assert seen == list(range(1000))


def test_runs_a_bounded_distance_ahead_and_stops_with_its_consumer() -> None:
    produced = 0

    def stage() -> Iterator[int]:
        nonlocal produced
        for i in range(1_000_000):
            produced += 1
            yield i

    it = prefetch(stage(), batch=10, depth=3)
    assert next(it) == 0
    time.sleep(0.3)
    assert produced <= 10 * (3 + 2), "at most the queue, the batch being handed over and the one being filled"
    it.close()  # the consumer gives up (an error while applying, a stop)
    time.sleep(0.3)
    assert workers() == 0 and produced < 1_000_000
