"""Durable, atomic file operations on the node's own folders: temporary file, fsync, rename, directory
fsync; every file opened relative to its folder's descriptor, never through a symlink.

Every write of the exchange that must survive a crash goes through here. The transfer medium, whose
holder is hostile, has stricter rules of its own in :mod:`transfer.medium`.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

COPY_CHUNK = 1 << 20
TEMP_PREFIX = ".tmp-"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def open_dir(path: Path) -> int:
    """A descriptor of the folder ``path``, symlinks followed: a node's own folder, or the medium root
    the operator configured (which may be a mount point reached through a symlink)."""
    # the one open by path name: every file below a folder is opened relative to its descriptor
    return os.open(path, DIR_FLAGS, dir_fd=None)


@contextmanager
def folder_fd(path: Path) -> Iterator[int]:
    """:func:`open_dir` for the duration of a ``with`` block."""
    fd = open_dir(path)
    try:
        yield fd
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the entries of folder ``path`` (a rename, a new or removed file) durable."""
    with folder_fd(path) as fd:
        os.fsync(fd)


def ensure_dir(path: Path, mode: int = 0o700) -> Path:
    """Create the folder ``path`` (and its parents) if it is missing, durably."""
    if not path.is_dir():
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        fsync_dir(path.parent)
    return path


@contextmanager
def atomic_writer(target: Path, mode: int = 0o600) -> Iterator[BinaryIO]:
    """Write ``target`` atomically: readers see either no file or the whole, fsynced file."""
    tmp = f"{TEMP_PREFIX}{secrets.token_hex(8)}-{target.name}"
    with folder_fd(target.parent) as folder:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=folder)
            with io.BufferedWriter(io.FileIO(fd, "wb"), COPY_CHUNK) as fh:
                yield fh
                fh.flush()
                os.fsync(fd)
            os.replace(tmp, target.name, src_dir_fd=folder, dst_dir_fd=folder)
            os.fsync(folder)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=folder)
            raise


def atomic_write_bytes(target: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(target, mode) as fh:
        fh.write(data)


def durable_move(src: Path, dst: Path) -> None:
    """Rename within one filesystem and make both directories durable."""
    src.replace(dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)


@contextmanager
def open_node_file(path: Path) -> Iterator[int]:
    """A read descriptor of a node-owned file, opened relative to its folder and never through a symlink."""
    with folder_fd(path.parent) as folder:
        fd = os.open(path.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
    try:
        yield fd
    finally:
        os.close(fd)


def read_chunks(path: Path, chunk: int = COPY_CHUNK) -> Iterator[bytes]:
    """The bytes of a node-owned file, in pieces of at most ``chunk``."""
    with open_node_file(path) as fd:
        while data := os.read(fd, chunk):
            yield data


def file_digest(path: Path) -> tuple[int, str]:
    """(size, SHA-256 hex) of a node-owned file."""
    digest = hashlib.sha256()
    size = 0
    for chunk in read_chunks(path):
        size += len(chunk)
        digest.update(chunk)
    return size, digest.hexdigest()


def remove_temp_files(directory: Path) -> int:
    """Residual cleanup: delete temporary files a crashed writer left behind in the node-owned ``directory``."""
    removed = 0
    if directory.is_dir():
        for p in directory.iterdir():
            if p.name.startswith(TEMP_PREFIX) and not p.is_symlink() and p.is_file():
                p.unlink(missing_ok=True)
                removed += 1
    return removed
