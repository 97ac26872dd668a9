"""``public-node watch`` as a service raises the freshness alarm itself: with a short expected exchange
period in node.toml and no package arriving, the running watcher logs ``alarm.overdue`` in the
transfer log and sends it to the system log."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from internal_node import SPEC as INTERNAL
from nodekit.models import TransferLogRow
from public_node import SPEC as PUBLIC
from tests.integration.public_support import BIN, program_env
from tests.nodes import Clock, make_home, trust_each_other

pytestmark = [pytest.mark.db, pytest.mark.slow]

TIMEOUT = 60.0  # a bound on a hung test, never a statement about speed
PERIOD = 3  # seconds: the expected exchange period written to node.toml


def _alarms(home: Any) -> list[TransferLogRow]:
    with home.node.sessions() as s:
        return list(s.scalars(select(TransferLogRow).where(TransferLogRow.event == "alarm.overdue")))


def test_the_running_watcher_raises_the_overdue_alarm(tmp_path: Path, database_factory: Any) -> None:
    # the peer is trusted now by the real clock, which the watcher reads: only the short period makes
    # the alarm due within the test (with the default period of a day it would not be)
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    medium = tmp_path / "medium"
    medium.mkdir()
    a = make_home(tmp_path, INTERNAL, "int", medium, clock, database_factory("int"))
    b = make_home(tmp_path, PUBLIC, "pub", medium, clock, database_factory("pub"))
    trust_each_other(a, b, clock)
    sock_path = tmp_path / "syslog.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(TIMEOUT)
    cfg = b.node.config.config_path
    text = cfg.read_text(encoding="utf-8")
    assert 'period = "1d"' in text
    text = text.replace('period = "1d"', f'period = "{PERIOD}s"') + f'\n[alarms]\nsyslog = "{sock_path}"\n'
    cfg.write_text(text, encoding="utf-8")
    assert _alarms(b) == []
    out = tmp_path / "watch.out"
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            [str(BIN / "public-node"), "--home", str(b.node.config.home), "watch", "--rescan", "1s"],
            env=program_env(), stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        message = sock.recv(4096)  # the alarm reaches the system log...
        # the peer by its node name, with its id (issue 18 point 12)
        assert b"ALARM overdue: no package from int (" + a.id.encode() + b")" in message, message
        deadline = time.monotonic() + TIMEOUT
        while not _alarms(b):  # ...and the transfer log (committed in the same round)
            assert proc.poll() is None, out.read_text(encoding="utf-8", errors="replace")
            assert time.monotonic() < deadline, "no alarm.overdue entry"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=TIMEOUT)
        sock.close()
    assert code == 0, out.read_text(encoding="utf-8", errors="replace")
    first = _alarms(b)[0]
    assert (first.result, first.reason) == ("alarm", "no-package")
    subject = orjson.loads(first.subject)
    assert subject["peer"] == a.id and subject["channel"].startswith(a.id)
    assert orjson.loads(first.counts)["age_seconds"] > PERIOD
    assert "ALARM overdue: no package from" in out.read_text(encoding="utf-8", errors="replace")
