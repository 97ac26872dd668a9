"""The medium watcher in-process, on a real directory: events wake it, a medium mounted late is
waited for, and stop() ends it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from nodekit.watch import MediumWatcher


def run_in_thread(w: MediumWatcher) -> threading.Thread:
    t = threading.Thread(target=w.run, daemon=True)
    t.start()
    return t


def wait(cond: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_a_medium_mounted_after_start_is_waited_for(tmp_path: Path) -> None:
    root = tmp_path / "mnt" / "transfer"
    rounds: list[float] = []
    w = MediumWatcher(root, lambda stop: rounds.append(time.monotonic()), rescan=3600, poll_interval=0.05)
    t = run_in_thread(w)
    time.sleep(0.3)
    assert rounds == [] and t.is_alive(), "no medium: no round, and the service keeps running"
    root.mkdir(parents=True)
    assert wait(lambda: len(rounds) >= 1), "the first round runs once the medium is there"
    (root / "int-a_to_pub-b").mkdir()
    (root / "int-a_to_pub-b" / "p000000000001-0000000000000000.cgp").write_bytes(b"x")
    assert wait(lambda: len(rounds) >= 2), "a filesystem event wakes the watcher"
    w.stop()
    t.join(timeout=10)
    assert not t.is_alive()


def test_stop_while_waiting_for_the_medium(tmp_path: Path) -> None:
    w = MediumWatcher(tmp_path / "never", lambda stop: None, rescan=3600, poll_interval=0.05)
    t = run_in_thread(w)
    time.sleep(0.2)
    w.stop()
    t.join(timeout=10)
    assert not t.is_alive() and w.stats.rounds == 0
