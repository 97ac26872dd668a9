"""Durable, atomic file operations: temp file + fsync + rename + directory fsync, and safe copies.

Every write of the exchange that must survive a crash goes through here.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from transfer.errors import MediumError, PackageRejected

COPY_CHUNK = 1 << 20
TEMP_PREFIX = ".tmp-"


class _Fs:
    """The seam at the medium's filesystem boundary: a real EIO needs a failing device, so tests replace
    ``read`` here to make a chosen file's read raise ``OSError(EIO)``."""

    read = staticmethod(os.read)


FS = _Fs()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path, mode: int = 0o700) -> Path:
    if not path.is_dir():
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        fsync_dir(path.parent)
    return path


@contextmanager
def atomic_writer(target: Path, mode: int = 0o600) -> Iterator[BinaryIO]:
    """Write ``target`` atomically: readers see either no file or the whole, fsynced file."""
    tmp = target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(8)}-{target.name}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(target)
        fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: Path, data: bytes, mode: int = 0o600) -> None:
    with atomic_writer(target, mode) as fh:
        fh.write(data)


def durable_move(src: Path, dst: Path) -> None:
    """Rename within one filesystem and make both directories durable."""
    src.replace(dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)


def copy_bounded(src: Path, dst: Path, *, max_size: int) -> tuple[int, str]:
    """Copy a regular file (never through a symlink) into ``dst`` atomically, refusing it if it is, or
    grows while being read beyond, ``max_size`` bytes. Returns (size, SHA-256 hex of the bytes copied).

    A hostile device can return different bytes on each read: the digest is of the bytes written to
    ``dst``, which are what every later step reads.
    """
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise MediumError(f"{src}: cannot open: {exc.strerror}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PackageRejected(f"{src.name}: not a regular file", reason="bad-magic")
        if st.st_size > max_size:
            raise PackageRejected(f"{src.name}: {st.st_size} bytes exceeds the limit of {max_size}", reason="oversized")
        digest = hashlib.sha256()
        size = 0
        with atomic_writer(dst) as fout:
            while chunk := FS.read(fd, COPY_CHUNK):
                size += len(chunk)
                if size > max_size:
                    raise PackageRejected(
                        f"{src.name}: grew beyond the limit of {max_size} bytes while read", reason="oversized"
                    )
                digest.update(chunk)
                fout.write(chunk)
        return size, digest.hexdigest()
    finally:
        os.close(fd)


def file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(COPY_CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def read_chunks(path: Path, chunk: int = COPY_CHUNK) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while data := fh.read(chunk):
            yield data


def dir_size(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            st = p.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode):
            total += st.st_size
    return total


def remove_temp_files(directory: Path) -> int:
    """Residual cleanup: delete temporary files a crashed writer left behind in ``directory``."""
    removed = 0
    if directory.is_dir():
        for p in directory.iterdir():
            if p.name.startswith(TEMP_PREFIX) and not p.is_symlink() and p.is_file():
                p.unlink(missing_ok=True)
                removed += 1
    return removed
