"""The pure verifier of a transfer log: entries, their hash chain, the signed checkpoints over them, and
consistency with a checkpoint held by the peer (docs/FORMAT.md §13).

Input is what a node stored (or an evidence bundle holds): the entries in index order with, when
known, the leaf hash recorded beside each; the checkpoints; and the public keys the auditor trusts.
Output is a :class:`VerifiedLog`, or a :class:`~transfer.errors.LogVerificationError` whose ``index``
names the first bad entry and whose ``reason`` says what happened to it (``edited``, ``deleted``,
``inserted``, ``reordered``, ``truncated``, ``bad-checkpoint``, ``inconsistent``).

What a node's own log can prove is limited: entries cut off the tail after the last checkpoint the
node still holds leave no trace in it. :func:`verify_against` closes that gap with a checkpoint the
peer holds, through an RFC 6962 consistency proof.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from keys.errors import EncodingError, Said
from keys.identity import PublicKeys
from transfer import merkle
from transfer.checkpoint import Checkpoint
from transfer.errors import N_, LogVerificationError
from transfer.log import GENESIS, EventCode, LogEntry, parse_ts

_H = merkle.HASH_LEN
_NONE = bytes(_H)  # "no recorded hash" in the packed array


@dataclass(frozen=True)
class UndecodableEntry:
    """A stored entry that is no entry at all: an event outside the closed list, a subject or counts
    that are not JSON objects. Nothing the node writes looks like this, so the verifier reports it as
    ``edited``; ``audit show`` and ``audit export`` carry its stored fields as they are.

    ``subject`` and ``counts`` hold the decoded value when it decoded, else the stored text."""

    index: int
    at: datetime
    actor: str
    event: str
    result: str
    reason: str
    subject: Any
    counts: Any
    prev: str
    problem: str  # what does not decode, for the operator: "event 'x' is not an event code"

    def document(self) -> dict[str, Any]:
        return {
            "v": 1,
            "index": self.index,
            "at": self.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor": self.actor,
            "event": self.event,
            "result": self.result,
            "reason": self.reason,
            "subject": self.subject,
            "counts": self.counts,
            "prev": self.prev,
        }

    def encode(self) -> bytes:
        # not canonical JSON (the values may fall outside its subset): only sorted, compact, total
        return orjson.dumps(self.document(), option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)

    @property
    def leaf_hash(self) -> str:
        return hashlib.sha256(b"\x00" + self.encode()).hexdigest()


StoredEntry = LogEntry | UndecodableEntry


@dataclass(frozen=True)
class VerifiedLog:
    """A log that verified: its size, tree hash, and the checkpoints that vouch for it."""

    node: str | None
    size: int
    root: str
    checkpoints: list[Checkpoint]
    leaves: bytes = field(repr=False)  # the packed leaf hashes, for consistency proofs

    @property
    def covered(self) -> int:
        """Entries covered by a signed checkpoint (the rest is the unsigned tail)."""
        return max((c.size for c in self.checkpoints), default=0)

    def leaf_list(self) -> list[bytes]:
        return [self.leaves[i : i + _H] for i in range(0, len(self.leaves), _H)]


@dataclass
class _Packed:
    """The log reduced to fixed-size arrays (about 100 bytes an entry), so a long log fits in memory."""

    index: array[int] = field(default_factory=lambda: array("q"))
    leaf: bytearray = field(default_factory=bytearray)
    recorded: bytearray = field(default_factory=bytearray)
    prev: bytearray = field(default_factory=bytearray)
    # leaf hashes recomputed as if each entry had index i-1 / i+1: how renumbering is recognised
    shifted_down: bytearray = field(default_factory=bytearray)
    shifted_up: bytearray = field(default_factory=bytearray)
    undecodable: dict[int, str] = field(default_factory=dict)  # position -> what does not decode

    def at(self, buf: bytearray, pos: int) -> bytes:
        return bytes(buf[pos * _H : (pos + 1) * _H])

    def find(self, buf: bytearray, h: bytes) -> int | None:
        start = 0
        while True:
            i = buf.find(h, start)
            if i < 0:
                return None
            if i % _H == 0:
                return i // _H
            start = i + 1

    def __len__(self) -> int:
        return len(self.index)


def verify_log(
    rows: Iterable[tuple[StoredEntry, str | None]],
    checkpoints: Sequence[Checkpoint],
    keys: Mapping[str, PublicKeys],
    *,
    node: str | None = None,
) -> VerifiedLog:
    """Verify a whole log: every leaf hash, the ``prev`` chain, contiguous indices from 0, every
    checkpoint's tree hash and signature (with ``keys``: key id → public keys the auditor trusts).

    ``rows`` gives each entry in index order with the leaf hash recorded beside it (or None).
    Raises :class:`LogVerificationError` naming the first bad entry.
    """
    by_size = _checkpoints_by_size(checkpoints)
    packed = _Packed()
    frontier = merkle.Frontier()
    roots: dict[int, bytes] = {}
    if 0 in by_size:
        roots[0] = merkle.EMPTY_ROOT
    for pos, (entry, recorded) in enumerate(rows):
        h = bytes.fromhex(entry.leaf_hash)
        packed.index.append(entry.index)
        packed.leaf += h
        packed.recorded += bytes.fromhex(recorded) if recorded else _NONE
        packed.prev += _hex32(entry.prev)
        packed.shifted_down += bytes.fromhex(_with_index(entry, pos - 1).leaf_hash) if pos else _NONE
        packed.shifted_up += bytes.fromhex(_with_index(entry, pos + 1).leaf_hash)
        if isinstance(entry, UndecodableEntry):
            packed.undecodable[pos] = entry.problem
        frontier.append(h)
        if frontier.size in by_size:
            roots[frontier.size] = frontier.root()
    # a broken entry explains the checkpoints that no longer match it: name the entry first
    problems = _entry_problems(packed)
    problems += sorted(_checkpoint_problems(by_size, roots, len(packed), keys, node), key=lambda p: p[0])
    if problems:
        pos, reason, message = problems[0]
        if len(problems) == 1:
            said = message if isinstance(message, Said) else Said(message)
            err = LogVerificationError(said.template, index=pos, reason=reason, params=said.params)
        else:
            err = LogVerificationError(
                N_("{problem} ({n} more problem after it)")
                if len(problems) == 2
                else N_("{problem} ({n} more problems after it)"),
                index=pos,
                reason=reason,
                params={"problem": message, "n": len(problems) - 1},
            )
        err.problems = problems  # type: ignore[attr-defined]
        raise err
    return VerifiedLog(
        node=node,
        size=len(packed),
        root=frontier.root().hex(),
        checkpoints=[by_size[s] for s in sorted(by_size)],
        leaves=bytes(packed.leaf),
    )


def verify_entries(
    entries: Iterable[LogEntry],
    checkpoints: Sequence[Checkpoint],
    keys: Mapping[str, PublicKeys],
    *,
    node: str | None = None,
) -> VerifiedLog:
    """:func:`verify_log` for entries without recorded hashes (an evidence bundle's ``entries.jsonl``)."""
    return verify_log(((e, None) for e in entries), checkpoints, keys, node=node)


def verify_against(log: VerifiedLog, held: Checkpoint, keys: Mapping[str, PublicKeys]) -> list[bytes]:
    """Prove that ``log`` still extends ``held``, a checkpoint of this log that the peer holds.

    Verifies ``held``'s signature, then an RFC 6962 consistency proof from ``held.size`` to the
    whole log, and returns that proof. Raises ``truncated`` when the log is shorter than ``held``
    and ``inconsistent`` when an entry before ``held.size`` differs from what was signed.
    """
    _signature(held, keys, None if log.node is None else log.node)
    n = log.size
    if held.size > n:
        raise LogVerificationError(
            N_(
                "the peer holds a checkpoint of {size} entries signed {at:%Y-%m-%dT%H:%M:%SZ}, but the log has only {n}: entries {n}..{last} were cut off the tail (truncated)"
            ),
            params={"size": held.size, "at": held.at, "n": n, "last": held.size - 1},
            index=n,
            reason="truncated",
        )
    leaves = log.leaf_list()
    proof = merkle.consistency_proof(held.size, leaves)
    try:
        merkle.verify_consistency(held.size, n, proof, bytes.fromhex(held.root), bytes.fromhex(log.root))
    except LogVerificationError:
        raise LogVerificationError(
            N_(
                "the log does not extend the checkpoint of {size} entries the peer holds (signed {at:%Y-%m-%dT%H:%M:%SZ}): entries before {size} were edited, deleted, inserted or reordered since, and the chain and checkpoints after them rewritten"
            ),
            params={"size": held.size, "at": held.at},
            reason="inconsistent",
        ) from None
    return proof


def read_entry_lines(lines: Iterable[bytes], *, source: str = "entries.jsonl") -> Iterator[tuple[StoredEntry, str]]:
    """The entries of an evidence bundle's ``entries.jsonl`` (one canonical entry per line), each with
    the leaf hash of the line's own bytes as its recorded hash, so that a line which is not the
    canonical form of its entry shows as edited. Raises ``edited`` for a line that is no entry."""
    for pos, line in enumerate(lines):
        line = line.rstrip(b"\n")
        recorded = hashlib.sha256(b"\x00" + line).hexdigest()
        try:
            doc = orjson.loads(line)
            if not isinstance(doc, dict) or doc.get("v") != 1 or set(doc) != _ENTRY_FIELDS:
                raise ValueError("not a version-1 entry")
            index, at = doc["index"], parse_ts(doc["at"])
            texts = [doc[k] for k in ("actor", "event", "result", "reason", "prev")]
            if not isinstance(index, int) or not all(isinstance(t, str) for t in texts):
                raise ValueError("a field has the wrong type")
        except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
            raise LogVerificationError(
                N_("{source} line {line}: entry {pos} was edited: it is not an entry ({problem})"),
                params={"source": source, "line": pos + 1, "pos": pos, "problem": exc},
                index=pos,
                reason="edited",
            ) from None
        subject, counts = doc["subject"], doc["counts"]
        try:
            event = EventCode(doc["event"])
        except ValueError:
            event = None
        if event is None or not isinstance(subject, dict) or not isinstance(counts, dict):
            yield UndecodableEntry(
                index=index, at=at, actor=doc["actor"], event=doc["event"], result=doc["result"], reason=doc["reason"],
                subject=subject, counts=counts, prev=doc["prev"],
                problem=f"its event {doc['event'][:64]!r} is not an event code" if event is None
                else "its subject or counts is not a JSON object",
            ), recorded  # fmt: skip
            continue
        entry = LogEntry(
            index=index, at=at, actor=doc["actor"], event=event, result=doc["result"], reason=doc["reason"],
            subject=subject, counts=counts, prev=doc["prev"],
        )  # fmt: skip
        try:
            entry.encode()
        except EncodingError as exc:
            yield replace_undecodable(entry, f"it cannot be encoded canonically ({exc})"), recorded
            continue
        yield entry, recorded


def replace_undecodable(entry: LogEntry, problem: str) -> UndecodableEntry:
    """``entry`` as an :class:`UndecodableEntry` (its values fall outside the canonical subset)."""
    return UndecodableEntry(
        index=entry.index, at=entry.at, actor=entry.actor, event=entry.event.value, result=entry.result,
        reason=entry.reason, subject=entry.subject, counts=entry.counts, prev=entry.prev, problem=problem,
    )  # fmt: skip


_ENTRY_FIELDS = frozenset({"v", "index", "at", "actor", "event", "result", "reason", "subject", "counts", "prev"})


# ----------------------------------------------------------------------------------------- entries


def _entry_problems(p: _Packed) -> list[tuple[int, str, str]]:
    expected_prev = bytes.fromhex(GENESIS)
    for pos in range(len(p)):
        problem = _diagnose(p, pos, expected_prev)
        if problem is not None:
            return [problem]  # later entries cannot be judged once the chain is broken
        expected_prev = p.at(p.leaf, pos)
    return []


def _diagnose(p: _Packed, pos: int, expected_prev: bytes) -> tuple[int, str, str] | None:
    index = p.index[pos]
    if index != pos:
        if index > pos:
            gap = (
                Said(N_("entry {pos}"), pos=pos)
                if index == pos + 1
                else Said(N_("entries {pos}..{last}"), pos=pos, last=index - 1)
            )
            if pos == 0:  # the head of the log: what archiving old entries leaves, or an attack
                return (
                    0,
                    "deleted",
                    (
                        Said(
                            N_(
                                "{gap} missing: the log starts at entry {index} (deleted; if they were archived, "
                                "verify with the archive's evidence bundle as the base)"
                            ),
                            gap=gap,
                            index=index,
                        )
                    ),
                )
            return (
                pos,
                "deleted",
                Said(
                    N_("{gap} missing: the log goes from entry {before} to entry {index} (deleted)"),
                    gap=gap,
                    before=pos - 1,
                    index=index,
                ),
            )
        return (
            pos,
            "reordered",
            Said(N_("entry {pos} is out of order: found index {index} at position {pos}"), pos=pos, index=index),
        )
    if pos in p.undecodable:
        return pos, "edited", Said(N_("entry {pos} was edited: {problem}"), pos=pos, problem=p.undecodable[pos])
    leaf, recorded, prev = p.at(p.leaf, pos), p.at(p.recorded, pos), p.at(p.prev, pos)
    if prev != expected_prev:
        if pos and prev == bytes.fromhex(GENESIS):
            return (
                pos,
                "reordered",
                Said(N_("entry {pos} is out of order: it claims to be the first entry of the log"), pos=pos),
            )
        other = p.find(p.leaf, prev)
        if other is None:
            other = p.find(p.recorded, prev)
        if other is not None and other != pos - 1:
            if other == pos - 2 and recorded != _NONE and recorded == p.at(p.shifted_down, pos):
                return (
                    pos - 1,
                    "inserted",
                    Said(
                        N_(
                            "entry {before} was inserted: entry {pos} was renumbered from {before} and still chains to entry {two_before}"
                        ),
                        before=pos - 1,
                        pos=pos,
                        two_before=pos - 2,
                    ),
                )
            return (
                pos,
                "reordered",
                Said(
                    N_("entry {pos} is out of order: it chains to entry {other}, not to entry {before}"),
                    pos=pos,
                    other=other,
                    before=pos - 1,
                ),
            )
    if recorded != _NONE and recorded != leaf:
        if pos and recorded == p.at(p.shifted_down, pos):
            return (
                pos,
                "inserted",
                Said(
                    N_("entry {pos} was renumbered from {before}: an entry was inserted before it"),
                    pos=pos,
                    before=pos - 1,
                ),
            )
        if recorded == p.at(p.shifted_up, pos):
            return (
                pos,
                "deleted",
                Said(
                    N_("entry {pos} was renumbered from {after}: the entry before it was deleted"),
                    pos=pos,
                    after=pos + 1,
                ),
            )
        return (
            pos,
            "edited",
            Said(N_("entry {pos} was edited: its content no longer matches its recorded hash"), pos=pos),
        )
    if prev != expected_prev:
        if pos == 0:
            return 0, "edited", Said(N_("entry 0 was edited: its prev is not the genesis value"))
        return (
            pos - 1,
            "edited",
            Said(
                N_(
                    "entry {before} was changed: entry {pos} records another hash for it (or entries between them were deleted or inserted)"
                ),
                before=pos - 1,
                pos=pos,
            ),
        )
    return None


def _with_index(entry: StoredEntry, index: int) -> StoredEntry:
    return replace(entry, index=index)


def _hex32(value: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    return raw if len(raw) == _H else b"\xff" * _H  # a malformed prev matches nothing


# ------------------------------------------------------------------------------------- checkpoints


def _checkpoints_by_size(checkpoints: Sequence[Checkpoint]) -> dict[int, Checkpoint]:
    by_size: dict[int, Checkpoint] = {}
    for cp in checkpoints:
        seen = by_size.get(cp.size)
        if seen is not None and seen.root != cp.root:
            raise LogVerificationError(
                N_("two checkpoints of size {size} with different roots: the log was rewritten after it was signed"),
                params={"size": cp.size},
                index=max(cp.size - 1, 0),
                reason="inconsistent",
            )
        by_size[cp.size] = cp
    return by_size


def _checkpoint_problems(
    by_size: Mapping[int, Checkpoint],
    roots: Mapping[int, bytes],
    n: int,
    keys: Mapping[str, PublicKeys],
    node: str | None,
) -> list[tuple[int, str, str]]:
    problems: list[tuple[int, str, str]] = []
    good = 0
    for size in sorted(by_size):
        cp = by_size[size]
        pos = max(size - 1, 0)
        try:
            _signature(cp, keys, node)
        except LogVerificationError as exc:
            problems.append((pos, exc.reason, Said(exc.template, **exc.params)))
            continue
        if size > n:
            problems.append(
                (
                    n,
                    "truncated",
                    Said(
                        N_(
                            "the log has {n} entries but a checkpoint signed {at:%Y-%m-%dT%H:%M:%SZ} covers {size}: "
                            "entries {n}..{last} were cut off the tail (truncated)"
                        ),
                        n=n,
                        at=cp.at,
                        size=size,
                        last=size - 1,
                    ),
                )
            )
            break
        if roots.get(size) != bytes.fromhex(cp.root):
            problems.append(
                (
                    good,
                    "inconsistent",
                    Said(
                        N_(
                            "entries {good}..{last} no longer hash to the root signed at size {size}: an entry "
                            "in that range was changed and the chain after it rewritten"
                        ),
                        good=good,
                        last=size - 1,
                        size=size,
                    ),
                )
            )
            break
        good = size
    return problems


def _signature(cp: Checkpoint, keys: Mapping[str, PublicKeys], node: str | None) -> None:
    if node is not None and cp.node != node:
        raise LogVerificationError(
            N_("checkpoint of size {size} is of node {node}, not of node {node2}"),
            params={"size": cp.size, "node": cp.node, "node2": node},
            reason="bad-checkpoint",
        )
    public = keys.get(cp.key)
    if public is None:
        raise LogVerificationError(
            N_("checkpoint of size {size} is signed by key {key}, which is not among the trusted keys ({keys})"),
            params={"size": cp.size, "key": cp.key, "keys": ", ".join(sorted(keys)) or "none"},
            reason="bad-checkpoint",
        )
    cp.verify(public)
