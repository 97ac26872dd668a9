"""Killing the node programs (SIGKILL, as a power cut would) at each deterministic crash point of the
exchange, then restarting them: every package is applied exactly once, no sequence number is lost or
doubled, and the medium, the archive, staging and the database agree.

The programs run as real subprocesses (the console scripts of the venv); ``CREDGAP_CRASH_AT`` makes
one kill itself at the named point (``exchange.crash``)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exchange.crash import POINTS
from exchange.engine import SentPackage
from internal_node import SPEC as INTERNAL
from internal_node import sample_data
from internal_node.export import export
from public_node import SPEC as PUBLIC
from public_node.importer import import_packages
from tests.integration.public_support import (
    BIN,
    assert_in_step,
    channel_packages,
    ingest_rows,
    log_events,
    package_files,
    penalty,
    program_env,
)
from tests.nodes import Clock, Home, make_home, trust_each_other
from transfer.medium import Quarantine, channel_dirname

# the cases marked db run on PostgreSQL too; the watcher's restart path does not depend on the engine
pytestmark = pytest.mark.slow

RECEIVING = (
    "after-staging",
    "mid-apply",
    "before-commit",
    "after-commit",
    "before-medium-remove",
    "after-medium-remove",
)
SENDING = ("after-archive", "after-seal-commit", "after-medium-write")
TIMEOUT = 90.0  # generous: never a statement about speed, only a bound on a hung test


def test_the_points_tested_are_the_points_that_exist() -> None:
    assert set(RECEIVING) | set(SENDING) == POINTS


@dataclass
class Pair:
    tmp: Path
    medium: Path
    internal: Home
    public: Home
    clock: Clock

    def run(self, program: str, home: Home, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / program), "--home", str(home.node.config.home), *args],
            env=program_env(crash),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def start(self, program: str, home: Home, *args: str, crash: str | None = None) -> subprocess.Popen[bytes]:
        with (self.tmp / f"{program}-{time.monotonic_ns()}.log").open("wb") as log:
            return subprocess.Popen(
                [str(BIN / program), "--home", str(home.node.config.home), *args],
                env=program_env(crash),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def inbound(self, root: Path) -> list[Path]:
        """The package files of the internal-to-public channel under ``root`` (the medium or a node's
        archive); the public node's own return packages live in the other channel's folder."""
        return package_files(root / channel_dirname(self.internal.id, self.public.id))

    def catch_up(self) -> None:
        """The in-process clock follows the subprocesses' real one (packages must not look future-dated)."""
        self.clock.now = max(self.clock.now, datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1))


@pytest.fixture
def pair(tmp_path: Path, database_factory: Any) -> Iterator[Pair]:
    """Two homes (the programs read the real clock, so the fixture's starts now) and the internal data."""
    medium = tmp_path / "medium"
    medium.mkdir()
    clock = Clock(datetime.now(UTC).replace(microsecond=0))
    internal = make_home(tmp_path, INTERNAL, "int", medium, clock, database_factory("int"))
    public = make_home(tmp_path, PUBLIC, "pub", medium, clock, database_factory("pub"))
    trust_each_other(internal, public, clock)
    sample_data.run(subjects=8, seed=11, out=None, as_of=internal.node.today(), node=internal.node)
    p = Pair(tmp_path, medium, internal, public, clock)
    yield p
    internal.node.close()
    public.node.close()


def three_packages(p: Pair) -> list[SentPackage]:
    """Three exports, each with at least two data items (``mid-apply`` dies at the second)."""
    decided = p.internal.node.today() - timedelta(days=20)
    return [
        seal(p, rows)
        for rows in (
            [penalty(1, decided), penalty(2, decided, uscc=1)],
            [penalty(1, decided, fine="3"), penalty(2, decided, uscc=1, status="deleted")],
            [penalty(3, decided), penalty(1, decided, status="deleted")],
        )
    ]


def seal(p: Pair, rows: list[dict[str, Any]]) -> SentPackage:
    """Ingest ``rows``, then export: the next package on the channel, delivered to the medium."""
    assert ingest_rows(p.internal.node, "penalty", rows, p.tmp / "department-files").accepted
    [pkg] = export(p.internal.node, p.internal.identity).sent
    assert pkg.counts.get("record", 0) >= 2 and pkg.medium is not None
    return pkg


def channel(p: Pair) -> list[tuple[int, str]]:
    return channel_packages(p.public.node, p.internal.id, p.public.id)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.2)


# ------------------------------------------------------------------------------------------ receiving


def crash_state(p: Pair, point: str, sent: list[SentPackage]) -> None:
    """What the kill left behind proves the process died at ``point`` and nowhere else."""
    cfg = p.public.node.config
    on_medium = [f.name for f in p.inbound(p.medium)]
    names = [s.archive.name for s in sent]
    committed = channel(p) == [(1, "applied")]
    assert any(cfg.staging_dir.iterdir()), "staged copies are left behind (the restart clears them)"
    if point in ("after-staging", "mid-apply", "before-commit"):
        assert channel(p) == [] and on_medium == names, "nothing committed, nothing removed"
        assert [f.name for f in p.inbound(cfg.archive_dir)] == ([names[0]] if point == "before-commit" else [])
    else:
        assert committed, "package 1 committed before the kill"
        assert on_medium == (names[1:] if point == "after-medium-remove" else names)
        assert [f.name for f in p.inbound(cfg.archive_dir)] == [names[0]]


def assert_consistent(p: Pair, sent: list[SentPackage]) -> None:
    """Every package applied exactly once; medium, archive, staging, pending and quarantine agree."""
    cfg = p.public.node.config
    seqs = [s.seq for s in sent]
    assert channel(p) == [(seq, "applied") for seq in seqs]
    assert [e["seq"] for e in log_events(p.public.node, "package.applied")] == seqs
    assert p.inbound(p.medium) == [], "no applied package is left on the medium"
    assert [f.name for f in p.inbound(cfg.archive_dir)] == [s.archive.name for s in sent]
    assert [f.read_bytes() for f in p.inbound(cfg.archive_dir)] == [s.archive.read_bytes() for s in sent]
    assert list(cfg.staging_dir.iterdir()) == []
    assert package_files(cfg.pending_dir) == []
    assert Quarantine(cfg.quarantine_dir).entries() == []
    assert_in_step(p.internal.node, p.public.node)


@pytest.mark.db
@pytest.mark.parametrize("point", RECEIVING)
def test_import_killed_then_rerun(pair: Pair, point: str) -> None:
    sent = three_packages(pair)
    killed = pair.run("public-node", pair.public, "import", crash=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    crash_state(pair, point, sent)
    again = pair.run("public-node", pair.public, "import", "--json")
    assert again.returncode == 0, again.stderr
    assert_consistent(pair, sent)


@pytest.mark.parametrize("point", RECEIVING)
def test_watch_killed_then_restarted(pair: Pair, point: str) -> None:
    sent = three_packages(pair)
    watcher = pair.start("public-node", pair.public, "watch", "--rescan", "1h", crash=point)
    assert watcher.wait(timeout=TIMEOUT) == -signal.SIGKILL
    crash_state(pair, point, sent)
    watcher = pair.start("public-node", pair.public, "watch", "--rescan", "1h")
    try:
        wait_for(lambda: len(channel(pair)) == 3 and not pair.inbound(pair.medium), "all three are applied")
    finally:
        watcher.send_signal(signal.SIGTERM)
        code = watcher.wait(timeout=TIMEOUT)
    assert code == 0
    assert_consistent(pair, sent)


@pytest.mark.db
@pytest.mark.parametrize("point", ["after-commit", "after-medium-remove"])  # before the commit: as above
def test_import_killed_while_later_packages_wait_for_an_earlier_one(pair: Pair, point: str) -> None:
    sent = three_packages(pair)
    shelf = pair.tmp / "shelf"
    shelf.mkdir()
    first = sent[0].medium
    assert first is not None
    first.rename(shelf / first.name)
    parked = import_packages(pair.public.node, pair.public.identity)
    assert [(o.seq, o.result) for o in parked] == [(2, "pending"), (3, "pending")]
    assert channel(pair) == [(2, "pending"), (3, "pending")] and pair.inbound(pair.medium) == []
    (shelf / first.name).rename(first)
    killed = pair.run("public-node", pair.public, "import", crash=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = pair.run("public-node", pair.public, "import")
    assert again.returncode == 0, again.stderr
    assert_consistent(pair, sent)


@pytest.mark.db
def test_import_killed_while_applying_a_parked_package(pair: Pair) -> None:
    sent = three_packages(pair)
    shelf = pair.tmp / "shelf"
    shelf.mkdir()
    first = sent[0].medium
    assert first is not None
    first.rename(shelf / first.name)
    import_packages(pair.public.node, pair.public.identity)
    (shelf / first.name).rename(first)
    # package 1 is applied and gone from the medium; the run dies before it takes up the parked ones
    assert pair.run("public-node", pair.public, "import", crash="after-medium-remove").returncode == -signal.SIGKILL
    assert channel(pair) == [(1, "applied"), (2, "pending"), (3, "pending")]
    # a new package arrives; the run that parks it dies while applying parked package 2
    decided = pair.internal.node.today() - timedelta(days=20)
    sent.append(seal(pair, [penalty(4, decided), penalty(5, decided)]))
    assert pair.run("public-node", pair.public, "import", crash="before-commit").returncode == -signal.SIGKILL
    assert channel(pair) == [(1, "applied"), (2, "pending"), (3, "pending"), (4, "pending")]
    again = pair.run("public-node", pair.public, "import")
    assert again.returncode == 0, again.stderr
    assert_consistent(pair, sent)


# -------------------------------------------------------------------------------------------- sending


def outbound(p: Pair) -> list[tuple[int, str]]:
    return channel_packages(p.internal.node, p.internal.id, p.public.id)


@pytest.mark.db
@pytest.mark.parametrize("point", SENDING)
def test_export_killed_then_rerun(pair: Pair, point: str) -> None:
    decided = pair.internal.node.today() - timedelta(days=20)
    folder = pair.tmp / "department-files"
    assert ingest_rows(pair.internal.node, "penalty", [penalty(1, decided)], folder).accepted
    export(pair.internal.node, pair.internal.identity)
    assert ingest_rows(pair.internal.node, "penalty", [penalty(2, decided), penalty(1, decided, fine="4")], folder)
    archive = pair.internal.node.config.archive_dir

    killed = pair.run("internal-node", pair.internal, "export", crash=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    archived = [f.name for f in pair.inbound(archive)]
    on_medium = [f.name for f in pair.inbound(pair.medium)]
    if point == "after-archive":
        assert outbound(pair) == [(1, "written")] and len(archived) == 2 and len(on_medium) == 1
        orphan = archived[1]
    elif point == "after-seal-commit":
        assert outbound(pair) == [(1, "written"), (2, "sealed")] and len(archived) == 2 and len(on_medium) == 1
    else:
        assert outbound(pair) == [(1, "written"), (2, "sealed")] and on_medium == archived and len(on_medium) == 2

    again = pair.run("internal-node", pair.internal, "export", "--json")
    assert again.returncode == 0, again.stderr
    rows = outbound(pair)
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1)), "no sequence number lost or doubled"
    assert {status for _, status in rows} == {"written"}
    assert len(rows) == (2 if point == "after-archive" else 3)
    archived = [f.name for f in pair.inbound(archive)]
    assert [int(name[1:13]) for name in archived] == [seq for seq, _ in rows], "one archive file per package"
    assert [f.name for f in pair.inbound(pair.medium)] == archived, "the medium has every sealed package"
    if point == "after-archive":
        assert orphan not in archived, "the file of the package that was never committed is gone"
    assert not list(archive.rglob("*-sealing.cgp"))

    # the public node takes the whole chain in order: nothing missing, nothing twice
    pair.catch_up()
    out = import_packages(pair.public.node, pair.public.identity)
    assert [(o.seq, o.result) for o in out] == [(seq, "applied") for seq, _ in rows]
    assert_in_step(pair.internal.node, pair.public.node)


@pytest.mark.db
def test_an_export_with_nothing_new_still_delivers_a_package_sealed_before_a_kill(pair: Pair) -> None:
    decided = pair.internal.node.today() - timedelta(days=20)
    assert ingest_rows(pair.internal.node, "penalty", [penalty(1, decided)], pair.tmp / "department-files")
    killed = pair.run("internal-node", pair.internal, "export", crash="after-seal-commit")
    assert killed.returncode == -signal.SIGKILL
    assert outbound(pair) == [(1, "sealed")] and pair.inbound(pair.medium) == []
    # a cron job that exports only when something changed: the content already went into package 1
    quiet = pair.run("internal-node", pair.internal, "export", "--no-heartbeat", "--json")
    assert quiet.returncode == 0, quiet.stderr
    assert outbound(pair) == [(1, "written")]
    assert [f.name for f in pair.inbound(pair.medium)] == [
        f.name for f in pair.inbound(pair.internal.node.config.archive_dir)
    ]
    pair.catch_up()
    assert [(o.seq, o.result) for o in import_packages(pair.public.node, pair.public.identity)] == [(1, "applied")]
    assert_in_step(pair.internal.node, pair.public.node)
