"""The node's own transfer log as an auditor sees it: signing checkpoints over it, reading it back,
verifying it (chain, checkpoints, a peer-held checkpoint) and the keys that vouch for it.

The pure checks are in ``transfer.logverify``; this module only moves rows in and out of the
database and picks the keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from keys import PublicKeys, SecretKeys, canonical
from keys.errors import EncodingError
from keys.identity import parse_fingerprint
from keys.identity_store import Identity
from nodekit.errors import ExitCode, NodeError
from nodekit.events import row_to_entry
from nodekit.i18n import N_
from nodekit.models import LogCheckpointRow, ReceiptRow, TransferLogRow
from transfer import merkle
from transfer.checkpoint import Checkpoint, parse_checkpoint, read_checkpoint, sign_checkpoint
from transfer.errors import LogVerificationError
from transfer.log import EventCode
from transfer.logverify import StoredEntry, VerifiedLog, read_entry_lines, verify_against, verify_log
from transfer.receipt import parse_receipt

_PG_LOCK_KEY = 0x63726564  # the transfer log's append lock (nodekit.events): no entry lands mid-checkpoint
_BATCH = 5000


class AuditError(NodeError):
    """An audit command cannot run as asked (a missing checkpoint, a bad fingerprint)."""

    exit_code = ExitCode.USAGE
    reason = "audit"


class AuditKeyMismatch(AuditError):
    """A key fingerprint the auditor gave is none of this node's keys: the log is not verified against
    it, which is a verification failure (exit 4), not a usage error."""

    exit_code = ExitCode.VERIFICATION
    reason = "unknown-key"


def row_to_checkpoint(row: LogCheckpointRow, node: str) -> Checkpoint:
    return Checkpoint(node=node, key=row.key_id, size=row.size, root=row.root, at=row.at, sig=bytes.fromhex(row.sig))


def latest_checkpoint(session: Session, node: str) -> Checkpoint | None:
    row = session.scalars(select(LogCheckpointRow).order_by(LogCheckpointRow.size.desc()).limit(1)).first()
    return None if row is None else row_to_checkpoint(row, node)


def sign_log_checkpoint(session: Session, secret: SecretKeys, node: str, at: datetime) -> Checkpoint:
    """Sign a checkpoint over every entry of the log so far, in ``session``'s transaction.

    Extends the frontier stored with the previous checkpoint by the entries appended since, so the
    cost is the new entries only. Returns the previous checkpoint when nothing was appended.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    session.flush()
    last = session.scalars(select(LogCheckpointRow).order_by(LogCheckpointRow.size.desc()).limit(1)).first()
    frontier = _frontier_of(session, last)
    new = session.scalars(
        select(TransferLogRow.leaf_hash).where(TransferLogRow.index >= frontier.size).order_by(TransferLogRow.index)
    ).all()
    if last is not None and not new:
        return row_to_checkpoint(last, node)
    for h in new:
        frontier.append(bytes.fromhex(h))
    cp = sign_checkpoint(secret, node=node, size=frontier.size, root=frontier.root().hex(), at=at)
    session.add(
        LogCheckpointRow(
            size=cp.size,
            root=cp.root,
            key_id=cp.key,
            at=cp.at,
            sig=cp.sig.hex(),
            frontier=orjson.dumps(frontier.to_hex()).decode(),
        )
    )
    session.flush()
    return cp


def _frontier_of(session: Session, last: LogCheckpointRow | None) -> merkle.Frontier:
    if last is not None:
        try:
            f = merkle.Frontier.from_hex(last.size, orjson.loads(last.frontier))
            if f.root().hex() == last.root:
                return f
        except (ValueError, TypeError, orjson.JSONDecodeError):
            pass
    # no usable frontier (first checkpoint, or a damaged row): start from the first entry
    return merkle.Frontier()


def log_rows(session: Session) -> Iterator[tuple[StoredEntry, str | None]]:
    """Every entry in index order with its recorded leaf hash, streamed."""
    stmt = select(TransferLogRow).order_by(TransferLogRow.index).execution_options(yield_per=_BATCH)
    for row in session.scalars(stmt):
        yield row_to_entry(row), row.leaf_hash


def own_checkpoints(session: Session, node: str) -> list[Checkpoint]:
    return [
        row_to_checkpoint(r, node) for r in session.scalars(select(LogCheckpointRow).order_by(LogCheckpointRow.size))
    ]


def own_public_keys(identity: Identity) -> dict[str, PublicKeys]:
    """Every key this node ever held (current, retired, revoked), as listed with its identity."""
    return {k.key_id: k.public for k in identity.own_keys()}


def pinned_keys(keys: Mapping[str, PublicKeys], fingerprints: Iterable[str]) -> dict[str, PublicKeys]:
    """Only the keys whose fingerprints the auditor gave, each checked against its public keys."""
    out: dict[str, PublicKeys] = {}
    for fp in fingerprints:
        try:
            key_id = parse_fingerprint(fp)
        except Exception as exc:
            raise AuditError(
                N_("--key-fingerprint {fp!r}: {problem}"), params={"fp": fp, "problem": exc}, reason="bad-fingerprint"
            ) from None
        public = keys.get(key_id)
        if public is None:
            raise AuditKeyMismatch(
                N_(
                    "--key-fingerprint {fp}: this node's identity lists no key {key_id}; the checkpoints cannot be verified against it (NOT verified)"
                ),
                params={"fp": fp, "key_id": key_id},
            )
        if public.key_id != key_id:  # the identity file was altered: its keys no longer match their ids
            raise AuditKeyMismatch(
                N_("the public keys stored for {key_id} do not have that fingerprint (NOT verified)"),
                params={"key_id": key_id},
                reason="bad-key",
            )
        out[key_id] = public
    return out


@dataclass(frozen=True)
class AuditResult:
    """What ``audit verify`` reports when the log verified."""

    log: VerifiedLog
    keys: list[str]
    against: Checkpoint | None = None
    proof: list[str] | None = None
    base: ArchiveBase | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "ok": True,
            "node": self.log.node,
            "entries": self.log.size,
            "root": self.log.root,
            "checkpoints": len(self.log.checkpoints),
            "covered": self.log.covered,
            "unsigned_tail": self.log.size - self.log.covered,
            "keys": self.keys,
        }
        if self.against is not None:
            out["against"] = {"size": self.against.size, "root": self.against.root, "at": self.against.at.isoformat()}
            out["consistency_proof"] = self.proof
        if self.base is not None:
            out["base"] = self.base.as_dict()
        return out


def verify_node_log(
    session: Session,
    node: str,
    keys: Mapping[str, PublicKeys],
    *,
    against: Checkpoint | None = None,
    base: Path | None = None,
) -> AuditResult:
    """Verify this node's whole log (and, given ``against``, that it extends a peer-held checkpoint).

    With ``base``, an evidence bundle of this log from which the oldest entries were archived: the
    bundle is verified on its own, then the log is verified as the bundle's entries up to the first
    live entry followed by the live ones: one chain, and every checkpoint (the node's and the
    bundle's) over all of it."""
    checkpoints = own_checkpoints(session, node)
    rows: Iterable[tuple[StoredEntry, str | None]] = log_rows(session)
    archive: ArchiveBase | None = None
    if base is not None:
        archive, rows = rows_with_base(session, base, node, keys)
        checkpoints = checkpoints + archive.checkpoints
    log = verify_log(rows, checkpoints, keys, node=node)
    proof = None
    if against is not None:
        if against.node != node:
            raise LogVerificationError(
                N_("the checkpoint given is of node {node}, not of this node ({node2})"),
                params={"node": against.node, "node2": node},
                reason="bad-checkpoint",
            )
        proof = [p.hex() for p in verify_against(log, against, keys)]
    return AuditResult(log=log, keys=sorted(keys), against=against, proof=proof, base=archive)


# ------------------------------------------------------------------------------- archived segments


@dataclass(frozen=True)
class ArchiveBase:
    """An evidence bundle of this node's log that verified on its own, standing in for the entries
    archived out of the live database (docs/OPERATIONS.md, "Keeping the log")."""

    folder: Path
    size: int  # entries in the bundle
    covered: int  # entries its last checkpoint covers
    checkpoints: list[Checkpoint]
    leaves: bytes  # the bundle's packed leaf hashes
    archived: int = 0  # the first live entry: entries before it are taken from the bundle

    def starting(self, first_live: int) -> ArchiveBase:
        if first_live > self.size:
            raise LogVerificationError(
                N_(
                    "entries {size}..{last} are neither in the live log (it starts at entry {first_live}) nor in the base bundle {folder} (it ends at entry {bundle_last}) (deleted)"
                ),
                params={
                    "size": self.size,
                    "last": first_live - 1,
                    "first_live": first_live,
                    "folder": self.folder,
                    "bundle_last": self.size - 1,
                },
                index=self.size,
                reason="deleted",
            )
        return ArchiveBase(self.folder, self.size, self.covered, self.checkpoints, self.leaves, first_live)

    def rows(self) -> Iterator[tuple[StoredEntry, str | None]]:
        """The bundle's entries before the first live one, read again from the bundle."""
        if self.archived == 0:
            return
        with (self.folder / "entries.jsonl").open("rb") as fh:
            for entry, recorded in read_entry_lines(fh, source=str(self.folder / "entries.jsonl")):
                if entry.index >= self.archived:
                    return
                yield entry, recorded

    def leaf(self, index: int) -> str | None:
        if index >= self.size:
            return None
        return self.leaves[index * 32 : (index + 1) * 32].hex()

    def as_dict(self) -> dict[str, object]:
        return {"bundle": str(self.folder), "archived": self.archived, "entries": self.size, "covered": self.covered}


def rows_with_base(
    session: Session, folder: Path, node: str, keys: Mapping[str, PublicKeys]
) -> tuple[ArchiveBase, Iterator[tuple[StoredEntry, str | None]]]:
    """Verify the bundle in ``folder``; then the whole log as its entries before the first live one
    followed by the live ones (each live entry the bundle holds too checked to be the same)."""
    archive = load_base(folder, node, keys)
    first = session.scalar(select(func.min(TransferLogRow.index)))
    archive = archive.starting(archive.size if first is None else first)
    return archive, chain(archive.rows(), _matching(log_rows(session), archive))


def load_base(folder: Path, node: str, keys: Mapping[str, PublicKeys]) -> ArchiveBase:
    """Read and verify an evidence bundle of ``node``'s log (its entries, chain and checkpoints, with
    ``keys``: the node's own or the auditor's pinned ones, never the bundle's ``keys.json``)."""
    try:
        manifest = orjson.loads((folder / "manifest.json").read_bytes())
        entries = (folder / "entries.jsonl").open("rb")
        cp_lines = (folder / "checkpoints.jsonl").read_bytes().splitlines()
    except OSError as exc:
        raise AuditError(
            N_("--base {folder}: not an evidence bundle of `audit export`: {problem}: {filename}"),
            params={"folder": folder, "problem": exc.strerror, "filename": exc.filename},
            reason="unreadable",
        ) from None
    except orjson.JSONDecodeError:
        raise AuditError(
            N_("--base {folder}/manifest.json: not JSON"), params={"folder": folder}, reason="unreadable"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("node_id") != node:
        got = manifest.get("node_id") if isinstance(manifest, dict) else None
        entries.close()
        raise AuditError(
            N_("--base {folder}: a bundle of node {got!r:.80}, not of this node ({node})"),
            params={"folder": folder, "got": got, "node": node},
            reason="bad-base",
        )
    checkpoints: list[Checkpoint] = []
    for n, line in enumerate(cp_lines, 1):
        try:
            checkpoints.append(parse_checkpoint(canonical.decode(line)))
        except (EncodingError, LogVerificationError) as exc:
            entries.close()
            raise LogVerificationError(
                N_("base bundle {folder}/checkpoints.jsonl line {n}: {problem}"),
                params={"folder": folder, "n": n, "problem": exc},
                reason="bad-checkpoint",
            ) from None
    try:
        with entries:
            log = verify_log(
                read_entry_lines(entries, source=str(folder / "entries.jsonl")), checkpoints, keys, node=node
            )
    except LogVerificationError as exc:
        raise LogVerificationError(
            N_("base bundle {folder}: {problem}"),
            index=exc.index,
            reason=exc.reason,
            params={"folder": folder, "problem": exc},
        ) from None
    return ArchiveBase(folder, log.size, log.covered, log.checkpoints, log.leaves)


def _matching(
    rows: Iterator[tuple[StoredEntry, str | None]], base: ArchiveBase
) -> Iterator[tuple[StoredEntry, str | None]]:
    """The live rows, each one the bundle holds too checked to be the same entry."""
    for entry, recorded in rows:
        archived = base.leaf(entry.index)
        if archived is not None and archived != entry.leaf_hash:
            raise LogVerificationError(
                N_("entry {index} was edited: it differs from its archived copy in {folder}"),
                params={"index": entry.index, "folder": base.folder},
                index=entry.index,
                reason="edited",
            )
        yield entry, recorded


def load_against(session: Session, node: str, spec: str) -> Checkpoint:
    """The checkpoint ``--against`` names: a checkpoint file, or ``latest-peer``: the largest checkpoint
    of this log that a peer acknowledged in a signed receipt."""
    if spec != "latest-peer":
        path = Path(spec)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AuditError(
                N_("{path}: cannot read: {problem}"),
                params={"path": path, "problem": exc.strerror},
                reason="unreadable",
            ) from None
        try:
            return read_checkpoint(data)
        except LogVerificationError as exc:
            raise LogVerificationError(
                N_("{path}: {problem}"), reason=exc.reason, params={"path": path, "problem": exc}
            ) from None
    best: Checkpoint | None = None
    for doc, sig in session.execute(select(ReceiptRow.document, ReceiptRow.sig).where(ReceiptRow.direction == "in")):
        ack = parse_receipt(orjson.loads(doc), sig).acknowledges
        if ack is not None and ack.node == node and (best is None or ack.size > best.size):
            best = ack
    if best is None:
        raise AuditError(
            N_(
                "no peer has acknowledged a checkpoint of this log yet (no receipt carries one): pass a checkpoint file exported from the peer instead"
            ),
            reason="no-peer-checkpoint",
        )
    return best


@dataclass(frozen=True)
class LogFilter:
    """What ``audit show`` selects: a time window, event codes (or prefixes such as ``package.``), a
    package sequence number, a result."""

    since: datetime | None = None
    until: datetime | None = None
    events: tuple[str, ...] = ()
    seq: int | None = None
    result: str | None = None

    def matches_event(self, event: str) -> bool:
        return not self.events or any(event == e or (e.endswith(".") and event.startswith(e)) for e in self.events)


def select_entries(session: Session, f: LogFilter) -> Iterator[tuple[StoredEntry, str]]:
    """The entries ``f`` selects, in index order, with their recorded leaf hashes."""
    stmt = select(TransferLogRow).order_by(TransferLogRow.index)
    if f.since is not None:
        stmt = stmt.where(TransferLogRow.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(TransferLogRow.at < f.until)
    if f.result is not None:
        stmt = stmt.where(TransferLogRow.result == f.result)
    for row in session.scalars(stmt.execution_options(yield_per=_BATCH)):
        if not f.matches_event(row.event):
            continue
        entry = row_to_entry(row)
        if f.seq is not None and (not isinstance(entry.subject, dict) or entry.subject.get("seq") != f.seq):
            continue
        yield entry, row.leaf_hash


def log_segments(s: Session) -> list[dict[str, Any]]:
    """The log's segments after the first: each `channel recover` starts one with its channel.recovered
    entry (index, when, channel, why, the heads)."""
    out: list[dict[str, Any]] = []
    for index, at, subject in s.execute(
        select(TransferLogRow.index, TransferLogRow.at, TransferLogRow.subject)
        .where(TransferLogRow.event == EventCode.CHANNEL_RECOVERED.value)
        .order_by(TransferLogRow.index)
    ):
        doc = orjson.loads(subject)
        out.append(
            {
                "start": index,
                "at": at.astimezone(UTC).isoformat(timespec="seconds"),
                "channel": doc.get("channel"),
                "side": doc.get("side"),
                "why": doc.get("why"),
                "old": doc.get("old"),
                "new": doc.get("new"),
                "next_seq": doc.get("next_seq"),
                "abandoned_head": doc.get("abandoned_head"),
            }
        )
    return out
