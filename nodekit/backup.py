"""``db backup``: a consistent copy of a node's SQLite databases while the node runs, through SQLite's
online backup API, written atomically as one directory with a manifest of hashes.

A PostgreSQL database is backed up with ``pg_dump`` (docs/OPERATIONS.md, "Backup and restore"):
this command refuses it with the command to use. The node's keys are not in the backup: they are
backed up apart, once, when they are made or rotated (they are encrypted under the passphrase, which
is never stored with them).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import orjson
from sqlalchemy.engine import make_url

from nodekit.db import normalise_url
from nodekit.errors import ExitCode, NodeError
from nodekit.i18n import N_

MANIFEST = "BACKUP.json"
PAGES_PER_STEP = 1024  # pages copied per step: writers get the database between steps


class BackupError(NodeError):
    """A backup that cannot be made where or of what it was asked."""

    reason = "backup"


class BackupUsage(BackupError):
    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class BackupReport:
    path: Path
    files: dict[str, dict[str, object]]  # file name -> {"bytes", "sha256"}


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for another database."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupUsage(N_("{url}: an in-memory database has nothing to back up"), params={"url": url})
    return Path(parsed.database)


def backup(
    databases: Mapping[str, str],
    dest: Path,
    *,
    about: Mapping[str, object],
    clock: Callable[[], datetime],
    optional: frozenset[str] = frozenset(),
) -> BackupReport:
    """Copy each ``{label: SQLite URL}`` to ``dest/<label>.db`` and write ``dest/BACKUP.json``.

    A label in ``optional`` whose file does not exist yet is left out. ``dest`` must not exist; the copy is made in a sibling directory and renamed into place when
    complete and synced, so ``dest`` is either a whole backup or absent."""
    files = {label: sqlite_path(url) for label, url in databases.items()}
    # a database not made yet (the web database before the first `serve`) has nothing to keep
    files = {k: p for k, p in files.items() if not (k in optional and p is not None and not p.exists())}
    pg = [label for label, path in files.items() if path is None]
    if pg:
        raise BackupUsage(
            N_(
                "the {databases} database is PostgreSQL: back it up with pg_dump --format=custom (docs/OPERATIONS.md, 'Backup and restore')"
            ),
            params={"databases": ", ".join(pg)},
        )
    if dest.exists():
        raise BackupUsage(N_("{dest}: already exists; give a new directory for each backup"), params={"dest": dest})
    if not dest.parent.is_dir():
        raise BackupUsage(N_("{parent}: no such directory"), params={"parent": dest.parent})
    work = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700)
    try:
        out: dict[str, dict[str, object]] = {}
        for label, path in files.items():
            assert path is not None
            if not path.is_file():
                raise BackupError(
                    N_("{path}: the {label} database does not exist"), params={"path": path, "label": label}
                )
            target = work / f"{label}.db"
            _copy(path, target)
            out[target.name] = {"bytes": target.stat().st_size, "sha256": _sha256(target)}
        manifest = {
            "format": "credgap-backup/1",
            "created": clock().isoformat(timespec="seconds"),
            **about,
            "files": out,
        }
        (work / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
        for p in work.iterdir():
            _fsync(p)
        _fsync(work)
        work.rename(dest)
        _fsync(dest.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BackupReport(dest, out)


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent snapshot even while the node writes (WAL included)."""
    try:
        src = sqlite3.connect(f"file:{quote(str(source))}?mode=ro", uri=True)  # ?, # or % in a path
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst, pages=PAGES_PER_STEP)
                check = dst.execute("PRAGMA integrity_check").fetchone()
                if check is None or check[0] != "ok":
                    raise BackupError(
                        N_("{target}: the copy fails SQLite's integrity check: {check}"),
                        params={"target": target, "check": check},
                    )
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(N_("{source}: cannot back up: {problem}"), params={"source": source, "problem": exc}) from exc
    target.chmod(0o600)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
