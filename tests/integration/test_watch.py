"""``public-node watch`` as a service against a real directory: packages applied through real
filesystem events (inotify) and through the polling observer, a file still being written left alone
until it is complete, a tampered package quarantined without stopping the service, and a clean stop
on SIGTERM or SIGINT.

The internal node writes to its own outbox; the test plays the transfer device, carrying each file
to the public node's medium (atomically, or carelessly in two parts)."""

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

from exchange.engine import SentPackage
from internal_node import SPEC as INTERNAL
from internal_node import sample_data
from internal_node.export import export, resend
from public_node import SPEC as PUBLIC
from tests.integration.public_support import (
    BIN,
    assert_in_step,
    channel_packages,
    ingest_rows,
    package_files,
    penalty,
    program_env,
)
from tests.nodes import Clock, Home, make_home, trust_each_other
from transfer.medium import Quarantine, channel_dirname

pytestmark = pytest.mark.slow

TIMEOUT = 60.0  # a bound on a hung test, never a statement about speed
REACTION_BOUND = 5.0  # the one second, with room for a loaded CI machine (see its use)


@dataclass
class Watched:
    tmp: Path
    outbox: Path  # the internal node's medium
    medium: Path  # the public node's medium, watched
    internal: Home
    public: Home
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> None:
        """Start the watcher; rescans are an hour apart, so only events (or polling) can wake it.

        Returns once this run has said "watching", i.e. its signal handlers are installed (the log is
        shared by restarts, so the lines are counted)."""
        started = self.output().count("watching ") if self.log.exists() else 0
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(BIN / "public-node"),
                    "--home",
                    str(self.public.node.config.home),
                    "watch",
                    "--rescan",
                    "1h",
                    *args,
                ],
                env=program_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: self.output().count("watching ") > started, "the watcher has started", self)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=TIMEOUT)
        self.proc = None
        return code

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def seal(self, rows: list[dict[str, Any]]) -> SentPackage:
        assert ingest_rows(self.internal.node, "penalty", rows, self.tmp / "department-files").accepted
        [pkg] = export(self.internal.node, self.internal.identity).sent
        assert pkg.medium is not None
        return pkg

    def target(self, pkg: SentPackage) -> Path:
        assert pkg.medium is not None
        folder = self.medium / pkg.medium.parent.name
        folder.mkdir(exist_ok=True)
        return folder / pkg.medium.name

    def carry(self, pkg: SentPackage, data: bytes | None = None) -> Path:
        """Deliver a package the way a careful device does: a hidden temporary name, then a rename."""
        target = self.target(pkg)
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_bytes(pkg.archive.read_bytes() if data is None else data)
        tmp.rename(target)
        return target

    def inbound(self, root: Path) -> list[Path]:
        """The package files of the internal-to-public channel under ``root`` (the medium or a node's
        archive); the public node's own return packages live in the other channel's folder."""
        return package_files(root / channel_dirname(self.internal.id, self.public.id))

    def applied(self) -> list[int]:
        return [
            seq
            for seq, status in channel_packages(self.public.node, self.internal.id, self.public.id)
            if status == "applied"
        ]

    def quarantined(self) -> list[dict[str, Any]]:
        return Quarantine(self.public.node.config.quarantine_dir).entries()


def wait_for(condition: Callable[[], bool], what: str, w: Watched) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if w.proc is not None and w.proc.poll() is not None:
            pytest.fail(f"the watcher exited ({w.proc.returncode}) before {what}:\n{w.output()[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}:\n{w.output()[-2000:]}")
        time.sleep(0.1)


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    outbox, medium = tmp_path / "outbox", tmp_path / "medium"
    outbox.mkdir()
    medium.mkdir()
    clock = Clock(datetime.now(UTC).replace(microsecond=0))  # the watcher reads the real clock
    internal = make_home(tmp_path, INTERNAL, "int", outbox, clock)
    public = make_home(tmp_path, PUBLIC, "pub", medium, clock)
    trust_each_other(internal, public, clock)
    sample_data.run(subjects=6, seed=5, out=None, as_of=internal.node.today(), node=internal.node)
    w = Watched(tmp_path, outbox, medium, internal, public, tmp_path / "watch.log")
    yield w
    if w.proc is not None and w.proc.poll() is None:
        w.proc.kill()
        w.proc.wait(timeout=TIMEOUT)
    internal.node.close()
    public.node.close()


def decided() -> Any:
    return datetime.now(UTC).date() - timedelta(days=20)


@pytest.mark.parametrize("mode", ["events", "poll"])
def test_a_package_written_to_the_medium_is_applied(watched: Watched, mode: str) -> None:
    first = watched.seal([penalty(1, decided())])
    second = watched.seal([penalty(2, decided())])
    # no return packages: the watcher's own writes to the medium would be events too
    watched.start("--receipts-every", "0s", *(["--poll"] if mode == "poll" else []))
    watched.carry(first)
    wait_for(lambda: watched.applied() == [1], "package 1 is applied", watched)
    # the first round is over: only an event (or a poll) can bring package 2 in within the hour
    arrived = time.monotonic()
    watched.carry(second)
    wait_for(lambda: watched.applied() == [1, 2], "package 2 is applied", watched)
    reaction = time.monotonic() - arrived
    if mode == "events":
        # The issue asks for a reaction within a second; a loaded CI machine (and this test's own 0.1 s
        # polling of the database) gets five. A watcher that missed the event would wait for the rescan,
        # an hour away, and the line below says it was the event that woke it.
        assert reaction < REACTION_BOUND, f"package 2 applied {reaction:.1f}s after it arrived"

    def applied_line() -> list[int]:  # printed once the round's packages are all processed
        lines = watched.output().splitlines()
        return [n for n, line in enumerate(lines) if line.startswith("applied ") and " seq 2 " in line]

    wait_for(lambda: bool(applied_line()), "the watcher has said it applied package 2", watched)
    lines = watched.output().splitlines()
    [at] = applied_line()
    assert lines[at - 1].endswith(" woken by event"), lines[at - 1]
    wait_for(lambda: watched.inbound(watched.medium) == [], "the medium copies are removed", watched)
    assert watched.stop(signal.SIGTERM if mode == "events" else signal.SIGINT) == 0
    stopped = watched.output()
    assert ("polling every" if mode == "poll" else "events (InotifyObserver)") in stopped
    assert "stopped after" in stopped
    assert_in_step(watched.internal.node, watched.public.node)


def test_a_file_still_being_written_is_left_until_it_is_complete(watched: Watched) -> None:
    pkg = watched.seal([penalty(1, decided()), penalty(2, decided(), uscc=1)])
    data = pkg.archive.read_bytes()
    watched.start()
    target = watched.target(pkg)
    # a careless device: the final name at once, the bytes in two parts
    with target.open("wb") as out:
        out.write(data[: len(data) // 2])
        out.flush()
        wait_for(
            lambda: "skipped" in watched.output() or bool(watched.quarantined()) or not target.exists(),
            "the watcher has looked at the half-written file",
            watched,
        )
        assert watched.quarantined() == [], "a file still being written is not garbage"
        assert target.exists() and watched.applied() == []
        out.write(data[len(data) // 2 :])
    wait_for(lambda: watched.applied() == [1], "the completed package is applied", watched)
    assert watched.stop() == 0
    assert watched.quarantined() == [] and watched.inbound(watched.medium) == []
    assert_in_step(watched.internal.node, watched.public.node)


def test_the_watcher_keeps_working_after_a_tampered_package(watched: Watched) -> None:
    first = watched.seal([penalty(1, decided())])
    second = watched.seal([penalty(2, decided())])
    watched.start()
    watched.carry(first)
    wait_for(lambda: watched.applied() == [1], "package 1 is applied", watched)
    tampered = bytearray(second.archive.read_bytes())
    tampered[-30] ^= 0x01
    watched.carry(second, bytes(tampered))
    wait_for(lambda: len(watched.quarantined()) == 1, "the tampered package is quarantined", watched)
    [entry] = watched.quarantined()
    assert entry["reason"] == "bad-ciphertext" and entry["header"]["seq"] == 2
    assert watched.applied() == [1] and watched.proc is not None and watched.proc.poll() is None
    # the operator resends package 2 with its original bytes; package 3 follows
    [again] = resend(watched.internal.node, watched.internal.identity, 2, 2)
    assert again.digest == second.digest
    watched.carry(second)
    watched.carry(watched.seal([penalty(3, decided())]))
    wait_for(lambda: watched.applied() == [1, 2, 3], "packages 2 and 3 are applied", watched)
    assert watched.stop() == 0
    assert "rejected" in watched.output() and len(watched.quarantined()) == 1
    assert_in_step(watched.internal.node, watched.public.node)


def test_sigterm_during_a_batch_stops_between_packages_and_a_restart_takes_the_rest(watched: Watched) -> None:
    sent = [watched.seal([penalty(n, decided()), penalty(n + 10, decided(), uscc=1)]) for n in range(1, 9)]
    for pkg in sent:
        watched.carry(pkg)
    watched.start()
    wait_for(lambda: bool(watched.applied()), "the batch is under way", watched)
    assert watched.stop() == 0  # the signal lands somewhere in the batch (or just after it)
    done = watched.applied()
    assert done == list(range(1, len(done) + 1)), "a prefix of the batch, each package whole"
    left = [f.name for f in watched.inbound(watched.medium)]
    assert left == [p.archive.name for p in sent[len(done) :]], "the others wait on the medium"
    cfg = watched.public.node.config
    assert [f.name for f in watched.inbound(cfg.archive_dir)] == [p.archive.name for p in sent[: len(done)]]
    assert list(cfg.staging_dir.iterdir()) == []
    watched.start()
    wait_for(lambda: watched.applied() == [p.seq for p in sent], "the rest is applied", watched)
    assert watched.stop() == 0
    assert watched.inbound(watched.medium) == [] and watched.quarantined() == []
    assert_in_step(watched.internal.node, watched.public.node)
