"""The quarantine: rejected packages, each in a folder of its own with a reason file.

Bytes are kept only within a byte quota and entries only within a cap; junk (no parsable header) is
recorded by size and digest only. Nothing younger than the retention period is ever pruned (by default
180 days, the floor the Cybersecurity Law, Art. 21, sets for keeping logs): when a cap is reached,
entries older than that make room, oldest first, with equivocation and fork evidence last. When
nothing is old enough, the caller records the rejection in the transfer log only.

The bookkeeping of one entry is O(1): a small index holds the count and the bytes, and a marker per
digest finds the same bytes again, so recording an entry never lists the folder. Only pruning lists
it, and when a listing could not get under the caps, not again before :data:`PRUNE_INTERVAL` has
passed or an entry has come of age.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from transfer.files import atomic_write_bytes, durable_move, ensure_dir, fsync_dir

DEFAULT_RETENTION = 180 * 86400
EVIDENCE = frozenset({"equivocation", "fork"})
PRUNE_INTERVAL = 3600  # seconds: at most one listing an hour while nothing more can be pruned
INDEX, DIGESTS, REASON, PACKAGE = ".index.json", ".digests", "reason.json", "package.cgp"
NO_DIGEST = "0" * 64
_DIGEST = re.compile(r"[0-9a-f]{64}")
_STAMP_FORMAT = "%Y%m%dT%H%M%S%z"  # the time part of a folder name: ``at`` without ':' and '-'

# reasons raised before (or by) the signature check: the header content was not authenticated
_UNVERIFIED = frozenset(
    {"bad-magic", "bad-header", "unknown-version", "unknown-signer", "revoked-signer", "wrong-role", "bad-signature",
     "truncated", "oversized", "sparse"}
)  # fmt: skip


@dataclass
class _Index:
    entries: int = 0
    bytes: int = 0
    next_prune: int = 0  # epoch seconds before which a listing cannot free anything


@dataclass(frozen=True)
class _Entry:
    name: str
    at: int  # epoch seconds; entries whose name does not say are never pruned
    evidence: bool
    size: int  # bytes kept


class Quarantine:
    """Rejected packages with a reason file each (docs/OPERATIONS.md, "When a package is rejected")."""

    def __init__(
        self, root: Path, *, quota: int = 1 << 30, max_entries: int = 10_000, retention: int = DEFAULT_RETENTION
    ) -> None:
        self.root = root
        self.quota = quota
        self.max_entries = max_entries
        self.retention = retention

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
        """Record a rejection at ``at`` (ISO 8601); returns the quarantine folder, or None when the entry
        cap is reached and nothing is old enough to make room. ``staged`` is moved in or deleted."""
        now = _epoch(at)
        index = self._load()
        if staged is not None and (known := self._by_digest(digest)) is not None:
            # the same bytes again (e.g. a crash after quarantining, before the medium copy went): once is enough
            staged.unlink(missing_ok=True)
            return known
        if index.entries >= self.max_entries:
            self._prune(index, now, room_for=0)
            if index.entries >= self.max_entries:
                if staged is not None:
                    staged.unlink(missing_ok=True)
                self._save(index)
                return None
        keep = staged is not None and keep_bytes
        if keep and index.bytes + size > self.quota:
            self._prune(index, now, room_for=size)
            keep = index.bytes + size <= self.quota
        folder = self._new_folder(f"{at.replace(':', '').replace('-', '')}-{digest[:16]}-{reason}")
        if staged is not None:
            if keep:
                durable_move(staged, folder / PACKAGE)
            else:
                staged.unlink(missing_ok=True)
        doc = {
            "reason": reason,
            "message": message,
            "at": at,
            "source": source,
            "digest": digest,
            "size": size,
            "bytes_kept": keep,
            "header": header,
            "header_verified": False if header is not None and reason in _UNVERIFIED else header is not None,
        }
        if evidence:
            doc["evidence"] = evidence
        atomic_write_bytes(folder / REASON, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        if _DIGEST.fullmatch(digest) and digest != NO_DIGEST:
            atomic_write_bytes(ensure_dir(self.root / DIGESTS) / digest, folder.name.encode())
        index.entries += 1
        index.bytes += size if keep else 0
        self._save(index)
        return folder

    def entries(self) -> list[dict[str, Any]]:
        """Every entry's reason file, in time order (``status`` and tests; this one lists the folder)."""
        out: list[dict[str, Any]] = []
        if self.root.is_dir():
            for p in sorted(self.root.iterdir()):
                rf = p / REASON
                if p.name.startswith(".") or not rf.is_file():
                    continue
                try:
                    out.append({"folder": p.name, **orjson.loads(rf.read_bytes())})
                except orjson.JSONDecodeError:
                    out.append({"folder": p.name, "reason": "unreadable"})
        return out

    # ------------------------------------------------------------------------------------ bookkeeping

    def _load(self) -> _Index:
        if not self.root.is_dir():
            ensure_dir(self.root)
            return _Index()
        try:
            doc = orjson.loads((self.root / INDEX).read_bytes())
            return _Index(int(doc["entries"]), int(doc["bytes"]), int(doc["next_prune"]))
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            # a home from before the index, or an index a crash lost: count once, by a listing
            index = _Index()
            for e in self._listing():
                index.entries += 1
                index.bytes += e.size
            return index

    def _save(self, index: _Index) -> None:
        atomic_write_bytes(self.root / INDEX, orjson.dumps(asdict(index)))

    def _by_digest(self, digest: str) -> Path | None:
        if not _DIGEST.fullmatch(digest) or digest == NO_DIGEST:
            return None
        try:
            name = (self.root / DIGESTS / digest).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        folder = self.root / name
        return folder if name and "/" not in name and folder.is_dir() else None

    def _new_folder(self, name: str) -> Path:
        folder, n = self.root / name, 1
        while folder.exists():
            n += 1
            folder = self.root / f"{name}~{n}"
        folder.mkdir(mode=0o700)
        return folder

    def _listing(self) -> list[_Entry]:
        out: list[_Entry] = []
        for p in sorted(self.root.iterdir()):
            if p.name.startswith(".") or not p.is_dir() or p.is_symlink():
                continue
            stamp, _, rest = p.name.partition("-")
            reason = rest.partition("-")[2].split("~")[0]
            try:
                at = int(datetime.strptime(stamp, _STAMP_FORMAT).timestamp())
            except ValueError:
                at = -1
            try:
                size = (p / PACKAGE).stat().st_size
            except OSError:
                size = 0
            out.append(_Entry(p.name, at, reason in EVIDENCE, size))
        return out

    def _prune(self, index: _Index, now: int, *, room_for: int) -> None:
        """Remove entries past the retention period, oldest first and evidence last, until the entry
        count (``room_for`` 0) or the bytes (``room_for`` the bytes of the new entry) are under a
        low-water mark, so that one listing makes room for many entries."""
        if now < index.next_prune:
            return
        listing = self._listing()
        index.entries, index.bytes = len(listing), sum(e.size for e in listing)  # heals what a crash left
        max_entries = self.max_entries - max(1, self.max_entries // 10)
        max_bytes = self.quota - max(room_for, self.quota // 10)
        victims = sorted(
            (e for e in listing if e.at >= 0 and e.at + self.retention <= now), key=lambda e: (e.evidence, e.at, e.name)
        )

        def done() -> bool:
            return index.bytes <= max_bytes if room_for else index.entries <= max_entries

        for e in victims:
            if done():
                break
            if room_for and not e.size:
                continue  # keeps no bytes: removing it frees none
            self._remove(e)
            index.entries -= 1
            index.bytes -= e.size
        if done():
            index.next_prune = 0
        else:
            young = [e.at + self.retention for e in listing if e.at >= 0 and e.at + self.retention > now]
            index.next_prune = max(now + PRUNE_INTERVAL, min(young, default=now))
        fsync_dir(self.root)

    def _remove(self, e: _Entry) -> None:
        folder = self.root / e.name
        try:
            digest = orjson.loads((folder / REASON).read_bytes()).get("digest", "")
        except (OSError, orjson.JSONDecodeError, AttributeError):
            digest = ""
        if isinstance(digest, str) and _DIGEST.fullmatch(digest):
            (self.root / DIGESTS / digest).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


def _epoch(at: str) -> int:
    when = datetime.fromisoformat(at)
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())
