"""The transfer medium: the only code that touches the transfer directory, every operation done relative
to an open directory descriptor.

Layout (docs/FORMAT.md §16): one folder per channel, ``<sender>_to_<recipient>``, holding package
files named ``p<seq:012>-<digest16>.cgp``. Writers publish atomically; readers ignore anything that
is not a finished package file, copy what they take into node-owned staging first, and never trust
a name: the header decides.

The medium's holder is hostile: names, modes, file types and timing are theirs. So the root is opened
once per round (following symlinks: it may be a mount point the operator reached through one), each
channel folder once relative to it with ``O_NOFOLLOW``, and each file relative to its folder's
descriptor with ``O_NOFOLLOW|O_NONBLOCK|O_NOCTTY``, never waiting for a writer. What is opened is
checked with ``fstat`` against what the scan saw before a byte is read, and again before it is removed.
An error on one entry is that entry's outcome (:class:`EntryError`, one of :data:`ENTRY_REASONS`),
never the round's.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import secrets
import stat
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from keys.strict import whole
from transfer.errors import MEDIUM_MISSING, N_, MediumError, PackageRejected, medium_fault
from transfer.files import COPY_CHUNK, TEMP_PREFIX, atomic_writer, ensure_dir, open_dir, read_chunks
from transfer.header import NODE_ID
from transfer.quarantine import Quarantine  # re-exported: it used to live here

PACKAGE_NAME = whole(r"p([0-9]{12})-([0-9a-f]{16})\.cgp")  # whole(): "x.cgp\n" is not "x.cgp"
CHANNEL_DIR = whole(r"([a-z0-9][a-z0-9-]{2,62})_to_([a-z0-9][a-z0-9-]{2,62})")

# What can be wrong with one entry of the medium (docs/FORMAT.md §16): the closed set of reason codes
# an entry is reported with, once, instead of failing the round.
ENTRY_REASONS = {
    "not-a-channel": "not a channel folder",
    "not-a-package-name": "not a package file name",
    "not-regular": "not a regular file (a symlink, FIFO, socket, device or folder)",
    "unreadable": "permission denied",
    "io-error": "input/output error",
    "vanished": "gone between the scan and its use",
    "changed": "replaced between the scan and its use",
}
# A file whose size or time moved while it was read: a writer may still be busy; tried again later.
INCOMPLETE = "incomplete"

REMOVED, READ_ONLY = "removed", "read-only"

# A package is ciphertext, which no filesystem compresses: every one allocates about its size. A file
# whose allocated blocks are far below its size is sparse — a few bytes of a device that read back as
# gigabytes of zeros — and is junk, judged by its size alone and never copied. Below 1 MiB a copy
# costs nothing, and a small file may live inside the filesystem's metadata with no block at all.
SPARSE_MIN_SIZE = 1 << 20
SPARSE_RATIO = 4  # allocated bytes x 4 below the size: sparse

_NOFOLLOW_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC


class _Fs:
    """The filesystem calls through which every medium file is read: the one seam at the medium's
    boundary. A real EIO needs a failing device (a device mapper), so tests replace ``read`` here to
    make a chosen file's read raise ``OSError(EIO)`` (tests/integration/test_medium_hostile.py)."""

    read: Callable[[int, int], bytes] = staticmethod(os.read)


FS = _Fs()


def channel_dirname(sender: str, recipient: str) -> str:
    """The channel folder name ``<sender>_to_<recipient>``; raises MediumError for a bad node id."""
    for n in (sender, recipient):
        if not NODE_ID.match(n):
            raise MediumError(N_("{n!r} is not a node id"), params={"n": n})
    return f"{sender}_to_{recipient}"


def package_name(seq: int, digest: str) -> str:
    """The file name of package ``seq`` with package digest ``digest`` (hex)."""
    return f"p{seq:012d}-{digest[:16]}.cgp"


@dataclass(frozen=True)
class Stamp:
    """What identifies a medium file from its scan to its removal: its inode, size and times."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Stamp:
        """The stamp of a ``stat`` result."""
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def same_file(self, other: Stamp) -> bool:
        """The same inode (a rename or a swap makes another one)."""
        return (self.dev, self.ino) == (other.dev, other.ino)

    def same_content(self, other: Stamp) -> bool:
        """The same inode, neither written nor truncated since."""
        return self.same_file(other) and (self.size, self.mtime_ns) == (other.size, other.mtime_ns)

    @property
    def mtime(self) -> float:
        return self.mtime_ns / 1e9


@dataclass(frozen=True)
class ChannelFolder:
    """A channel folder of the medium, open for one round."""

    name: str
    sender: str
    recipient: str
    fd: int
    path: Path  # for messages only: every operation goes through ``fd``


@dataclass(frozen=True)
class MediumFile:
    """A finished package file found on the medium (its name is a hint, not a fact)."""

    folder: ChannelFolder
    name: str
    seq_hint: int
    stamp: Stamp  # what the scan saw

    @property
    def path(self) -> Path:
        return self.folder.path / self.name

    @property
    def sender(self) -> str:
        return self.folder.sender

    @property
    def recipient(self) -> str:
        return self.folder.recipient

    @property
    def size(self) -> int:
        return self.stamp.size


@dataclass(frozen=True)
class Unexpected:
    """An entry of the medium that is not a package file, or that could not be used: reported, never read."""

    path: Path
    reason: str  # one of ENTRY_REASONS
    detail: str = ""

    @property
    def what(self) -> str:
        return f"{ENTRY_REASONS[self.reason]}: {self.detail}" if self.detail else ENTRY_REASONS[self.reason]


class EntryError(MediumError):
    """One entry of the medium could not be used; ``reason`` is one of :data:`ENTRY_REASONS` or
    :data:`INCOMPLETE`. The entry's outcome, never the round's."""

    def __init__(self, path: Path, reason: str, detail: str = "") -> None:
        super().__init__(
            f"{path.name}: {ENTRY_REASONS.get(reason, 'its size or time changed while it was read')}", reason=reason
        )
        self.path, self.detail = path, detail

    def unexpected(self) -> Unexpected:
        return Unexpected(self.path, self.reason, self.detail)


@dataclass(frozen=True)
class StagedFile:
    """A package copied into node-owned staging: later steps read only ``path``."""

    path: Path
    size: int
    digest: str
    source: Path  # where it came from, for messages
    entry: MediumFile | None = None  # the medium file it was copied from (None: from a node folder)
    stamp: Stamp | None = None  # the medium file as it was when the copy was finished


class MediumScan:
    """One look at the medium: package files addressed to the reader, in order, and what is unexpected.
    Its folder descriptors stay open until it is closed (use it as a context manager): staging and
    removal go through them, so a folder swapped after the scan is not the one they act in."""

    def __init__(self, root: Path, root_fd: int) -> None:
        self.root = root
        self.files: list[MediumFile] = []
        self.odd: list[Unexpected] = []
        self._fds = [root_fd]

    def close(self) -> None:
        while self._fds:
            os.close(self._fds.pop())

    def __enter__(self) -> MediumScan:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _channel(self, root_fd: int, name: str, sender: str, recipient: str) -> ChannelFolder | None:
        path = self.root / name
        try:
            seen = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
            if not stat.S_ISDIR(seen.st_mode):
                self.odd.append(Unexpected(path, "not-a-channel"))
                return None
            fd = os.open(name, _NOFOLLOW_DIR, dir_fd=root_fd)
        except OSError as exc:
            self.odd.append(_unexpected(path, exc, swapped="changed"))
            return None
        self._fds.append(fd)
        if not Stamp.of(os.fstat(fd)).same_file(Stamp.of(seen)):
            self.odd.append(Unexpected(path, "changed"))
            return None
        return ChannelFolder(name, sender, recipient, fd, path)

    def _package_files(self, folder: ChannelFolder) -> None:
        try:
            names = _names(folder.fd)
        except OSError as exc:
            self.odd.append(_unexpected(folder.path, exc))
            return
        for name in names:
            if name.startswith("."):
                continue  # temporary or hidden: ignored by rule
            pm = PACKAGE_NAME.fullmatch(name)
            if pm is None:
                self.odd.append(Unexpected(folder.path / name, "not-a-package-name"))
                continue
            try:
                st = os.stat(name, dir_fd=folder.fd, follow_symlinks=False)
            except OSError as exc:
                self.odd.append(_unexpected(folder.path / name, exc))
                continue
            if not stat.S_ISREG(st.st_mode):
                self.odd.append(Unexpected(folder.path / name, "not-regular"))
                continue
            self.files.append(MediumFile(folder, name, int(pm.group(1)), Stamp.of(st)))


class Medium:
    """A transfer directory (a mounted removable device or a folder fed by the exchange device)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def check(self) -> None:
        """Raise MediumError (``medium-missing``) unless the medium is there."""
        if not self.root.is_dir():
            raise MediumError(
                N_("{root}: transfer medium not found (is the device mounted?)"),
                params={"root": self.root},
                reason=MEDIUM_MISSING,
            )

    def channel_path(self, sender: str, recipient: str) -> Path:
        return self.root / channel_dirname(sender, recipient)

    def _open_root(self) -> int:
        self.check()
        try:
            return open_dir(self.root)
        except OSError as exc:
            raise medium_fault(exc, self.root, writing=False) from exc

    def scan(self, recipient: str | None = None) -> MediumScan:
        """Look at the medium: finished package files (optionally only those addressed to ``recipient``),
        in order, and everything unexpected or unusable. Temporary (hidden) names are skipped silently: a
        writer is busy. Raises MediumError only when the medium itself cannot be read."""
        root_fd = self._open_root()
        scan = MediumScan(self.root, root_fd)
        try:
            try:
                names = _names(root_fd)
            except OSError as exc:
                raise medium_fault(exc, self.root, writing=False) from exc
            for name in names:
                if name.startswith("."):
                    continue
                m = CHANNEL_DIR.fullmatch(name)
                if m is None:
                    scan.odd.append(Unexpected(self.root / name, "not-a-channel"))
                    continue
                if recipient is not None and m.group(2) != recipient:
                    continue
                folder = scan._channel(root_fd, name, m.group(1), m.group(2))
                if folder is not None:
                    scan._package_files(folder)
        except BaseException:
            scan.close()
            raise
        scan.files.sort(key=lambda f: (f.sender, f.recipient, f.seq_hint, f.name))
        return scan

    def stage(self, f: MediumFile, staging: Path, *, max_size: int) -> StagedFile:
        """Copy a medium file into node-owned staging, bounded by ``max_size``; later steps read only the
        copy, whose digest is of the bytes written to it (a hostile device may answer each read anew).

        Raises :class:`EntryError` when the entry cannot be used (that entry's outcome), and
        PackageRejected ``oversized`` or ``sparse`` (junk, judged before a byte is copied)."""
        fd = _open_checked(f)
        try:
            st = os.fstat(fd)
            if st.st_size > max_size:
                raise PackageRejected(
                    f"{f.name}: {st.st_size} bytes exceeds the limit of {max_size}", reason="oversized"
                )
            if is_sparse(st):
                raise PackageRejected(
                    f"{f.name}: {st.st_size} bytes of which {st.st_blocks * 512} are allocated: a sparse file",
                    reason="sparse",
                )
            ensure_dir(staging)
            # one staged file per medium entry: two copies of one package are two candidates, not one path
            target = staging / f"{f.folder.name}-{f.name}"
            size, digest = _copy(fd, f, target, max_size)
            after = Stamp.of(os.fstat(fd))
            if not after.same_content(Stamp.of(st)):
                target.unlink(missing_ok=True)
                raise EntryError(f.path, INCOMPLETE)
            return StagedFile(target, size, digest, f.path, entry=f, stamp=after)
        finally:
            os.close(fd)

    def remove(self, f: MediumFile, stamp: Stamp | None = None) -> str:
        """Remove a dealt-with file from the medium (residual information), through its channel folder's
        descriptor, and only while it is still the file of ``stamp`` (by default as the scan saw it).

        Returns :data:`REMOVED` (or it was gone already), :data:`READ_ONLY` (the medium refuses: the
        copy stays), or the :data:`ENTRY_REASONS` code of what is wrong with the entry."""
        expected = stamp or f.stamp
        try:
            now = Stamp.of(os.stat(f.name, dir_fd=f.folder.fd, follow_symlinks=False))
        except FileNotFoundError:
            return REMOVED
        except OSError as exc:
            return _entry_reason(exc)
        if not now.same_content(expected):
            return "changed"  # not the bytes that were dealt with: a later round looks at it afresh
        try:
            os.unlink(f.name, dir_fd=f.folder.fd)
        except FileNotFoundError:
            return REMOVED
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return READ_ONLY
            return _entry_reason(exc)
        with suppress(OSError):  # the removal happened; a folder that cannot be synced is the device's
            os.fsync(f.folder.fd)
        return REMOVED

    def publish(self, source: Path, sender: str, recipient: str, name: str) -> Path:
        """Copy a sealed package from the node's archive onto the medium atomically (temporary name,
        fsync, rename, folder fsync). Idempotent: an identical file already there is left as is."""
        folder_name = channel_dirname(sender, recipient)
        target = self.root / folder_name / name
        root_fd = self._open_root()
        try:
            try:
                os.mkdir(folder_name, 0o755, dir_fd=root_fd)
                os.fsync(root_fd)
            except FileExistsError:
                pass
            folder = os.open(folder_name, _NOFOLLOW_DIR, dir_fd=root_fd)
        except OSError as exc:
            raise medium_fault(exc, target.parent, writing=True) from exc
        finally:
            os.close(root_fd)
        try:
            if _holds_copy(folder, name, source):
                return target
            tmp = f"{TEMP_PREFIX}{secrets.token_hex(8)}-{name}"
            try:
                fd = os.open(tmp, _CREATE, 0o644, dir_fd=folder)
                try:
                    for chunk in read_chunks(source):
                        _write_all(fd, chunk)
                    os.fchmod(fd, 0o644)  # whatever the umask: the reader may run as another user
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
                os.fsync(folder)
            except OSError as exc:
                with suppress(OSError):
                    os.unlink(tmp, dir_fd=folder)
                raise medium_fault(exc, target, writing=True) from exc
        finally:
            os.close(folder)
        return target

    def cleanup_temp(self, sender: str, recipient: str, *, older_than: float, now: float) -> int:
        """Remove what a killed writer left in its own channel folder ``<sender>_to_<recipient>``:
        temporary files last modified more than ``older_than`` seconds before ``now`` (the files' clock).
        Best effort: returns how many went; a missing medium or folder removes nothing."""
        try:
            root_fd = self._open_root()
        except MediumError:
            return 0
        try:
            folder = os.open(channel_dirname(sender, recipient), _NOFOLLOW_DIR, dir_fd=root_fd)
        except OSError:
            return 0
        finally:
            os.close(root_fd)
        removed = 0
        try:
            for name in _names(folder):
                if not name.startswith(TEMP_PREFIX):
                    continue
                with suppress(OSError):  # gone or refused: the next send tries again
                    st = os.stat(name, dir_fd=folder, follow_symlinks=False)
                    if stat.S_ISREG(st.st_mode) and now - st.st_mtime > older_than:
                        os.unlink(name, dir_fd=folder)
                        removed += 1
            if removed:
                with suppress(OSError):
                    os.fsync(folder)
        except OSError:
            pass  # a folder that cannot be listed holds nothing this writer can clean
        finally:
            os.close(folder)
        return removed


def is_sparse(st: os.stat_result) -> bool:
    """Whether a file's allocated blocks are far below its size (see :data:`SPARSE_RATIO`)."""
    return st.st_size >= SPARSE_MIN_SIZE and st.st_blocks * 512 * SPARSE_RATIO < st.st_size


def _names(fd: int) -> list[str]:
    with os.scandir(fd) as it:
        return sorted(e.name for e in it)


def _entry_reason(exc: OSError) -> str:
    return _ERRNO_REASONS.get(exc.errno or 0, "io-error")


_ERRNO_REASONS = {
    errno.ENOENT: "vanished",
    errno.EACCES: "unreadable",
    errno.EPERM: "unreadable",
    errno.ELOOP: "not-regular",  # a symlink met by O_NOFOLLOW
    errno.ENXIO: "not-regular",  # a socket, or a device without its driver
    errno.ENOTDIR: "not-regular",
}


def _unexpected(path: Path, exc: OSError, *, swapped: str | None = None) -> Unexpected:
    reason = _entry_reason(exc)
    if swapped and reason == "not-regular":
        reason = swapped  # it was a folder when the scan looked
    return Unexpected(path, reason, exc.strerror or "")


def _open_checked(f: MediumFile) -> int:
    """Open a medium file for reading without ever blocking (a FIFO has no writer to wait for), refuse
    anything not regular or not the inode the scan saw, and only then make reads blocking again."""
    try:
        fd = os.open(f.name, _READ, dir_fd=f.folder.fd)
    except OSError as exc:
        raise EntryError(f.path, _entry_reason(exc), exc.strerror or "") from exc
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode):
            raise EntryError(f.path, "not-regular")
        if not Stamp.of(now).same_file(f.stamp):
            raise EntryError(f.path, "changed")
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _copy(fd: int, f: MediumFile, target: Path, max_size: int) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with atomic_writer(target) as out:
        while True:
            try:
                chunk = FS.read(fd, COPY_CHUNK)
            except OSError as exc:
                raise EntryError(f.path, _entry_reason(exc), exc.strerror or "") from exc
            if not chunk:
                break
            size += len(chunk)
            if size > max_size:
                raise PackageRejected(
                    f"{f.name}: grew beyond the limit of {max_size} bytes while read", reason="oversized"
                )
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def _holds_copy(folder: int, name: str, source: Path) -> bool:
    """Whether the channel folder already holds exactly ``source``'s bytes under ``name``."""
    try:
        st = os.stat(name, dir_fd=folder, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode) or st.st_size != source.stat().st_size:
            return False
        fd = os.open(name, _READ, dir_fd=folder)
    except OSError:
        return False
    try:
        if not Stamp.of(os.fstat(fd)).same_file(Stamp.of(st)):
            return False
        theirs = hashlib.sha256()
        while chunk := FS.read(fd, COPY_CHUNK):
            theirs.update(chunk)
    except OSError:
        return False
    finally:
        os.close(fd)
    ours = hashlib.sha256()
    for chunk in read_chunks(source):
        ours.update(chunk)
    return theirs.digest() == ours.digest()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


__all__ = [
    "ENTRY_REASONS",
    "FS",
    "READ_ONLY",
    "REMOVED",
    "TEMP_PREFIX",
    "EntryError",
    "Medium",
    "MediumFile",
    "MediumScan",
    "Quarantine",
    "StagedFile",
    "Stamp",
    "Unexpected",
    "channel_dirname",
    "package_name",
]
