"""Per-channel process locks: two exports (or two imports) of one channel never interleave.

A lock is an ``flock`` on ``<home>/locks/<name>.lock``: the kernel releases it when its holder dies,
however it dies, so a killed process never leaves a channel locked. The holder writes its pid and the
time it took the lock into the file (after taking it, so a dead holder's record is overwritten), and
a process that finds the lock held reads that record, without the lock, to say who holds it.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from nodekit.errors import NodeError
from nodekit.i18n import N_, Shown


class ChannelBusy(NodeError):
    """Another export or import still held the lock when the wait ran out: exit 1, reason
    ``channel-busy``, with the holder's pid and how long it has held the lock. Retry later."""

    reason = "channel-busy"


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its holder recorded it."""

    pid: int
    since: float  # seconds since the epoch: the holder's wall clock, comparable across processes


def lock_path(home: Path, name: str) -> Path:
    """The lock file of ``name`` (a channel folder name, or ``receive``) in a node home."""
    return home / "locks" / f"{name}.lock"


@contextmanager
def channel_lock(home: Path, name: str, *, wait: float = 60.0, what: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``<home>/locks/<name>.lock`` (advisory, released on process death),
    waiting up to ``wait`` seconds for another holder; then :class:`ChannelBusy`, naming ``what`` is
    locked (default ``channel NAME``) and who holds it."""
    path = lock_path(home, name)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(what or f"channel {name}", read_holder(path)) from None
                time.sleep(0.05)
        _record_holder(fd)
        yield
    finally:
        os.close(fd)


def _record_holder(fd: int) -> None:
    """Overwrite the record in place (no new block needed once the file has one), then cut what a
    longer earlier record left; a record that cannot be written (a full disk) only makes a busy
    report say less, so the lock is kept either way."""
    record = orjson.dumps({"pid": os.getpid(), "since": round(time.time(), 3)}).ljust(64)
    try:
        os.pwrite(fd, record, 0)
        os.ftruncate(fd, len(record))
    except OSError:
        pass


def read_holder(path: Path) -> Holder | None:
    """The holder a lock file names, or None when it names none (never written, or being rewritten)."""
    try:
        with path.open("rb") as fh:
            doc = orjson.loads(fh.read(256))
        pid, since = doc["pid"], doc["since"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(pid, int) or not isinstance(since, int | float):
        return None
    return Holder(pid, float(since))


def _busy(what: str, holder: Holder | None) -> ChannelBusy:
    held = {"pid": holder.pid, "held": held_for(time.time() - holder.since)} if holder is not None else {}
    if what.startswith("the receiver"):
        template = (
            N_(
                "channel-busy: {what} is held by pid {pid} for {held} (another import or watch); try again once it has finished"
            )
            if holder is not None
            else N_(
                "channel-busy: {what} is held by another process (it recorded no pid) (another import or watch); "
                "try again once it has finished"
            )
        )
        # the receiver names itself in English (``what``): the operator reads it in their language
        return ChannelBusy(template, params={"what": Shown(what, N_("the receiver of this node")), **held})
    template = (
        N_(
            "channel-busy: {what} is held by pid {pid} for {held} (another export or import); try again once it has finished"
        )
        if holder is not None
        else N_(
            "channel-busy: {what} is held by another process (it recorded no pid) (another export or import); "
            "try again once it has finished"
        )
    )
    name = what.removeprefix("channel ")
    return ChannelBusy(template, params={"what": Shown(what, N_("channel {name}"), {"name": name}), **held})


def held_for(seconds: float) -> str:
    """``3 min 12 s``, ``1 h 5 min``, ``12 s``: how long a lock has been held, for a person."""
    s = max(int(seconds), 0)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    if s >= 60:
        return f"{s // 60} min {s % 60} s"
    return f"{s} s"
