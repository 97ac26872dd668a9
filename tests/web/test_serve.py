"""``public-node serve`` as it runs in production: several uvicorn workers (uvloop, httptools), and
SIGTERM draining a request in flight instead of cutting it. The request is held open by a test-only
route until the test releases it, after the signal (no sleeps, no timing)."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.web.server import Server
from tests.web.support import published_home

WAIT = 60


def test_sigterm_drains_a_request_in_flight(tmp_path: Path, database_factory: Callable[[str], str]) -> None:
    node = published_home(tmp_path, database_factory)
    node.close()
    server = Server(node.config.home, workers=2, env={"CREDGAP_WEB_TEST_HOOKS": "1"})
    started, release = tmp_path / "started", tmp_path / "release"
    answer: dict[str, object] = {}

    def slow_request() -> None:
        url = f"{server.url}/__test__/hold?started={started}&release={release}"
        try:
            with urllib.request.urlopen(url, timeout=WAIT) as r:
                answer["status"], answer["body"] = r.status, r.read().decode()
        except OSError as exc:
            answer["error"] = repr(exc)

    try:
        thread = threading.Thread(target=slow_request)
        thread.start()
        done = threading.Event()
        while not started.exists() and not done.wait(0.01):  # the request is in a worker now
            if not thread.is_alive():
                break
        assert started.exists(), answer
        server.terminate()
        assert server.proc.poll() is None  # still draining: the request has not been answered
        release.touch()
        thread.join(WAIT)
        assert answer == {"status": 200, "body": "released"}
        assert server.proc.wait(WAIT) == 0
    finally:
        server.stop()
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log
