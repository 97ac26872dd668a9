"""The quarantine on a real folder (docs/SECURITY.md, hardening case 13): rejected packages are kept
with a reason file, bytes within a quota, entries within a cap; what is older than the retention
period is pruned to make room, oldest first and equivocation or fork evidence last, and never
anything younger; the bookkeeping of one entry never lists the folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from transfer.quarantine import Quarantine

NOW = "2026-11-26T08:00:00+00:00"
RETENTION = 180 * 86400


def put(q: Quarantine, tmp: Path, i: int, at: str, reason: str = "bad-signature", size: int = 100) -> Path | None:
    staged = tmp / f"staged-{i}.cgp"
    staged.write_bytes(os.urandom(size))
    return q.put(
        staged, digest=f"{i:064x}", size=size, reason=reason, message="m", at=at, source=f"p{i}.cgp",
        header={"seq": i}, keep_bytes=True,
    )  # fmt: skip


def kept(q: Quarantine) -> list[str]:
    return sorted(e["source"] for e in q.entries())


def test_entries_past_retention_make_room_oldest_first_and_evidence_last(tmp_path: Path) -> None:
    q = Quarantine(tmp_path / "q", max_entries=4, retention=RETENTION)
    put(q, tmp_path, 1, "2020-01-01T00:00:00+00:00")
    put(q, tmp_path, 2, "2020-01-02T00:00:00+00:00", reason="equivocation")
    put(q, tmp_path, 3, "2026-11-01T00:00:00+00:00")  # within the retention period
    put(q, tmp_path, 4, "2020-01-03T00:00:00+00:00", reason="fork")
    assert put(q, tmp_path, 5, NOW) is not None
    assert kept(q) == ["p2.cgp", "p3.cgp", "p4.cgp", "p5.cgp"], "the oldest entry that is not evidence went"
    assert put(q, tmp_path, 6, NOW) is not None
    assert kept(q) == ["p3.cgp", "p4.cgp", "p5.cgp", "p6.cgp"], "then the oldest evidence"
    assert put(q, tmp_path, 7, NOW) is not None
    assert kept(q) == ["p3.cgp", "p5.cgp", "p6.cgp", "p7.cgp"]
    assert put(q, tmp_path, 8, NOW) is None, "nothing is old enough: recorded in the log only"
    assert kept(q) == ["p3.cgp", "p5.cgp", "p6.cgp", "p7.cgp"]
    assert not (tmp_path / "staged-8.cgp").exists()


def test_bytes_past_retention_make_room_within_the_quota(tmp_path: Path) -> None:
    q = Quarantine(tmp_path / "q", quota=2500, retention=RETENTION)
    put(q, tmp_path, 1, "2020-01-01T00:00:00+00:00", size=1000)
    put(q, tmp_path, 2, "2026-11-20T00:00:00+00:00", size=1000)
    folder = put(q, tmp_path, 3, NOW, size=1000)
    assert folder is not None and (folder / "package.cgp").is_file(), "the old entry made room"
    assert kept(q) == ["p2.cgp", "p3.cgp"]
    folder = put(q, tmp_path, 4, NOW, size=1000)
    assert folder is not None and not (folder / "package.cgp").exists(), "young bytes are never pruned"
    doc = orjson.loads((folder / "reason.json").read_bytes())
    assert doc["bytes_kept"] is False


def test_recording_an_entry_does_not_list_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    q = Quarantine(tmp_path / "q", max_entries=1000, retention=RETENTION)
    put(q, tmp_path, 1, NOW)

    def listing(*_: Any, **__: Any) -> Any:
        raise AssertionError("the quarantine folder was listed")

    for name in ("scandir", "listdir", "walk"):
        monkeypatch.setattr(os, name, listing)
    for name in ("iterdir", "glob", "rglob"):
        monkeypatch.setattr(Path, name, listing)
    for i in range(2, 50):
        assert put(q, tmp_path, i, NOW) is not None
    assert put(q, tmp_path, 1, NOW) is not None, "the same bytes again: found by digest, not by a listing"
    monkeypatch.undo()
    assert len(q.entries()) == 49


def test_the_same_bytes_are_kept_once(tmp_path: Path) -> None:
    """A crash after quarantining but before the medium copy was removed brings the same file back."""
    q = Quarantine(tmp_path / "q")
    first = put(q, tmp_path, 1, NOW)
    assert put(q, tmp_path, 1, NOW) == first
    assert len(q.entries()) == 1


def test_junk_keeps_no_bytes_and_the_cap_holds(tmp_path: Path) -> None:
    q = Quarantine(tmp_path / "q", quota=3000, max_entries=3)
    for i in (1, 2):
        folder = put(q, tmp_path, i, NOW, size=2000)
        assert folder is not None
        doc = orjson.loads((folder / "reason.json").read_bytes())
        assert doc["reason"] == "bad-signature" and doc["bytes_kept"] is (i == 1)
    junk = tmp_path / "junk"
    junk.write_bytes(b"garbage")
    folder = q.put(junk, digest="f" * 64, size=7, reason="bad-magic", message="m", at=NOW, source="x",
                   header=None, keep_bytes=False)  # fmt: skip
    assert folder is not None and not (folder / "package.cgp").exists() and not junk.exists()
    assert q.put(None, digest="e" * 64, size=1, reason="bad-magic", message="m", at=NOW, source="x",
                 header=None, keep_bytes=False) is None  # fmt: skip
    assert len(q.entries()) == 3


def test_an_existing_quarantine_without_an_index_is_counted_once(tmp_path: Path) -> None:
    """A home from before the index: its entries are counted (one listing) the first time."""
    q = Quarantine(tmp_path / "q", max_entries=3)
    for i in (1, 2, 3):
        put(q, tmp_path, i, NOW)
    for p in (tmp_path / "q").iterdir():
        if p.name.startswith("."):
            p.unlink() if p.is_file() else None
    assert put(Quarantine(tmp_path / "q", max_entries=3), tmp_path, 9, NOW) is None, "the cap is still known"
