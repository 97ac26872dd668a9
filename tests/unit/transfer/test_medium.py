"""The medium module on a real directory: atomic publishing, what scanning ignores, bounded staging,
removal only of the file that was staged (the quarantine: test_quarantine.py)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from transfer.errors import MediumError, PackageRejected
from transfer.medium import FS, INCOMPLETE, READ_ONLY, REMOVED, EntryError, Medium, package_name
from transfer.stores import PackageStore, clear_staging

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
    os.mkfifo(ch / "p000000000006-abababababababab.cgp")
    (root / "random-folder").mkdir()
    (root / "int-a_to_pub-x").symlink_to(ch)
    (root / "int-a_to_pub-c").mkdir()
    (root / "int-a_to_pub-c" / package_name(1, DIGEST)).write_bytes(b"z")
    with Medium(root).scan(recipient="pub-b") as scan:
        assert [f.seq_hint for f in scan.files] == [1, 2]
        assert {(u.path.name, u.reason) for u in scan.odd} == {
            ("notes.txt", "not-a-package-name"),
            ("p000000000004-abababababababab.cgp", "not-regular"),
            ("p000000000005-abababababababab.cgp", "not-regular"),
            ("p000000000006-abababababababab.cgp", "not-regular"),
            ("random-folder", "not-a-channel"),
        }
    with Medium(root).scan() as scan:
        assert len(scan.files) == 3
        assert ("int-a_to_pub-x", "not-a-channel") in {(u.path.name, u.reason) for u in scan.odd}


def test_stage_copies_bounded_and_never_follows_links(tmp_path: Path) -> None:
    root = tmp_path / "m"
    ch = root / "int-a_to_pub-b"
    ch.mkdir(parents=True)
    data = os.urandom(5000)
    (ch / package_name(1, DIGEST)).write_bytes(data)
    med = Medium(root)
    with med.scan() as scan:
        [f] = scan.files
        staged = med.stage(f, tmp_path / "staging", max_size=10_000)
        assert staged.path.read_bytes() == data and staged.size == 5000
        assert staged.path.parent == tmp_path / "staging"
        assert staged.stamp is not None and staged.stamp.same_content(f.stamp)
        with pytest.raises(PackageRejected) as err:
            med.stage(f, tmp_path / "staging", max_size=4999)
        assert err.value.reason == "oversized"
    assert not [p for p in (tmp_path / "staging").iterdir() if p.name.startswith(".tmp")]


def test_stage_refuses_a_file_replaced_after_the_scan(tmp_path: Path) -> None:
    root = tmp_path / "m"
    ch = root / "int-a_to_pub-b"
    ch.mkdir(parents=True)
    target = ch / package_name(1, DIGEST)
    target.write_bytes(b"scanned")
    med = Medium(root)
    with med.scan() as scan:
        [f] = scan.files
        other = ch / "other"
        other.write_bytes(b"swapped in")
        other.replace(target)
        with pytest.raises(EntryError) as err:
            med.stage(f, tmp_path / "staging", max_size=100)
        assert err.value.reason == "changed"
        assert med.remove(f) == "changed" and target.exists(), "nor removes it"


def test_remove_reports_a_read_only_medium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # tests/integration/test_medium_limits.py mounts a real read-only medium; here the OS error is simulated
    root = tmp_path / "m"
    ch = root / "int-a_to_pub-b"
    ch.mkdir(parents=True)
    p = ch / package_name(1, DIGEST)
    p.write_bytes(b"x")
    med = Medium(root)
    real_unlink = os.unlink

    def ro(*_: object, **__: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    with med.scan() as scan:
        [f] = scan.files
        monkeypatch.setattr(os, "unlink", ro)
        assert med.remove(f) == READ_ONLY
        monkeypatch.setattr(os, "unlink", real_unlink)
        assert med.remove(f) == REMOVED and not p.exists()
        assert med.remove(f) == REMOVED, "already gone"


def test_package_store_and_clear_staging(tmp_path: Path) -> None:
    store = PackageStore(tmp_path / "archive")
    staged = tmp_path / "s.cgp"
    staged.write_bytes(b"abc")
    path = store.put(staged, "int-a", "pub-b", package_name(1, DIGEST))
    assert list(store.files("int-a", "pub-b")) == [path]
    (tmp_path / "staging").mkdir()
    (tmp_path / "staging" / "x").write_bytes(b"1")
    assert clear_staging(tmp_path / "staging") == 1


def test_a_file_written_while_it_is_copied_is_left_for_later(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A device writing under the final name: the copy is dropped (``incomplete``), not reported."""
    root = tmp_path / "m"
    ch = root / "int-a_to_pub-b"
    ch.mkdir(parents=True)
    target = ch / package_name(1, DIGEST)
    target.write_bytes(b"first half")
    med = Medium(root)
    real_read = FS.read
    written: list[bool] = []

    def read_while_written(fd: int, n: int) -> bytes:
        if not written:
            with target.open("ab") as fh:
                fh.write(b", second half")
            written.append(True)
        return real_read(fd, n)

    monkeypatch.setattr(FS, "read", read_while_written)
    with med.scan() as scan:
        [f] = scan.files
        with pytest.raises(EntryError) as err:
            med.stage(f, tmp_path / "staging", max_size=1000)
    assert err.value.reason == INCOMPLETE
    assert list((tmp_path / "staging").iterdir()) == []
