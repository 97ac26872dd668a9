"""The medium watcher in-process, on a real directory: events wake it, a medium mounted late is
waited for, the periodic rescan finds what no event announced, it polls where native events are
unavailable, and stop() ends it."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from watchdog.observers import Observer

import nodekit.cli  # noqa: F401  (as in a full run: "credgap" logs do not propagate)
from exchange import watch
from exchange.watch import MediumWatcher


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


PACKAGE = "p000000000001-0000000000000000.cgp"


class Seen:
    """A round's work that records what woke it and whether the package file was there."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rounds: list[tuple[str, bool]] = []
        self.watcher: MediumWatcher | None = None

    def __call__(self, _stop: Callable[[], bool]) -> None:
        assert self.watcher is not None
        self.rounds.append((self.watcher.stats.woken_by, (self.root / PACKAGE).exists()))

    def found(self) -> list[str]:
        return [woken_by for woken_by, there in self.rounds if there]


def watcher(root: Path, **kw: float) -> tuple[MediumWatcher, Seen]:
    seen = Seen(root)
    seen.watcher = MediumWatcher(root, seen, **kw)  # type: ignore[arg-type]
    return seen.watcher, seen


class DeafObserver:
    """An observer that starts and stops but never delivers an event (a network mount, say)."""

    def schedule(self, *_a: object, **_kw: object) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> None: ...


def test_the_periodic_rescan_finds_a_package_no_event_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "Observer", DeafObserver)
    w, seen = watcher(tmp_path, rescan=0.3)
    t = run_in_thread(w)
    assert wait(lambda: len(seen.rounds) >= 1)
    (tmp_path / PACKAGE).write_bytes(b"x")
    assert wait(lambda: bool(seen.found())), "a rescan round sees the file"
    w.stop()
    t.join(timeout=10)
    assert seen.rounds[0] == ("start", False)
    assert seen.found()[0] == "rescan" and w.stats.events == 0 and w.stats.rescans >= 1
    assert w.stats.mode.startswith("events")


class NoInotifyObserver(Observer):  # type: ignore[misc,valid-type]
    """The native observer when the inotify instance limit is reached."""

    def start(self) -> None:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))


def test_polling_when_native_events_are_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(watch, "Observer", NoInotifyObserver)
    logger = logging.getLogger("credgap.watch")  # "credgap" does not propagate once nodekit.cli is loaded
    logger.addHandler(caplog.handler)
    w, seen = watcher(tmp_path, rescan=3600, poll_interval=0.1)  # only a polled change can wake it
    t = run_in_thread(w)
    try:
        assert wait(lambda: len(seen.rounds) >= 1)
    finally:
        logger.removeHandler(caplog.handler)
    assert w.stats.mode == "polling every 0.1s"
    assert "native filesystem events unavailable" in caplog.text
    (tmp_path / PACKAGE).write_bytes(b"x")
    assert wait(lambda: bool(seen.found())), "the polling observer sees the new file"
    w.stop()
    t.join(timeout=10)
    assert not t.is_alive()
    assert seen.found()[0] == "event" and w.stats.events >= 1 and w.stats.rescans == 0


def test_the_medium_alarm_repeats_while_missing_and_rearms(tmp_path: Path) -> None:
    """Issue 18 point 8: once at once, then once per ``every`` (time injected), and again at once
    after the medium came back and went away."""
    from types import SimpleNamespace

    from exchange.alarms import MediumAlarm

    medium = tmp_path / "medium"
    config = SimpleNamespace(medium=medium, name="pub", raw={}, section=lambda _name: {"syslog": ""})
    said: list[str] = []
    alarm = MediumAlarm(SimpleNamespace(config=config), 300.0, said.append)  # type: ignore[arg-type]
    assert alarm.check(1000.0) is not None and len(said) == 1
    assert alarm.check(1299.0) is None, "not again within the period"
    assert alarm.check(1300.0) is not None and len(said) == 2
    medium.mkdir()
    assert alarm.check(1301.0) is None
    medium.rmdir()
    assert alarm.check(1302.0) is not None, "missing again: said at once"


def test_the_watcher_reports_a_missing_medium_while_it_waits(tmp_path: Path) -> None:
    looked = threading.Event()
    w = MediumWatcher(tmp_path / "never", lambda stop: None, rescan=3600, poll_interval=0.01, on_missing=looked.set)
    t = run_in_thread(w)
    assert looked.wait(30)
    w.stop()
    t.join(timeout=10)
    assert not t.is_alive()
