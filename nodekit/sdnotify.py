"""Telling systemd how a service is doing: the ``sd_notify`` datagram protocol (``READY=1``,
``WATCHDOG=1``, ``STOPPING=1``, ``STATUS=…``) on the socket named by ``NOTIFY_SOCKET``.

The protocol is small and stable (sd_notify(3)): one datagram of newline-separated ``KEY=value``
fields to an ``AF_UNIX`` socket, whose name starts with ``@`` for the abstract namespace. Outside
systemd (no ``NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("credgap.service")


class ServiceManager:
    """The service manager this process reports to, if any, and its watchdog period."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog = _watchdog_period(env)
        self._failed = False

    @property
    def beat(self) -> float | None:
        """How often to say ``WATCHDOG=1`` while healthy (half the watchdog period), or None."""
        return None if self.watchdog is None or self.address is None else self.watchdog / 2

    def notify(self, *fields: str) -> None:
        """Send one datagram of ``KEY=value`` fields; a failure is logged once and otherwise ignored
        (a manager that cannot hear us restarts us, which is the right outcome)."""
        if self.address is None:
            return
        data = "\n".join(fields).encode("utf-8", errors="replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # never block: a manager not reading its socket must not hang the loop that pings it
                sock.sendto(data, socket.MSG_DONTWAIT, self.address)
        except BlockingIOError:
            log.debug("the service manager's queue is full: %s not sent", fields[0])
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify the service manager at %s: %s", os.environ.get("NOTIFY_SOCKET"), exc)
            self._failed = True

    def ready(self, status: str) -> None:
        """Start-up is done."""
        self.notify("READY=1", f"STATUS={_line(status)}")

    def alive(self) -> None:
        """Still healthy: reset the watchdog timer (only when the manager asked for a watchdog)."""
        if self.watchdog is not None:
            self.notify("WATCHDOG=1")

    def status(self, text: str) -> None:
        """What ``systemctl status`` shows."""
        self.notify(f"STATUS={_line(text)}")

    def stopping(self) -> None:
        """Shutting down on request."""
        self.notify("STOPPING=1", "STATUS=stopping")


def _address(value: str) -> str | None:
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # unset, or a transport this module does not speak (vsock)


def _watchdog_period(env: Mapping[str, str]) -> float | None:
    """``WATCHDOG_USEC`` in seconds, when it is meant for this process (``WATCHDOG_PID``, if set)."""
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000


def _line(text: str) -> str:
    return " ".join(text.split())[:200]
