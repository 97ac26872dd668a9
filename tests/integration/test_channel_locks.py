"""Two exports, or two imports, of one channel never interleave: the per-channel lock (nodekit.locks)
makes the second wait (or refuses it with ``channel-busy`` once its wait is over), and the unique
(channel, sequence) constraint refuses a doubled sequence even if a lock were bypassed. The node
programs run as real processes against real homes."""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from exchange.crash import PAUSE_DIR_ENV, PAUSE_ENV
from internal_node.export import export
from nodekit.errors import ExitCode
from nodekit.locks import ChannelBusy, channel_lock
from nodekit.models import ChannelPackageRow, ChannelRow
from tests.integration.medium_support import Pause
from tests.integration.public_support import BIN, channel_packages, log_events, package_files, program_env
from tests.nodes import Home, trusted_pair
from transfer.header import parse_prefix
from transfer.medium import channel_dirname

pytestmark = [pytest.mark.db, pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")]

# generous bound for a node program to start and reach its lock on a loaded machine; functional only
TIMEOUT = 120.0


@pytest.fixture
def homes(tmp_path: Path, database_factory: Any) -> Iterator[tuple[Home, Home]]:
    a, b, _, _ = trusted_pair(tmp_path, database_factory)
    yield a, b
    a.node.close()
    b.node.close()


def start(program: str, home: Home, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / program), "--home", str(home.node.config.home), *args, "--json"],
        env={**program_env(), **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, Any, str]:
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, orjson.loads(out) if out.strip() else None, err.decode(errors="replace")


@contextmanager
def held(home: Home, name: str) -> Iterator[Path]:
    """Hold a node's lock from the test process, as another exporter or importer would."""
    path = home.node.config.home / "locks" / f"{name}.lock"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield path
    finally:
        os.close(fd)


def wait_until_at_lock(proc: subprocess.Popen[bytes], lock: Path) -> None:
    """Return once ``proc`` has the lock file open, i.e. it is trying to take the lock the test holds."""
    fds = Path(f"/proc/{proc.pid}/fd")
    deadline = time.monotonic() + TIMEOUT
    while True:
        assert proc.poll() is None, finish(proc)
        try:
            targets = {os.readlink(fds / fd) for fd in os.listdir(fds)}
        except (FileNotFoundError, ProcessLookupError):
            targets = set()
        if str(lock) in targets:
            return
        assert time.monotonic() < deadline, "the program never reached the lock"
        time.sleep(0.05)


def wait_longer(home: Home, wait: str = "10m") -> None:
    """Let the home's importers wait ``wait`` for each other (``[exchange] receive_wait``) instead of
    answering ``channel-busy`` after a few seconds."""
    cfg = home.node.config.config_path
    text = cfg.read_text(encoding="utf-8")
    assert '\nreceive_wait = "5s"\n' in text, "init writes the default"
    cfg.write_text(text.replace('\nreceive_wait = "5s"\n', f'\nreceive_wait = "{wait}"\n'), encoding="utf-8")


def outbound(home: Home, peer: Home) -> list[tuple[int, str]]:
    return channel_packages(home.node, home.id, peer.id)


def chain_of(files: list[Path]) -> list[tuple[int, str]]:
    """(seq, prev) of each package file's header."""
    out = []
    for f in files:
        with f.open("rb") as fh:
            doc = parse_prefix(fh.read(70_000)).document
        out.append((doc["seq"], doc["prev"]))
    return sorted(out)


def test_an_export_waits_for_the_channel_lock_then_takes_the_next_sequence(homes: Any) -> None:
    a, b = homes
    with held(a, channel_dirname(a.id, b.id)) as lock:
        proc = start("internal-node", a, "export")
        wait_until_at_lock(proc, lock)
        assert proc.poll() is None, "the export waits while another export holds the channel"
        assert outbound(a, b) == [] and package_files(a.node.config.home / "archive") == []
    code, report, err = finish(proc)
    assert code == 0, err
    assert [p["seq"] for p in report["sent"]] == [1]
    assert outbound(a, b) == [(1, "written")]


@pytest.mark.parametrize("before", [0, 1], ids=["first-ever", "after-one"])
def test_two_concurrent_exports_never_double_a_sequence(homes: Any, before: int) -> None:
    a, b = homes
    name = channel_dirname(a.id, b.id)
    # first-ever: both also race to create the publication's pseudonym key and first numbers
    for _ in range(before):
        export(a.node, a.identity)
    with held(a, name) as lock:  # both start, both queue at the lock, then race for it
        procs = [start("internal-node", a, "export") for _ in range(2)]
        for p in procs:
            wait_until_at_lock(p, lock)
    results = [finish(p) for p in procs]
    assert [r[0] for r in results] == [0, 0], [r[2] for r in results]
    sent = {s["seq"]: s["digest"] for r in results for s in r[1]["sent"]}
    first, last = before + 1, before + 2
    assert sorted(sent) == [first, last]
    assert outbound(a, b) == [(seq, "written") for seq in range(1, last + 1)]
    chain = chain_of(package_files(a.node.config.medium / name))
    assert [seq for seq, _ in chain] == list(range(1, last + 1))
    assert chain[last - 1] == (last, sent[first]), "the later export chained onto the earlier one's package"


def test_a_busy_channel_is_refused_with_channel_busy_after_the_wait(homes: Any) -> None:
    a, b = homes
    name = channel_dirname(a.id, b.id)
    with held(a, name), pytest.raises(ChannelBusy) as err, channel_lock(a.node.config.home, name, wait=0.2):
        pytest.fail("took a lock another holder has")
    assert err.value.reason == "channel-busy" and err.value.exit_code == ExitCode.FAILURE
    assert str(err.value) == (
        f"channel-busy: channel {name} is held by another process (it recorded no pid) "
        "(another export or import); try again once it has finished"
    )
    with channel_lock(a.node.config.home, name, wait=0.2):  # released with its holder
        pass


def test_the_database_refuses_a_second_package_with_the_same_sequence(homes: Any) -> None:
    a, b = homes
    export(a.node, a.identity)
    with pytest.raises(IntegrityError), a.node.transaction() as s:
        row = s.scalars(select(ChannelPackageRow)).one()
        s.add(
            ChannelPackageRow(
                channel_id=row.channel_id, seq=row.seq, digest="f" * 64, type=row.type, status="sealed",
                created=row.created, size=row.size, counts=row.counts, file="other.cgp", recorded_at=row.recorded_at,
            )
        )  # fmt: skip
    assert outbound(a, b) == [(1, "written")]


def test_two_concurrent_imports_apply_each_package_once(homes: Any) -> None:
    a, b = homes
    wait_longer(b)  # the second import queues behind the first, which the test keeps waiting
    for _ in range(3):
        export(a.node, a.identity)
    name = channel_dirname(a.id, b.id)
    with held(b, name) as lock:  # the first importer waits at the channel, the second at the receiver lock
        first = start("public-node", b, "import")
        wait_until_at_lock(first, lock)
        second = start("public-node", b, "import")
        wait_until_at_lock(second, b.node.config.home / "locks" / "receive.lock")
        assert first.poll() is None and second.poll() is None
        assert channel_packages(b.node, a.id, b.id) == [], "nothing is applied while the channel is held"
    results = [finish(first), finish(second)]
    assert [r[0] for r in results] == [0, 0], [r[2] for r in results]
    outcomes = [(o["seq"], o["result"]) for r in results for o in r[1]["outcomes"]]
    assert sorted(outcomes) == [(1, "applied"), (2, "applied"), (3, "applied")]
    assert channel_packages(b.node, a.id, b.id) == [(1, "applied"), (2, "applied"), (3, "applied")]
    assert sorted(e["seq"] for e in log_events(b.node, "package.applied")) == [1, 2, 3]
    with b.node.sessions() as s:
        assert s.scalars(select(ChannelRow.last_seq)).one() == 3


def test_an_import_beside_a_hung_receiver_answers_at_once_with_the_holders_pid(homes: Any, tmp_path: Path) -> None:
    """Issue 12 case 5: a receiver stuck inside the receive lock (here held at a pause point, as a read
    stuck in the kernel would hold it) makes a second ``import`` answer ``channel-busy`` with the
    holder's pid and how long it has held the lock, instead of waiting behind it; the lock is an
    ``flock``, so it goes with its holder when the holder is killed, and the next import applies."""
    a, b = homes
    export(a.node, a.identity)
    pause = Pause(tmp_path / "pauses", "receive-locked")
    holder = start("public-node", b, "import", env={PAUSE_ENV: pause.point, PAUSE_DIR_ENV: str(pause.folder)})
    try:
        pause.reached(holder)
        code, doc, err = finish(start("public-node", b, "import"))
        assert code == ExitCode.FAILURE, err
        assert doc["error"]["reason"] == "channel-busy"
        message = doc["error"]["message"]
        assert re.fullmatch(
            rf"channel-busy: the receiver of this node is held by pid {holder.pid} for (\d+ min )?\d+ s "
            r"\(another import or watch\); try again once it has finished",
            message,
        ), message
        assert err.strip() == f"public-node: error: {message}"
        assert channel_packages(b.node, a.id, b.id) == []
    finally:
        holder.kill()  # what systemd does to a hung service; a stuck read would end with the process
        holder.wait(timeout=TIMEOUT)
    code, doc, err = finish(start("public-node", b, "import"))
    assert code == 0, err
    assert [(o["seq"], o["result"]) for o in doc["outcomes"]] == [(1, "applied")]
