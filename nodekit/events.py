"""Recording events in the node's transfer log: the one function every part of a node calls.

Entries are appended inside the caller's transaction, so an event and the change it describes
commit together or not at all. Appends are serialised (SQLite: the transaction's write lock;
PostgreSQL: a transaction-scoped advisory lock), and the primary key on the entry index makes two
writers that raced anyway fail instead of forking the chain.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from keys import canonical
from keys.errors import EncodingError
from nodekit.i18n import N_
from nodekit.models import LogCheckpointRow, TransferLogRow
from nodekit.operator import OperatorError, operator_actor
from transfer.errors import LogVerificationError
from transfer.log import GENESIS, EventCode, LogEntry, parse_ts
from transfer.logverify import StoredEntry, UndecodableEntry, replace_undecodable

_PG_LOCK_KEY = 0x63726564  # "cred"


def default_actor() -> str:
    """Who is acting: ``CREDGAP_ACTOR`` if set (services set it), else the operator
    (``--operator``, ``CREDGAP_OPERATOR``, the OS user)."""
    actor = os.environ.get("CREDGAP_ACTOR")
    if actor:
        return actor
    try:
        return operator_actor()
    except OperatorError:
        return f"uid:{os.getuid()}"


def record_event(
    session: Session,
    event: EventCode,
    *,
    at: datetime,
    actor: str | None = None,
    result: str = "ok",
    reason: str = "",
    subject: Mapping[str, Any] | None = None,
    counts: Mapping[str, int] | None = None,
) -> LogEntry:
    """Append one entry to the transfer log in ``session``'s transaction and return it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    last = session.execute(
        select(TransferLogRow.index, TransferLogRow.leaf_hash).order_by(TransferLogRow.index.desc()).limit(1)
    ).first()
    if last is None and session.scalar(select(LogCheckpointRow.size).where(LogCheckpointRow.size > 0).limit(1)):
        # every row was deleted (archived too far): a new entry 0 would start a second chain
        raise LogVerificationError(
            N_(
                "the transfer log has no entries but checkpoints cover some: its rows were deleted; restore at least the last one from the archive bundle or a backup before anything is logged"
            ),
            index=0,
            reason="truncated",
        )
    entry = LogEntry(
        index=0 if last is None else last[0] + 1,
        at=at,
        actor=actor or default_actor(),
        event=event,
        result=result,
        reason=reason,
        subject=dict(subject or {}),
        counts=dict(counts or {}),
        prev=GENESIS if last is None else last[1],
    )
    doc = entry.document()
    session.add(
        TransferLogRow(
            index=entry.index,
            at=parse_ts(doc["at"]),
            actor=entry.actor,
            event=entry.event.value,
            result=entry.result,
            reason=entry.reason,
            subject=canonical.encode(doc["subject"]).decode(),
            counts=canonical.encode(doc["counts"]).decode(),
            prev=entry.prev,
            leaf_hash=entry.leaf_hash,
        )
    )
    session.flush()
    return entry


def row_to_entry(row: TransferLogRow) -> StoredEntry:
    """Rebuild the entry from its stored row (the verifier recomputes every hash from this).

    A row that does not decode (an event outside the closed list, a subject or counts that are not
    JSON objects: an edit, never something the node writes) comes back as an
    :class:`~transfer.logverify.UndecodableEntry` carrying the stored values, which the verifier
    names as edited and ``audit show``/``export`` print as they are."""
    problems: list[str] = []
    try:
        event: EventCode | None = EventCode(row.event)
    except ValueError:
        event = None
        problems.append(f"its event {row.event[:64]!r} is not an event code")
    subject, counts = _json_object(row.subject, "subject", problems), _json_object(row.counts, "counts", problems)
    if event is None or problems:
        return UndecodableEntry(
            index=row.index, at=row.at, actor=row.actor, event=row.event, result=row.result, reason=row.reason,
            subject=subject, counts=counts, prev=row.prev, problem="; ".join(problems),
        )  # fmt: skip
    entry = LogEntry(
        index=row.index,
        at=row.at,
        actor=row.actor,
        event=event,
        result=row.result,
        reason=row.reason,
        subject=subject,
        counts=counts,
        prev=row.prev,
    )
    try:
        entry.encode()
    except EncodingError as exc:  # a float, a huge number: JSON, but nothing the node writes
        return replace_undecodable(entry, f"it cannot be encoded canonically ({exc})")
    return entry


def _json_object(text: str, name: str, problems: list[str]) -> Any:
    """The JSON object stored in ``text``, or ``text`` itself (noting the problem) when it is not one."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        problems.append(f"its {name} is not JSON")
        return text
    if not isinstance(value, dict):
        problems.append(f"its {name} is not a JSON object")
    return value
