"""The lock file's record of its holder: written after the flock is taken (a dead holder's record is
replaced), read without the lock, and shown to a person as a duration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nodekit.locks import ChannelBusy, channel_lock, held_for, lock_path, read_holder


def test_the_holder_replaces_a_dead_holders_record(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "receive")
    path.parent.mkdir()
    path.write_bytes(b'{"pid": 999999999, "since": 1.0, "left": "by a killed process, much longer than ours"}')
    with channel_lock(tmp_path, "receive", wait=0):
        holder = read_holder(path)
        assert holder is not None and holder.pid == os.getpid() and holder.since > 1.0


def test_a_record_that_is_not_one_names_nobody(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    for content in (b"", b"{", b'{"pid": "1", "since": 2}', b"[]"):
        path.write_bytes(content)
        assert read_holder(path) is None
    assert read_holder(tmp_path / "absent.lock") is None


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0 s"), (59.9, "59 s"), (192, "3 min 12 s"), (3900, "1 h 5 min"), (-3, "0 s")]
)
def test_held_for(seconds: float, shown: str) -> None:
    assert held_for(seconds) == shown


def test_busy_without_a_record_says_so(tmp_path: Path) -> None:
    import fcntl

    path = lock_path(tmp_path, "int_to_pub")
    path.parent.mkdir()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # a holder that wrote nothing (an older version)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        busy = pytest.raises(ChannelBusy, match="held by another process \\(it recorded no pid\\)")
        with busy, channel_lock(tmp_path, "int_to_pub", wait=0):
            pytest.fail("took a lock another holder has")
    finally:
        os.close(fd)
