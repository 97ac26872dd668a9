"""The medium files a node dealt with but could not remove (a read-only medium, a write-protected
device): remembered by inode, size and times, so that later rounds skip them instead of copying,
verifying, logging and receipting them again.

The memo is a small file in the node home, rewritten atomically, holding at most :data:`LIMIT`
files (the oldest are forgotten first: at worst one is dealt with once more). A medium holder who
makes a new file look like a remembered one (same device, inode, size and times) only withholds it,
which they can do anyway.
"""

from __future__ import annotations

import logging
from pathlib import Path

import orjson

from transfer.files import atomic_write_bytes
from transfer.medium import Stamp

LIMIT = 4096
log = logging.getLogger("credgap.medium")


class MediumMemo:
    """Stamps of medium files that were dealt with and stay on the medium, with their digests."""

    def __init__(self, path: Path, *, limit: int = LIMIT) -> None:
        self.path = path
        self.limit = limit
        self._files: dict[Stamp, str] | None = None
        self._dirty = False

    def _load(self) -> dict[Stamp, str]:
        if self._files is None:
            self._files = {}
            try:
                doc = orjson.loads(self.path.read_bytes())
                for row in doc["files"]:
                    *fields, digest = row
                    self._files[Stamp(*(int(v) for v in fields))] = str(digest)
            except FileNotFoundError:
                pass
            except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                # at worst the files it named are dealt with once more
                log.warning("%s is unreadable (%s): starting afresh", self.path, exc)
                self._files = {}
        return self._files

    def known(self, stamp: Stamp) -> bool:
        """Whether a file with exactly this stamp was dealt with and left on the medium."""
        return stamp in self._load()

    def remember(self, stamp: Stamp, digest: str) -> None:
        """Note a file that could not be removed (written by :meth:`save`)."""
        files = self._load()
        files.pop(stamp, None)
        files[stamp] = digest
        while len(files) > self.limit:
            del files[next(iter(files))]
        self._dirty = True

    def save(self) -> None:
        """Write the memo if it changed (once per round, not once per file)."""
        if not self._dirty or self._files is None:
            return
        rows = [[s.dev, s.ino, s.size, s.mtime_ns, s.ctime_ns, d] for s, d in self._files.items()]
        atomic_write_bytes(self.path, orjson.dumps({"v": 1, "files": rows}))
        self._dirty = False

    def reload(self) -> None:
        """Forget what was read: another process (an ``import`` from cron) may have written since."""
        self._files, self._dirty = None, False
