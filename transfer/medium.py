"""The transfer medium and the node-owned package folders: the only code that touches the transfer directory.

Layout (docs/FORMAT.md §16): one folder per channel, ``<sender>_to_<recipient>``, holding package
files named ``p<seq:012>-<digest16>.cgp``. Writers publish atomically; readers ignore anything that
is not a finished package file, copy what they take into node-owned staging first, and never trust
a name: the header decides.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from transfer.errors import MediumError
from transfer.files import (
    TEMP_PREFIX,
    atomic_write_bytes,
    copy_bounded,
    dir_size,
    durable_move,
    ensure_dir,
    fsync_dir,
    remove_temp_files,
)
from transfer.header import NODE_ID

PACKAGE_NAME = re.compile(r"^p(\d{12})-([0-9a-f]{16})\.cgp$")
CHANNEL_DIR = re.compile(r"^([a-z0-9][a-z0-9-]{2,62})_to_([a-z0-9][a-z0-9-]{2,62})$")


def channel_dirname(sender: str, recipient: str) -> str:
    for n in (sender, recipient):
        if not NODE_ID.match(n):
            raise MediumError(f"{n!r} is not a node id")
    return f"{sender}_to_{recipient}"


def package_name(seq: int, digest: str) -> str:
    return f"p{seq:012d}-{digest[:16]}.cgp"


@dataclass(frozen=True)
class MediumFile:
    """A finished package file found on the medium (its name is a hint, not a fact)."""

    path: Path
    sender: str
    recipient: str
    seq_hint: int
    size: int


@dataclass(frozen=True)
class Unexpected:
    """Something on the medium that is not a package file: reported, never read."""

    path: Path
    what: str


@dataclass(frozen=True)
class StagedFile:
    path: Path
    size: int
    digest: str
    source: Path


class Medium:
    """A transfer directory (a mounted removable device or a folder fed by the exchange device)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def check(self) -> None:
        if not self.root.is_dir():
            raise MediumError(f"{self.root}: transfer medium not found (is the device mounted?)")

    def channel_path(self, sender: str, recipient: str) -> Path:
        return self.root / channel_dirname(sender, recipient)

    def publish(self, source: Path, sender: str, recipient: str, name: str) -> Path:
        """Copy a sealed package onto the medium atomically (temp name, fsync, rename, directory fsync).

        Idempotent: an identical file already there is left as is.
        """
        self.check()
        folder = ensure_dir(self.channel_path(sender, recipient), 0o755)
        target = folder / name
        if target.is_file() and not target.is_symlink() and target.stat().st_size == source.stat().st_size:
            from transfer.files import file_digest

            if file_digest(target) == file_digest(source):
                return target
        try:
            copy_bounded(source, target, max_size=source.stat().st_size)
            target.chmod(0o644)
        except OSError as exc:
            raise MediumError(f"{target}: cannot write to the medium: {exc.strerror}") from exc
        return target

    def scan(self, recipient: str | None = None) -> tuple[list[MediumFile], list[Unexpected]]:
        """List finished package files (optionally only those addressed to ``recipient``), in name order,
        and everything unexpected. Temporary (hidden) names are skipped silently: a writer is busy."""
        self.check()
        found: list[MediumFile] = []
        odd: list[Unexpected] = []
        for entry in _sorted_entries(self.root):
            if entry.name.startswith("."):
                continue
            m = CHANNEL_DIR.match(entry.name)
            if not m or entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
                odd.append(Unexpected(Path(entry.path), "not a channel folder"))
                continue
            sender, rcpt = m.group(1), m.group(2)
            if recipient is not None and rcpt != recipient:
                continue
            for f in _sorted_entries(Path(entry.path)):
                if f.name.startswith("."):
                    continue  # temporary or hidden: ignored by rule
                pm = PACKAGE_NAME.match(f.name)
                if pm is None:
                    odd.append(Unexpected(Path(f.path), "not a package file name"))
                    continue
                try:
                    st = os.lstat(f.path)
                except FileNotFoundError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    odd.append(Unexpected(Path(f.path), "not a regular file (symlink, device or folder)"))
                    continue
                found.append(MediumFile(Path(f.path), sender, rcpt, int(pm.group(1)), st.st_size))
        found.sort(key=lambda f: (f.sender, f.recipient, f.seq_hint, f.path.name))
        return found, odd

    def stage(self, f: MediumFile, staging: Path, *, max_size: int) -> StagedFile:
        """Copy a medium file into node-owned staging, bounded by ``max_size``; later steps read only the copy."""
        ensure_dir(staging)
        tmp_target = staging / f"{f.sender}_to_{f.recipient}-{f.path.name}"
        size, digest = copy_bounded(f.path, tmp_target, max_size=max_size)
        final = staging / f"{digest}.cgp"
        durable_move(tmp_target, final)
        return StagedFile(final, size, digest, f.path)

    def remove(self, path: Path) -> bool:
        """Remove a package from the medium after import (residual information). False if the medium is
        read-only, in which case the copy stays and later scans report it as a duplicate."""
        try:
            path.unlink()
            fsync_dir(path.parent)
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return False
            raise MediumError(f"{path}: cannot remove from the medium: {exc.strerror}") from exc
        return True

    def cleanup_temp(self) -> int:
        """Remove temporary files a crashed writer of *this* node left in the channel folders."""
        removed = 0
        if self.root.is_dir():
            for entry in _sorted_entries(self.root):
                if CHANNEL_DIR.match(entry.name) and entry.is_dir(follow_symlinks=False):
                    removed += remove_temp_files(Path(entry.path))
        return removed


def _sorted_entries(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


class PackageStore:
    """A node-owned folder of packages by channel (archive or pending)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sender: str, recipient: str, name: str) -> Path:
        return self.root / channel_dirname(sender, recipient) / name

    def put(self, staged: Path, sender: str, recipient: str, name: str) -> Path:
        target = self.path(sender, recipient, name)
        ensure_dir(target.parent)
        durable_move(staged, target)
        return target

    def new_file(self, sender: str, recipient: str, name: str) -> Path:
        target = self.path(sender, recipient, name)
        ensure_dir(target.parent)
        remove_temp_files(target.parent)
        return target

    def files(self, sender: str, recipient: str) -> Iterator[Path]:
        folder = self.root / channel_dirname(sender, recipient)
        if folder.is_dir():
            for e in _sorted_entries(folder):
                if PACKAGE_NAME.match(e.name) and e.is_file(follow_symlinks=False):
                    yield Path(e.path)


class Quarantine:
    """Rejected packages with a reason file each; bytes are kept only within a disk quota, and junk
    (no parsable header) is recorded by size and digest only."""

    def __init__(self, root: Path, *, quota: int = 1 << 30, max_entries: int = 10_000) -> None:
        self.root = root
        self.quota = quota
        self.max_entries = max_entries

    def put(
        self,
        staged: Path | None,
        *,
        digest: str,
        size: int,
        reason: str,
        message: str,
        at: str,
        source: str,
        header: dict[str, Any] | None,
        keep_bytes: bool,
        evidence: dict[str, Any] | None = None,
    ) -> Path | None:
        """Record a rejection; returns the quarantine folder, or None if the entry cap is reached."""
        ensure_dir(self.root)
        names = [e.name for e in _sorted_entries(self.root)]
        if staged is not None and digest != "0" * 64 and any(f"-{digest[:16]}-" in n for n in names):
            # the same bytes again (e.g. a crash after quarantining, before the medium copy went): once is enough
            staged.unlink(missing_ok=True)
            return next(self.root / n for n in names if f"-{digest[:16]}-" in n)
        if len(names) >= self.max_entries:
            if staged is not None:
                staged.unlink(missing_ok=True)
            return None
        folder = self.root / f"{at.replace(':', '').replace('-', '')}-{digest[:16]}-{reason}"
        n = 1
        while folder.exists():
            n += 1
            folder = folder.with_name(f"{folder.name.split('~')[0]}~{n}")
        folder.mkdir(mode=0o700)
        kept = False
        if staged is not None:
            if keep_bytes and dir_size(self.root) + size <= self.quota:
                durable_move(staged, folder / "package.cgp")
                kept = True
            else:
                staged.unlink(missing_ok=True)
        doc = {
            "reason": reason,
            "message": message,
            "at": at,
            "source": source,
            "digest": digest,
            "size": size,
            "bytes_kept": kept,
            "header": header,
            "header_verified": False if header is not None and reason in _UNVERIFIED else header is not None,
        }
        if evidence:
            doc["evidence"] = evidence
        atomic_write_bytes(folder / "reason.json", orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        fsync_dir(self.root)
        return folder

    def entries(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.root.is_dir():
            for e in _sorted_entries(self.root):
                rf = Path(e.path) / "reason.json"
                if rf.is_file():
                    try:
                        out.append({"folder": e.name, **orjson.loads(rf.read_bytes())})
                    except orjson.JSONDecodeError:
                        out.append({"folder": e.name, "reason": "unreadable"})
        return out


# reasons raised before (or by) the signature check: the header content was not authenticated
_UNVERIFIED = frozenset(
    {"bad-magic", "bad-header", "unknown-version", "unknown-signer", "revoked-signer", "wrong-role", "bad-signature",
     "truncated", "oversized"}
)  # fmt: skip


def clear_staging(staging: Path) -> int:
    """Residual cleanup at start-up: staged copies are re-made from the medium or archive when needed."""
    removed = 0
    if staging.is_dir():
        for p in staging.iterdir():
            if p.is_file() and not p.is_symlink():
                p.unlink(missing_ok=True)
                removed += 1
            elif p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
                removed += 1
    return removed


__all__ = [
    "TEMP_PREFIX",
    "Medium",
    "MediumFile",
    "PackageStore",
    "Quarantine",
    "StagedFile",
    "Unexpected",
    "channel_dirname",
    "clear_staging",
    "package_name",
]
