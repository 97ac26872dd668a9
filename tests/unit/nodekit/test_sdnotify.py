"""The sd_notify client against real datagram sockets: a path and the abstract namespace, the
watchdog period only when it is meant for this process, silence outside systemd, and a full queue
that never blocks the caller."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

from nodekit.sdnotify import ServiceManager


def listener(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


def test_a_path_socket_hears_ready_status_watchdog_and_stopping(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with listener(path) as sock:
        m = ServiceManager({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
        assert m.beat == 2.0
        m.ready("watching /mnt/transfer")
        m.alive()
        m.status("round 3 failed:\n disk-full")
        m.stopping()
        said = [sock.recv(4096).decode() for _ in range(4)]
    assert said == [
        "READY=1\nSTATUS=watching /mnt/transfer",
        "WATCHDOG=1",
        "STATUS=round 3 failed: disk-full",
        "STOPPING=1\nSTATUS=stopping",
    ]


def test_an_abstract_socket_is_named_with_an_at_sign() -> None:
    name = f"credgap-unit-{uuid.uuid4().hex}"
    with listener("\0" + name) as sock:
        ServiceManager({"NOTIFY_SOCKET": "@" + name}).ready("up")
        assert sock.recv(4096) == b"READY=1\nSTATUS=up"


def test_no_watchdog_pings_unless_asked_for_this_process(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with listener(path) as sock:
        sock.settimeout(0.0)
        for env in ({}, {"WATCHDOG_USEC": "0"}, {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)}):
            m = ServiceManager({"NOTIFY_SOCKET": path, **env})
            assert m.beat is None
            m.alive()
        m = ServiceManager({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())})
        m.alive()
        assert sock.recv(4096) == b"WATCHDOG=1"
        assert [_pending(sock)] == [None], "nothing else was sent"


def _pending(sock: socket.socket) -> bytes | None:
    try:
        return sock.recv(4096)
    except BlockingIOError:
        return None


def test_outside_systemd_nothing_is_sent_and_nothing_fails() -> None:
    m = ServiceManager({})
    assert m.beat is None
    m.ready("up")
    m.alive()
    m.stopping()


def test_a_manager_that_does_not_read_never_blocks_the_service(tmp_path: Path) -> None:
    path = str(tmp_path / "notify")
    with listener(path):
        m = ServiceManager({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
        for _ in range(1000):  # far past the socket's queue (net.unix.max_dgram_qlen, 10 by default)
            m.alive()


def test_a_missing_socket_is_not_an_error(tmp_path: Path) -> None:
    ServiceManager({"NOTIFY_SOCKET": str(tmp_path / "gone"), "WATCHDOG_USEC": "1000000"}).alive()
