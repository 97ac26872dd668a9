"""The medium holder, without a key, against the receiver (docs/SECURITY.md, hardening cases 1–4): an
entry the node cannot read, an entry that fails with EIO or vanishes, a package file swapped for a
FIFO or a channel folder swapped for a symlink between the scan and the use, and two copies of one
package in one round. Each is that entry's outcome, reported once; the round goes on."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from exchange import receive
from tests.helpers import run_cli
from tests.integration.medium_support import (
    Pair,
    Pause,
    finish,
    hand_over,
    open_root,
    real_clock_pair,
    run,
    start,
)
from tests.integration.public_support import channel_packages, log_events, package_files
from transfer.medium import FS, channel_dirname, package_name

pytestmark = pytest.mark.db

JUNK_NAME = package_name(0, "f" * 64)  # sorts before every real package of the channel


@pytest.fixture
def pair(tmp_path: Path, database_factory: Any) -> Iterator[Pair]:
    p = real_clock_pair(tmp_path, database_factory)
    yield p
    p.close()


@pytest.fixture
def open_pair(db_engine_name: str, database_factory: Any) -> Iterator[Pair]:
    """A pair under a folder the service user can reach; SQLite databases live in the homes."""
    with open_root() as root:
        p = real_clock_pair(root, database_factory if db_engine_name == "postgresql" else None)
        yield p
        p.close()


def import_json(pair: Pair, *, as_service_user: bool = False) -> tuple[int, list[dict[str, Any]]]:
    """``public-node import --json`` as a real program; (exit code, outcomes)."""
    pair.close()  # the program opens the database itself
    done = run("public-node", pair.public, "import", "--json", as_service_user=as_service_user)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    doc: Any = orjson.loads(done.stdout) if done.stdout.strip() else {"error": done.stderr.decode()}
    return done.returncode, doc.get("outcomes", doc)


def skipped(outcomes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((o["file"], o["reason"]) for o in outcomes if o["result"] == "skipped")


def junk_alarms(pair: Pair) -> list[tuple[str, str]]:
    return sorted((e["file"], e["reason"]) for e in log_events(pair.public.node, "alarm.junk"))


# ------------------------------------------------------------------------------------------- case 1


def test_unreadable_entries_are_their_own_outcome_for_a_service_user(open_pair: Pair) -> None:
    """A package-named file and another sender's channel folder with mode 000, read by a node that runs
    as a service user: both are reported once, and the good package of the round is applied."""
    pair = open_pair
    good = pair.heartbeat()
    locked = pair.inbound / JUNK_NAME
    locked.write_bytes(os.urandom(500))
    other = pair.medium / channel_dirname("int-other", pair.public.id)
    other.mkdir()
    (other / package_name(1, "e" * 64)).write_bytes(os.urandom(500))
    hand_over(pair.public.node.config.home, pair.medium)
    locked.chmod(0)
    other.chmod(0)

    code, outcomes = import_json(pair, as_service_user=True)
    assert code == 0, outcomes
    assert channel_packages(pair.public.node, pair.internal.id, pair.public.id) == [(1, "applied")]
    assert good.medium is not None and not good.medium.exists()
    unreadable = sorted([(JUNK_NAME, "unreadable"), (other.name, "unreadable")])
    assert skipped(outcomes) == unreadable
    assert junk_alarms(pair) == unreadable

    code, outcomes = import_json(pair, as_service_user=True)
    assert (code, outcomes) == (0, []), "reported once, not at every round"
    assert len(log_events(pair.public.node, "alarm.junk")) == 2
    assert locked.exists() and other.exists(), "what the node cannot read stays where it is"


def test_an_eio_is_that_entry_s_outcome_and_is_reported_once(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read that fails with EIO (injected at the medium's read seam, ``transfer.FS``)."""
    pair.heartbeat()
    bad = pair.inbound / JUNK_NAME
    bad.write_bytes(os.urandom(500))
    os.utime(bad, (1, 1))
    bad_ino = bad.stat().st_ino
    real_read = FS.read

    def failing_read(fd: int, n: int) -> bytes:
        if os.fstat(fd).st_ino == bad_ino:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_read(fd, n)

    monkeypatch.setattr(FS, "read", failing_read)
    home = str(pair.public.node.config.home)
    first = run_cli("public-node", "--home", home, "import", "--json")
    assert first.code == 0, first.err
    outcomes: Any = first.json()
    assert [(o["result"], o.get("reason")) for o in outcomes["outcomes"]] == [
        ("applied", None), ("skipped", "io-error")
    ]  # fmt: skip
    second = run_cli("public-node", "--home", home, "import", "--json")
    assert (second.code, second.json()) == (0, {"outcomes": []}), "an EIO may heal: retried, not logged again"
    assert junk_alarms(pair) == [(JUNK_NAME, "io-error")]
    assert bad.exists()

    monkeypatch.setattr(FS, "read", real_read)  # the device recovered
    third = run_cli("public-node", "--home", home, "import", "--json")
    assert third.code == 4
    third_outcomes: Any = third.json()
    assert [(o["file"], o["result"], o["reason"]) for o in third_outcomes["outcomes"]] == [
        (JUNK_NAME, "rejected", "bad-magic")
    ]


def test_an_entry_that_vanishes_after_the_scan_is_its_own_outcome(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    pair.heartbeat()
    gone = pair.inbound / JUNK_NAME
    gone.write_bytes(os.urandom(500))
    real_pause = receive.pausepoint

    def vanish(name: str) -> None:
        if name == "after-scan":
            gone.unlink()
        real_pause(name)

    monkeypatch.setattr(receive, "pausepoint", vanish)
    first = run_cli("public-node", "--home", str(pair.public.node.config.home), "import", "--json")
    assert first.code == 0, first.err
    outcomes: Any = first.json()
    assert [(o["result"], o.get("reason")) for o in outcomes["outcomes"]] == [
        ("applied", None), ("skipped", "vanished")
    ]  # fmt: skip
    assert junk_alarms(pair) == [(JUNK_NAME, "vanished")]


# ------------------------------------------------------------------------------------------- case 2


def test_a_package_file_swapped_for_a_fifo_after_the_scan_does_not_hang_the_receiver(pair: Pair) -> None:
    """``public-node import`` is paused between its scan and its open; meanwhile a package-named file
    becomes a FIFO with no writer. The open must not wait for one: the entry is refused as not a regular
    file, and the rest of the round is applied."""
    pair.heartbeat()
    swapped = pair.inbound / JUNK_NAME
    swapped.write_bytes(os.urandom(500))
    pair.close()
    pause = Pause(pair.root / "pause", "after-scan")
    proc = start("public-node", pair.public, "import", "--json", pause="after-scan", pause_dir=pause.folder)
    pause.reached(proc)
    swapped.unlink()
    os.mkfifo(swapped)
    pause.go()
    assert finish(proc, "import with a FIFO on the medium") == 0
    assert channel_packages(pair.public.node, pair.internal.id, pair.public.id) == [(1, "applied")]
    assert junk_alarms(pair) == [(JUNK_NAME, "not-regular")]
    assert swapped.is_fifo(), "never removed: it is not a package file"


# ------------------------------------------------------------------------------------------- case 3


def test_a_channel_folder_swapped_for_a_symlink_before_removal_cannot_remove_a_parked_package(pair: Pair) -> None:
    """Packages 1–3: 2 is withheld, 3 is parked in the node's own ``pending/``. A copy of 3 comes back;
    while the receiver is paused before removing it from the medium, the channel folder becomes a
    symlink to the node's pending folder. The removal must still act on the folder that was scanned."""
    sent = [pair.heartbeat() for _ in range(3)]
    shelf = pair.root / "shelf"
    shelf.mkdir()
    assert sent[1].medium is not None and sent[2].medium is not None
    sent[1].medium.rename(shelf / sent[1].medium.name)
    shutil.copy2(sent[2].medium, shelf / sent[2].medium.name)
    assert run_cli("public-node", "--home", str(pair.public.node.config.home), "import").code == 0
    assert channel_packages(pair.public.node, pair.internal.id, pair.public.id) == [(1, "applied"), (3, "pending")]
    pending = pair.public.node.config.pending_dir / pair.inbound.name
    [parked] = package_files(pending)

    shutil.copy2(shelf / sent[2].medium.name, sent[2].medium)  # the medium holder's copy of package 3
    pair.close()
    pause = Pause(pair.root / "pause", "before-medium-remove")
    proc = start("public-node", pair.public, "import", pause="before-medium-remove", pause_dir=pause.folder)
    pause.reached(proc)
    scanned = pair.medium / "scanned"
    pair.inbound.rename(scanned)
    pair.inbound.symlink_to(pending, target_is_directory=True)
    pause.go()
    assert finish(proc, "import") == 0
    assert parked.is_file(), "the parked package is still there"
    assert not (scanned / parked.name).exists(), "the copy the receiver staged was removed"

    pair.inbound.unlink()
    scanned.rename(pair.inbound)
    (shelf / sent[1].medium.name).rename(sent[1].medium)  # package 2 arrives at last
    assert run_cli("public-node", "--home", str(pair.public.node.config.home), "import").code == 0
    assert channel_packages(pair.public.node, pair.internal.id, pair.public.id) == [
        (1, "applied"), (2, "applied"), (3, "applied")
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------- case 4


def test_two_identical_copies_in_one_round_are_a_package_and_a_duplicate(pair: Pair) -> None:
    first, second = pair.heartbeat(), pair.heartbeat()
    assert first.medium is not None
    copy = first.medium.with_name(package_name(1, "0" * 64))  # same bytes, another name
    shutil.copy2(first.medium, copy)
    result = run_cli("public-node", "--home", str(pair.public.node.config.home), "import", "--json")
    assert result.code == 0, result.err
    outcomes: Any = result.json()
    assert sorted((o["seq"], o["result"]) for o in outcomes["outcomes"]) == [
        (1, "applied"), (1, "duplicate"), (2, "applied")
    ]  # fmt: skip
    assert package_files(pair.inbound) == []
    assert second.seq == 2
