"""Concurrent writers cannot fork the transfer log: two processes appending at once to one node's
database leave one chain, indices 0..2N-1, that ``audit verify`` accepts."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from internal_node import SPEC as INTERNAL
from nodekit.models import TransferLogRow
from tests.helpers import run_cli
from tests.nodes import Clock, make_home

pytestmark = pytest.mark.db

N = 150

# Each writer opens its own engine (as a second node program would), says it is ready, waits for the
# common start signal, then appends N entries, one transaction each. The two overlap by construction,
# not by luck: after its i-th entry a writer leaves a mark and waits for the other's i-th mark before
# its next, so each round's two appends race each other, however loaded the machine (a writer far
# ahead of the other, as on a busy CI host, once made the test fail with "never overlapped").
WRITER = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from nodekit.db import make_engine, make_sessionmaker
from nodekit.events import record_event
from transfer.log import EventCode

url, name, other, folder, n = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]), int(sys.argv[5])
sessions = make_sessionmaker(make_engine(url))
with sessions() as s:  # connect before the start signal
    s.execute(__import__("sqlalchemy").text("SELECT 1"))

def wait_for(mark):
    deadline = time.monotonic() + 300  # a bound on a hung test only
    while not (folder / mark).exists():
        if time.monotonic() > deadline:
            sys.exit(f"{name}: {mark} never came")
        time.sleep(0.002)

(folder / f"ready-{name}").touch()
wait_for("go")
for i in range(n):
    with sessions() as s, s.begin():
        record_event(s, EventCode.ADMIN_ACTION, at=datetime.now(UTC), actor=f"service:{name}",
                     subject={"writer": name, "i": i})
    (folder / f"{name}-{i}").touch()
    wait_for(f"{other}-{i}")
"""


def test_two_processes_appending_at_once_leave_one_chain(tmp_path: Path, database_factory: Any) -> None:
    clock = Clock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    medium = tmp_path / "medium"
    medium.mkdir()
    url = database_factory("int")
    home = make_home(tmp_path, INTERNAL, "int", medium, clock, url)
    with home.node.sessions() as s:
        before = len(s.scalars(select(TransferLogRow.index)).all())  # the identity's own entries
    home.node.close()
    sync = tmp_path / "sync"
    sync.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    argv = [sys.executable, "-c", WRITER, url]
    procs = [
        subprocess.Popen(
            [*argv, name, other, str(sync), str(N)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for name, other in (("w1", "w2"), ("w2", "w1"))
    ]
    deadline = time.monotonic() + 120  # a functional bound only: the writers must get ready at all
    while not all((sync / f"ready-{n}").exists() for n in ("w1", "w2")):
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        assert time.monotonic() < deadline, "the writers never got ready"
        time.sleep(0.01)
    (sync / "go").touch()
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode(errors="replace")

    with home.node.sessions() as s:
        rows = s.execute(select(TransferLogRow.index, TransferLogRow.actor).order_by(TransferLogRow.index)).all()
    assert [i for i, _ in rows] == list(range(before + 2 * N))
    actors = [a for _, a in rows[before:]]
    assert actors.count("service:w1") == actors.count("service:w2") == N
    switches = sum(1 for x, y in itertools.pairwise(actors) if x != y)
    assert switches >= N, "each round holds one entry of each writer: the lockstep interleaves them"
    r = run_cli("internal-node", "--home", str(home.node.config.home), "audit", "verify", "--json")
    assert r.code == 0, r.out + r.err
    assert r.json()["entries"] == before + 2 * N  # type: ignore[index]
