"""Running a pure stage ahead of its consumer in a worker thread: opening a package (decrypting,
decompressing and validating each item) while the caller writes the previous items to its database.

The consumer sees exactly the stage's sequence: the same items in the same order, then the stage's
exception (if any) at the point where it was raised, or the end. Only the timing changes: on two cores
the stage's Python work runs while the consumer's database driver works without the GIL. The queue is
bounded, so memory is too; when the consumer stops early the worker stops at its next hand-over.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_WAIT = 0.1  # seconds between looks at the stop flag while the queue is full


def prefetch(stage: Iterable[T], *, batch: int = 256, depth: int = 8) -> Iterator[T]:
    """Iterate ``stage`` in a worker thread, ``batch`` items per hand-over, at most ``depth`` ahead."""
    handover: queue.Queue[tuple[list[T], BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end: list[T] = []  # identity marks the end of the stage (an empty batch is never handed over otherwise)

    def put(item: tuple[list[T], BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                handover.put(item, timeout=_WAIT)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        chunk: list[T] = []
        try:
            for value in stage:
                chunk.append(value)
                if len(chunk) >= batch:
                    if not put((chunk, None)):
                        return
                    chunk = []
        except BaseException as exc:  # handed to the consumer, raised where the stage raised it
            put((chunk, exc))
            return
        if chunk and not put((chunk, None)):
            return
        put((end, None))

    worker = threading.Thread(target=work, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            chunk, error = handover.get()
            if chunk is end:
                return
            yield from chunk
            if error is not None:
                raise error
    finally:
        stop.set()
        while worker.is_alive():  # a worker blocked on a full queue sees the flag within _WAIT
            with contextlib.suppress(queue.Empty):
                handover.get_nowait()
            worker.join(timeout=_WAIT)
