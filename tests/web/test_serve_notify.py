"""``serve`` under systemd's Type=notify with a watchdog (issue 18, point 17): the main process says
READY=1 once a worker answers /healthz, feeds WATCHDOG=1 only while the platform answers, and says
STOPPING=1 on the way out; with several workers too (docs/adr/0015-deployment.md)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from nodekit.sdnotify import ServiceManager
from public_node.web.service import keep_watchdog, probe_url
from tests.web.server import Server
from tests.web.support import published_home


class Recorder(ServiceManager):
    def __init__(self) -> None:
        super().__init__({"NOTIFY_SOCKET": "/run/fake", "WATCHDOG_USEC": "2000000"})
        self.said: list[str] = []

    def notify(self, *fields: str) -> None:
        self.said.append(fields[0])


class Rounds:
    """A stop event that lets the loop run ``n`` rounds (no clock involved)."""

    def __init__(self, n: int) -> None:
        self.left = n

    def wait(self, _timeout: float | None = None) -> bool:
        self.left -= 1
        return self.left <= 0


def test_ready_at_the_first_answer_then_a_beat_per_answer() -> None:
    answers = iter([False, False, True, True, False, True])
    service = Recorder()
    keep_watchdog(service, lambda: next(answers), Rounds(6), "serving")  # type: ignore[arg-type]
    # no beat while the platform does not answer: systemd's watchdog then restarts the service
    assert service.said == ["READY=1", "WATCHDOG=1", "WATCHDOG=1"]


def test_never_ready_while_nothing_answers() -> None:
    service = Recorder()
    keep_watchdog(service, lambda: False, Rounds(5), "serving")  # type: ignore[arg-type]
    assert service.said == []


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:8080/healthz"),
        ("10.0.0.5", "http://10.0.0.5:8080/healthz"),
        ("::1", "http://[::1]:8080/healthz"),
    ],
)
def test_the_probe_asks_the_listening_address(host: str, url: str) -> None:
    assert probe_url(host, 8080) == url


@pytest.mark.slow
def test_a_two_worker_server_notifies_systemd(tmp_path: Path, database_factory: Callable[[str], str]) -> None:
    node = published_home(tmp_path, database_factory)
    node.close()
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(60)  # a bound on start-up, not a timing assertion
        server = Server(node.config.home, workers=2, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
        try:
            said = [sock.recv(4096).decode() for _ in range(2)]
            assert said[0].startswith("READY=1\nSTATUS=serving http://127.0.0.1:")
            assert "with 2 workers" in said[0]
            assert said[1] == "WATCHDOG=1"
        finally:
            assert server.stop() == 0
        rest = []
        sock.settimeout(5)
        try:
            while True:
                rest.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
        assert rest and rest[-1] == "STOPPING=1\nSTATUS=stopping"
