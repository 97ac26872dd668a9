"""``public-node watch`` under systemd's service manager protocol (sd_notify): a real ``AF_UNIX``
datagram socket bound by the test as ``NOTIFY_SOCKET``, a real ``watch`` process, and a round held
inside the receiver lock by a pause point, as a read stuck in the kernel would hold it.

Issue 12 case 5: the watcher says READY=1 once started, WATCHDOG=1 between rounds (never from a
thread that would keep the service looking alive while its round hangs), and STOPPING=1 on SIGTERM;
systemd's ``WatchdogSec`` then restarts a watcher whose round hangs."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from exchange.crash import PAUSE_DIR_ENV, PAUSE_ENV
from tests.faults import TIMEOUT
from tests.integration.medium_support import Pause
from tests.integration.public_support import BIN, program_env
from tests.nodes import Home, trusted_pair

WATCHDOG_USEC = 100_000  # a ping every 50 ms while idle
# how long the test listens for a ping that must not come while the round hangs: forty ping periods.
# A loaded machine can only delay pings, so this can make the test pass wrongly, never fail wrongly.
SILENCE = 2.0


class Manager:
    """The service manager's end: a datagram socket in the abstract namespace (as systemd may give),
    read continuously by a thread so the sender's queue never fills."""

    def __init__(self) -> None:
        self.name = f"credgap-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.fields: list[str] = []
        self.changed = threading.Condition()
        self._marks = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @property
    def address(self) -> str:
        return "@" + self.name

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            with self.changed:
                self.fields.extend(data.decode().splitlines())
                self.changed.notify_all()

    def wait_for(self, field: str, proc: subprocess.Popen[bytes], *, count: int = 1, after: int = 0) -> None:
        """Wait until ``field`` was said ``count`` times after position ``after``."""
        deadline = time.monotonic() + TIMEOUT
        with self.changed:
            while self.fields[after:].count(field) < count:
                assert proc.poll() is None, f"watch ended ({proc.returncode}); it said {self.fields[-20:]}"
                assert time.monotonic() < deadline, f"no {field} from watch; it said {self.fields[-20:]}"
                self.changed.wait(0.5)

    def mark(self) -> int:
        """Send a marker of our own and wait until it is read: everything queued before it has been
        read too (a datagram socket keeps order). Returns the marker's position."""
        self._marks += 1
        marker = f"TEST-MARK={self._marks}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out:
            out.sendto(marker.encode(), "\0" + self.name)
        with self.changed:
            while marker not in self.fields:
                self.changed.wait(0.5)
            return self.fields.index(marker)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@pytest.fixture
def public(tmp_path: Path) -> Iterator[Home]:
    a, b, _, _ = trusted_pair(tmp_path)
    a.node.close()
    yield b
    b.node.close()


def test_watch_tells_systemd_it_is_alive_only_between_rounds(public: Home, tmp_path: Path) -> None:
    manager = Manager()
    pause = Pause(tmp_path / "pauses", "receive-locked")  # its first round hangs inside the receiver lock
    env = {
        **program_env(), PAUSE_ENV: pause.point, PAUSE_DIR_ENV: str(pause.folder),
        "NOTIFY_SOCKET": manager.address, "WATCHDOG_USEC": str(WATCHDOG_USEC),
    }  # fmt: skip
    proc = subprocess.Popen(
        [str(BIN / "public-node"), "--home", str(public.node.config.home), "watch", "--rescan", "1h"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        manager.wait_for("READY=1", proc)
        pause.reached(proc)
        hung = manager.mark()  # whatever it said before it stopped at the pause point is behind this mark
        time.sleep(SILENCE)
        said = manager.fields[hung + 1 : manager.mark()]
        assert "WATCHDOG=1" not in said, f"watch said {said} while its round hung: systemd would never restart it"
        pause.go()
        manager.wait_for("WATCHDOG=1", proc, count=3, after=hung)  # the round ended: alive, and again, and again
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0
        manager.mark()
        assert "STOPPING=1" in manager.fields[hung:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
        manager.close()


def test_watch_warns_at_start_up_and_alarms_while_the_medium_is_missing(public: Home, tmp_path: Path) -> None:
    """Issue 18 point 8: a missing medium is said at start-up, then alarmed again and again (stderr
    and the system log) while it stays missing; once it is there, rounds run."""
    medium = public.node.config.medium
    medium.rename(tmp_path / "away")
    proc = subprocess.Popen(
        [str(BIN / "public-node"), "--home", str(public.node.config.home), "watch", "--rescan", "1s",
         "--medium-alarm-every", "1s"],
        env=program_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        while sum("ALARM medium-missing" in line for line in lines) < 2:
            line = proc.stderr.readline()
            assert line, f"watch ended ({proc.poll()}); it said {lines}"
            lines.append(line)
        assert lines[0].startswith(f"warning: transfer medium {medium} not found: waiting for it to be mounted")
        alarm = next(line for line in lines if "ALARM" in line)
        assert alarm.strip() == f"ALARM medium-missing: transfer medium {medium} not found (is the device mounted?)"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
