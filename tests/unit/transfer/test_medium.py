"""The medium module on a real directory: atomic publishing, what scanning ignores, bounded staging,
removal, and the quarantine's quota."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import orjson
import pytest

from transfer.errors import MediumError, PackageRejected
from transfer.medium import Medium, PackageStore, Quarantine, clear_staging, package_name

DIGEST = "ab" * 32


def make_package(tmp: Path, size: int = 1000) -> Path:
    p = tmp / "src.cgp"
    p.write_bytes(os.urandom(size))
    return p


def test_publish_is_atomic_and_idempotent(tmp_path: Path) -> None:
    med = Medium(tmp_path / "medium")
    (tmp_path / "medium").mkdir()
    src = make_package(tmp_path)
    name = package_name(1, DIGEST)
    target = med.publish(src, "int-a", "pub-b", name)
    assert target == tmp_path / "medium" / "int-a_to_pub-b" / name
    assert target.read_bytes() == src.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == [name], "no temporary file is left behind"
    mtime = target.stat().st_mtime_ns
    med.publish(src, "int-a", "pub-b", name)
    assert target.stat().st_mtime_ns == mtime, "an identical file is left as is"


def test_missing_medium_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MediumError, match="not found"):
        Medium(tmp_path / "nowhere").scan()


def test_scan_ignores_partial_hidden_and_odd_files(tmp_path: Path) -> None:
    root = tmp_path / "m"
    ch = root / "int-a_to_pub-b"
    ch.mkdir(parents=True)
    good = ch / package_name(2, DIGEST)
    good.write_bytes(b"x")
    (ch / package_name(1, DIGEST)).write_bytes(b"y")
    (ch / ".tmp-123-p000000000003-abababababababab.cgp").write_bytes(b"partial")
    (ch / ".hidden").write_bytes(b"h")
    (ch / "notes.txt").write_bytes(b"n")
    (ch / "p000000000004-abababababababab.cgp").symlink_to("/etc/passwd")
    (ch / "p000000000005-abababababababab.cgp").mkdir()
    (root / "../escape").resolve()
    (root / "random-folder").mkdir()
    (root / "int-a_to_pub-c").mkdir()
    (root / "int-a_to_pub-c" / package_name(1, DIGEST)).write_bytes(b"z")
    files, odd = Medium(root).scan(recipient="pub-b")
    assert [f.seq_hint for f in files] == [1, 2]
    assert {u.path.name for u in odd} == {
        "notes.txt",
        "p000000000004-abababababababab.cgp",
        "p000000000005-abababababababab.cgp",
        "random-folder",
    }
    files, _ = Medium(root).scan()
    assert len(files) == 3


def test_stage_copies_bounded_and_never_follows_links(tmp_path: Path) -> None:
    root = tmp_path / "m"
    ch = root / "int-a_to_pub-b"
    ch.mkdir(parents=True)
    data = os.urandom(5000)
    (ch / package_name(1, DIGEST)).write_bytes(data)
    med = Medium(root)
    [f], _ = med.scan()
    staged = med.stage(f, tmp_path / "staging", max_size=10_000)
    assert staged.path.read_bytes() == data and staged.size == 5000
    assert staged.path.parent == tmp_path / "staging"
    with pytest.raises(PackageRejected) as err:
        med.stage(f, tmp_path / "staging", max_size=4999)
    assert err.value.reason == "oversized"
    assert not [p for p in (tmp_path / "staging").iterdir() if p.name.startswith(".tmp")]


def test_remove_reports_a_read_only_medium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real read-only mount needs privileges a test cannot assume; the OS error is simulated.
    p = tmp_path / "f.cgp"
    p.write_bytes(b"x")
    med = Medium(tmp_path)

    def ro(self: Path, missing_ok: bool = False) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "unlink", ro)
    assert med.remove(p) is False
    monkeypatch.undo()
    assert med.remove(p) is True and not p.exists()


def test_quarantine_keeps_reason_and_respects_quota(tmp_path: Path) -> None:
    q = Quarantine(tmp_path / "q", quota=3000, max_entries=3)
    for i in range(2):
        staged = tmp_path / f"s{i}.cgp"
        staged.write_bytes(os.urandom(2000))
        folder = q.put(staged, digest=f"{i}" * 64, size=2000, reason="bad-signature", message="m", at="2026-11-26T08:00:00",
                       source="p1.cgp", header={"seq": 1}, keep_bytes=True)  # fmt: skip
        assert folder is not None and not staged.exists()
        doc = orjson.loads((folder / "reason.json").read_bytes())
        assert doc["reason"] == "bad-signature" and doc["bytes_kept"] is (i == 0)
    junk = tmp_path / "junk"
    junk.write_bytes(b"garbage")
    folder = q.put(
        junk,
        digest="f" * 64,
        size=7,
        reason="bad-magic",
        message="m",
        at="t",
        source="x",
        header=None,
        keep_bytes=False,
    )
    assert folder is not None and not (folder / "package.cgp").exists()
    assert (
        q.put(
            None,
            digest="e" * 64,
            size=1,
            reason="bad-magic",
            message="m",
            at="t",
            source="x",
            header=None,
            keep_bytes=False,
        )
        is None
    )
    assert len(q.entries()) == 3


def test_package_store_and_clear_staging(tmp_path: Path) -> None:
    store = PackageStore(tmp_path / "archive")
    staged = tmp_path / "s.cgp"
    staged.write_bytes(b"abc")
    path = store.put(staged, "int-a", "pub-b", package_name(1, DIGEST))
    assert list(store.files("int-a", "pub-b")) == [path]
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "x").write_bytes(b"1")
    assert clear_staging(tmp_path / "staging") == 1


def test_quarantine_keeps_the_same_bytes_once(tmp_path: Path) -> None:
    """A crash after quarantining but before the medium copy was removed brings the same file back."""
    q = Quarantine(tmp_path / "q")
    for _ in range(2):
        staged = tmp_path / "s.cgp"
        staged.write_bytes(b"same bytes")
        q.put(staged, digest="ab" * 32, size=10, reason="bad-signature", message="m", at="2026-11-26T08:00:00",
              source="p1.cgp", header={"seq": 1}, keep_bytes=True)  # fmt: skip
        assert not staged.exists()
    assert len(q.entries()) == 1
