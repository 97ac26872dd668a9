"""``serve`` under systemd (``Type=notify``, ``WatchdogSec``): the main process tells the service
manager the platform is ready, and keeps its watchdog fed, only while the platform answers HTTP.

With several workers, the process systemd watches is uvicorn's supervisor, which serves nothing
itself and already replaces a worker that stops answering its health check. So the main process
probes ``/healthz`` over the listening socket, as a client would: the first answer sends ``READY=1``,
each later answer ``WATCHDOG=1``. Whichever worker answers, the platform is up; when none answers
within the watchdog period (every worker hung, the supervisor wedged), systemd restarts the service.
Workers never talk to systemd (``NotifyAccess=main``): docs/adr/0015-deployment.md.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable

from nodekit.sdnotify import ServiceManager

HEALTH_PATH = "/healthz"
START_POLL = 0.2  # seconds between probes until the first answer


def probe_url(host: str, port: int) -> str:
    """Where the main process asks: the listening address, or loopback for a wildcard one."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - a comparison, not a bind
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{HEALTH_PATH}"


def http_probe(url: str, timeout: float) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - our own http:// address
                return bool(r.status == 200)
        except OSError:
            return False

    return probe


def keep_watchdog(service: ServiceManager, probe: Callable[[], bool], stop: threading.Event, status: str) -> None:
    """Until ``stop``: ``READY=1`` at the first good probe, then ``WATCHDOG=1`` after each good one."""
    ready = False
    while True:
        ok = probe()
        if ok and not ready:
            service.ready(status)
            ready = True
        elif ok:
            service.alive()
        if stop.wait(service.beat if ready and service.beat else START_POLL):
            return


def start(service: ServiceManager, host: str, port: int, status: str) -> threading.Event | None:
    """Start the probing thread when a service manager listens; the event stops it."""
    if service.address is None:
        return None
    stop = threading.Event()
    timeout = max(1.0, (service.beat or 10.0) / 2)
    thread = threading.Thread(
        target=keep_watchdog,
        args=(service, http_probe(probe_url(host, port), timeout), stop, status),
        name="credgap-sd-watchdog",
        daemon=True,
    )
    thread.start()
    return stop
