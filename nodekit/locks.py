"""Per-channel process locks: two exports (or two imports) of one channel never interleave."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nodekit.errors import NodeError


class ChannelBusy(NodeError):
    """Another export or import still held the channel's lock when the wait ran out: exit 1, reason
    ``channel-busy``, "channel NAME is busy: another export or import holds its lock". Retry later."""

    reason = "channel-busy"


@contextmanager
def channel_lock(home: Path, name: str, *, wait: float = 60.0) -> Iterator[None]:
    """Hold an exclusive lock on ``<home>/locks/<name>.lock`` (advisory, released on process death),
    waiting up to ``wait`` seconds for another holder; then :class:`ChannelBusy`."""
    folder = home / "locks"
    folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ChannelBusy(f"channel {name} is busy: another export or import holds its lock") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
