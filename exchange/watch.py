"""A long-running watcher of the transfer medium: reacts to filesystem events within a second (watchdog),
rescans periodically (events are unreliable on removable and network mounts), falls back to polling
where native events are unavailable, and stops cleanly on SIGTERM/SIGINT after the package in hand.

Under systemd it says READY=1 once started and WATCHDOG=1 only from its own loop between rounds,
never during one: a read stuck in the kernel cannot be abandoned from Python, so a round that hangs
stops the pings and ``WatchdogSec`` restarts the service (docs/OPERATIONS.md, "systemd")."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from nodekit.errors import NodeError
from nodekit.sdnotify import ServiceManager
from transfer.errors import TransferError

log = logging.getLogger("credgap.watch")


class _Trigger(FileSystemEventHandler):
    def __init__(self, wake: threading.Event) -> None:
        self.wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        name = Path(str(event.dest_path or event.src_path)).name
        if event.event_type in ("opened", "closed_no_write"):
            return
        if name.startswith("."):  # a writer's temporary file: its rename will wake us
            return
        self.wake.set()


WAKE_START, WAKE_EVENT, WAKE_RESCAN = "start", "event", "rescan"


@dataclass
class WatchStats:
    rounds: int = 0
    events: int = 0
    rescans: int = 0
    last_round: float = 0.0
    woken_by: str = ""  # what started the round in hand or the last one: start, event or rescan
    mode: str = ""
    errors: list[str] = field(default_factory=list)


class MediumWatcher:
    """Calls ``work(stop)`` whenever the medium changes, at least every ``rescan`` seconds, until stopped;
    ``stats.woken_by`` says during the call what started the round. ``service`` is told when the
    watcher is ready, alive (between rounds) and stopping."""

    def __init__(
        self,
        root: Path,
        work: Callable[[Callable[[], bool]], Any],
        *,
        rescan: float = 30.0,
        poll: bool = False,
        poll_interval: float = 1.0,
        debounce: float = 0.05,
        on_idle: Callable[[], Any] | None = None,
        on_missing: Callable[[], Any] | None = None,
        service: ServiceManager | None = None,
    ) -> None:
        self.root = root
        self.work = work
        self.rescan = rescan
        self.poll = poll
        self.poll_interval = poll_interval
        self.debounce = debounce
        self.on_idle = on_idle
        self.on_missing = on_missing  # called while the medium is missing, each time the watcher looks
        self.service = service or ServiceManager({})
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.stats = WatchStats()

    def _observer(self) -> BaseObserver:
        if not self.poll:
            try:
                obs: BaseObserver = Observer()
                obs.schedule(_Trigger(self.wake), str(self.root), recursive=True)
                obs.start()
                self.stats.mode = f"events ({type(obs).__name__})"
                return obs
            except OSError as exc:  # e.g. inotify limits, or a filesystem without events
                log.warning("native filesystem events unavailable (%s); polling every %.1fs", exc, self.poll_interval)
        obs = PollingObserver(timeout=self.poll_interval)
        obs.schedule(_Trigger(self.wake), str(self.root), recursive=True)
        obs.start()
        self.stats.mode = f"polling every {self.poll_interval}s"
        return obs

    def stop(self, *_: object) -> None:
        if not self.stopping.is_set():
            self.service.stopping()
        self.stopping.set()
        self.wake.set()

    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %d: finishing the package in hand, then stopping", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def _wait_for_medium(self) -> bool:
        """A removable device may be mounted after the service starts: wait for it (saying so once)."""
        if self.root.is_dir():
            return True
        log.warning("transfer medium %s not found; waiting for it to be mounted", self.root)
        self.stats.errors.append(f"medium {self.root} not found")
        self.service.status(f"medium-missing: waiting for {self.root} to be mounted")
        while not self.stopping.is_set():
            if self.root.is_dir():
                log.info("transfer medium %s is there", self.root)
                self.service.status(f"watching {self.root}")
                return True
            if self.on_missing is not None:
                try:
                    self.on_missing()
                except Exception as exc:
                    log.error("medium-missing task failed: %s", exc, exc_info=exc)
            self._idle(self.stopping, min(self.rescan, self.poll_interval * 5))
        return False

    def _idle(self, event: threading.Event, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``event``, telling the service manager meanwhile that this
        loop is alive (it is not inside a round); True if the event was set."""
        deadline = time.monotonic() + timeout
        beat = self.service.beat
        while True:
            remaining = deadline - time.monotonic()
            if event.wait(max(remaining if beat is None else min(remaining, beat), 0.0)):
                return True
            if time.monotonic() >= deadline:
                return False
            self.service.alive()

    def run(self) -> WatchStats:
        """Watch until stopped; the statistics of the run."""
        self.service.ready(f"watching {self.root}")
        self.service.alive()
        if not self._wait_for_medium():
            return self.stats
        observer = self._observer()
        try:
            self._round(WAKE_START)  # whatever is already waiting
            while not self.stopping.is_set():
                woke = self._idle(self.wake, self.rescan)
                if self.stopping.is_set():
                    break
                if woke:
                    self.stats.events += 1
                    time.sleep(self.debounce)  # let a burst of events settle into one round
                else:
                    self.stats.rescans += 1
                self.wake.clear()
                self._round(WAKE_EVENT if woke else WAKE_RESCAN)
        finally:
            observer.stop()
            observer.join(timeout=5)
        return self.stats

    def _round(self, woken_by: str) -> None:
        self.stats.woken_by = woken_by
        try:
            self.work(self.stopping.is_set)
        except (NodeError, TransferError) as exc:  # a fault named for what it is: one line, the next round retries
            log.warning("import round failed: %s", exc)
            self._failed(f"{exc.reason}: {exc}")
        except Exception as exc:  # a bad round must not stop the service; the next one retries
            log.error("import round failed: %s", exc, exc_info=exc)
            self._failed(f"{type(exc).__name__}: {exc}")
        else:
            self.service.status(f"watching {self.root}: {self.stats.rounds + 1} rounds")
        self.stats.rounds += 1
        self.stats.last_round = time.time()
        if self.on_idle is not None:
            try:
                self.on_idle()
            except Exception as exc:
                log.error("idle task failed: %s", exc, exc_info=exc)
        self.service.alive()  # the round is over: whatever it did, this loop is not stuck

    def _failed(self, line: str) -> None:
        self.stats.errors.append(line)
        del self.stats.errors[:-20]
        self.service.status(f"round {self.stats.rounds + 1} failed: {line}")
