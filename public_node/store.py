"""Applying verified record changes to the published database, in bulk and inside the caller's
transaction, and its housekeeping (purging expired records, replacing tables for a snapshot).

This module is also the one entry point of the published database: the lookups, the search and the
documents are re-exported here.

Rules (docs/adr/0002-cjk-search-index.md for the search part):
- an upsert replaces the stored record only when its version is newer; a withdrawal removes the
  stored record when its version is not newer than the withdrawal's; no history is kept, only the
  per-kind counts returned to the caller (for the transfer log);
- an upsert whose ``publish_until`` has already passed on ``today`` is not stored (and removes an
  older stored version): the read model never holds what it may not show;
- the search entries of the subjects concerned change in the same transaction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, column, delete, func, select, table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from keys.times import parse_time
from nodekit.text import printable
from public_node import bulk
from public_node import search as _search
from public_node.changes import Removal, Upsert, parse_change
from public_node.documents import documents_of_subject, get_document, store_document, withdraw_document
from public_node.errors import BadItem
from public_node.models import DOCUMENT_TABLE, RECORD_TABLE, ApplicationDecision, ApplicationStatus
from public_node.queries import find_by_doc_no, find_by_uscc, get_record, list_page, record_counts, subject_page
from public_node.search import Source, search
from public_node.views import KINDS
from transfer.items import Item

__all__ = [
    "ApplyResult",
    "apply_changes",
    "documents_of_subject",
    "find_by_doc_no",
    "find_by_uscc",
    "get_document",
    "get_record",
    "list_page",
    "purge_expired",
    "record_counts",
    "replace_tables",
    "search",
    "store_document",
    "subject_page",
    "withdraw_document",
]

BATCH = 5000  # changes per bulk group; bounds memory whatever the package size
_R = RECORD_TABLE.c
_PG_STAGE = "pn_stage_record"
_UPDATABLE = [c for c in Upsert._fields if c not in ("kind", "key")]

_lite = sqlite_insert(RECORD_TABLE).values({c: bindparam(c) for c in Upsert._fields})
_SQLITE_UPSERT = _lite.on_conflict_do_update(
    index_elements=["kind", "key"],
    set_={c: _lite.excluded[c] for c in _UPDATABLE},
    where=_lite.excluded.version > _R.version,
)
_stage = table(_PG_STAGE, *(column(c) for c in Upsert._fields))
_pg = pg_insert(RECORD_TABLE).from_select(list(Upsert._fields), select(*_stage.c))
_PG_UPSERT = _pg.on_conflict_do_update(
    index_elements=["kind", "key"],
    set_={c: _pg.excluded[c] for c in _UPDATABLE},
    where=_pg.excluded.version > _R.version,
).returning(_R.kind, _R.key)


@dataclass
class ApplyResult:
    """What :func:`apply_changes` did, per kind (counts only, never contents)."""

    upserted: Counter[str] = field(default_factory=Counter)  # inserted, or replaced by a newer version
    unchanged: Counter[str] = field(default_factory=Counter)  # not newer than the stored version
    withdrawn: Counter[str] = field(default_factory=Counter)  # removed by a withdrawal
    expired: Counter[str] = field(default_factory=Counter)  # arrived already past publish_until
    not_held: Counter[str] = field(default_factory=Counter)  # withdrawal of a record not held (or newer)
    reasons: Counter[str] = field(default_factory=Counter)  # withdrawals that removed a record, by reason

    def counts(self) -> dict[str, int]:
        """Flat ``{"upserted.penalty": n, ...}`` for a transfer-log entry (zero counts left out)."""
        out: dict[str, int] = {}
        for name in ("upserted", "unchanged", "withdrawn", "expired", "not_held", "reasons"):
            for kind, n in sorted(getattr(self, name).items()):
                if n:
                    out[f"{name}.{kind}"] = n
        return out


def apply_changes(
    session: Session, items: Iterable[Mapping[str, Any]], *, today: date, batch: int = BATCH
) -> ApplyResult:
    """Apply verified record changes (docs/DATA.md, "What crosses the gap") in the session's open
    transaction, in bulk; the caller commits. Changes apply in order: a key seen twice starts a new
    bulk group, so a later change of a record always sees the earlier one."""
    result = ApplyResult()
    group: dict[tuple[str, str], Upsert | Removal] = {}
    for item in items:
        change = parse_change(item, today)
        ref = (change.kind, change.key)
        if ref in group or len(group) >= batch:
            _apply_group(session, list(group.values()), result)
            group = {}
        group[ref] = change
    if group:
        _apply_group(session, list(group.values()), result)
    return result


def purge_expired(session: Session, today: date) -> dict[str, int]:
    """Delete the records and documents whose ``publish_until`` is before ``today`` (housekeeping:
    the queries already hide them) and return how many per kind (``"document"`` for documents)."""
    conn = session.connection()
    counts = _delete_where(conn, _R.publish_until < today)
    d = DOCUMENT_TABLE.c
    docs = conn.execute(delete(DOCUMENT_TABLE).where(d.publish_until < today).returning(d.key)).all()
    if docs:
        counts["document"] = len(docs)
    return dict(counts)


def replace_tables(session: Session, tables: Sequence[str]) -> dict[str, int]:
    """Delete every record of ``tables`` before a snapshot's records are applied (docs/FORMAT.md §9.3)
    and return how many per kind."""
    unknown = [t for t in tables if t not in KINDS]
    if unknown:
        raise BadItem(f"snapshot: tables expected among {', '.join(KINDS)}, got {printable(unknown)}")
    conn = session.connection()
    if set(tables) == set(KINDS):
        counts = {kind: n for kind, n in conn.execute(select(_R.kind, func.count()).group_by(_R.kind))}
        conn.execute(delete(RECORD_TABLE))
        _search.clear_index(conn)
        return counts
    return dict(_delete_where(conn, _R.kind.in_(list(tables))))


def _delete_where(conn: Connection, condition: ColumnElement[bool]) -> Counter[str]:
    """Delete the records matching ``condition`` a bulk group at a time (memory stays bounded
    whatever their number), keeping their subjects' search entries in step; counts per kind."""
    counts: Counter[str] = Counter()
    while True:
        rows = conn.execute(select(_R.kind, _R.key, _R.subject_key).where(condition).limit(BATCH)).all()
        if not rows:
            return counts
        stmt = delete(RECORD_TABLE).where(_R.kind == bindparam("b_kind"), _R.key == bindparam("b_key"))
        conn.execute(stmt, [{"b_kind": r.kind, "b_key": r.key} for r in rows])
        counts.update(r.kind for r in rows)
        _search.refresh_subjects(conn, {r.subject_key for r in rows})


# --------------------------------------------------------------------------- one bulk group


def _apply_group(session: Session, changes: Sequence[Upsert | Removal], result: ApplyResult) -> None:
    conn = session.connection()
    upserts = [c for c in changes if isinstance(c, Upsert)]
    removals = [c for c in changes if isinstance(c, Removal)]
    removed_subjects = _remove(conn, removals, result) if removals else set()
    if upserts:
        written = _upsert(session, upserts)
        sources: list[Source] = []
        for up in upserts:
            if written is None or (up.kind, up.key) in written:
                result.upserted[up.kind] += 1
                sources.append(
                    Source(up.kind, up.key, up.version, up.subject_key, up.subject_name, up.subject_category, up.uscc)
                )
            else:
                result.unchanged[up.kind] += 1
        _search.index_applied(conn, sources)
    if removed_subjects:
        _search.refresh_subjects(conn, removed_subjects)


def _stored(conn: Connection, refs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str]]:
    """(version, subject_key) of the stored records among ``refs``."""
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, key in refs:
        by_kind[kind].append(key)
    out: dict[tuple[str, str], tuple[int, str]] = {}
    dialect = conn.dialect.name
    for kind, keys in by_kind.items():
        for chunk in bulk.chunks(keys, dialect):
            for key, version, subject_key in conn.execute(
                select(_R.key, _R.version, _R.subject_key).where(
                    _R.kind == kind, bulk.member_of(_R.key, chunk, dialect)
                )
            ):
                out[(kind, key)] = (version, subject_key)
    return out


def _remove(conn: Connection, removals: Sequence[Removal], result: ApplyResult) -> set[str]:
    """Delete the stored records the removals supersede; return their subjects."""
    stored = _stored(conn, [(rm.kind, rm.key) for rm in removals])
    subjects: set[str] = set()
    doomed: list[dict[str, Any]] = []
    for rm in removals:
        held = stored.get((rm.kind, rm.key))
        if rm.expired:
            result.expired[rm.kind] += 1
        if held is None or held[0] > rm.version:
            if not rm.expired:
                result.not_held[rm.kind] += 1
            continue
        subjects.add(held[1])
        doomed.append({"b_kind": rm.kind, "b_key": rm.key})
        if not rm.expired:
            result.withdrawn[rm.kind] += 1
            result.reasons[rm.reason] += 1
    if doomed:
        stmt = delete(RECORD_TABLE).where(_R.kind == bindparam("b_kind"), _R.key == bindparam("b_key"))
        conn.execute(stmt, doomed)
    return subjects


def _upsert(session: Session, upserts: Sequence[Upsert]) -> set[tuple[str, str]] | None:
    """Insert, or replace when newer; return the (kind, key) written, or None when all were."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # COPY into a temporary table, then one set-based upsert whose RETURNING names exactly the
        # rows written (executemany of an upsert, or multi-row VALUES, measured several times slower).
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {_PG_STAGE} (LIKE published_record) ON COMMIT DROP")
        conn.exec_driver_sql(f"TRUNCATE {_PG_STAGE}")
        bulk.copy_rows(conn, f"COPY {_PG_STAGE} ({', '.join(Upsert._fields)}) FROM STDIN", upserts)
        return {(kind, key) for kind, key in conn.execute(_PG_UPSERT)}
    # SQLite: one prepared upsert run over the rows. Its change count says whether every row was
    # written (the usual case); if not, the group is redone under a savepoint with the stored
    # versions read first, so that the counts and the search entries follow exactly what changed.
    # The savepoint is the connection's, not the session's: an error here ends the package's whole
    # transaction, which its owner rolls back with one ROLLBACK. A session savepoint would first be
    # rolled back to, and on SQLITE_FULL SQLite has already dropped the transaction, savepoint
    # included: "no such savepoint" would replace the cause.
    savepoint = conn.begin_nested()
    changed = bulk.execute_compiled_many(conn, _SQLITE_UPSERT, Upsert._fields, list(upserts))
    if changed == len(upserts):
        savepoint.commit()
        return None
    savepoint.rollback()
    stored = _stored(conn, [(u.kind, u.key) for u in upserts])
    newer = [u for u in upserts if (held := stored.get((u.kind, u.key))) is None or held[0] < u.version]
    if newer:
        bulk.execute_compiled_many(conn, _SQLITE_UPSERT, Upsert._fields, newer)
    return {(u.kind, u.key) for u in newer}


def store_decision(session: Session, item: Item) -> None:
    """Keep a decision on a binding request or an application (FORMAT.md §10.6); the same decision sent
    again (a resent package) changes nothing, a different one for the same id replaces it."""
    binding = item["kind"] == "binding-decision"
    values = {
        "type": "binding" if binding else item["type"],
        "decision": item["decision"],
        "subject_key": item["subject_key"] if binding else None,
        "decided": item["decided"],
        "reason": item["reason"],
    }
    row = session.get(ApplicationDecision, item["id"])
    if row is None:
        session.add(ApplicationDecision(id=item["id"], **values))
    else:
        for k, v in values.items():
            setattr(row, k, v)


def store_status(session: Session, item: Item) -> bool:
    """Keep the internal node's acknowledgement of an application (FORMAT.md §10.6, ``application-status``):
    received and due. The same one again changes nothing, a later one (a new due date) replaces it.
    True if the stored row changed."""
    received = parse_time(item["received"], "received")
    due = date.fromisoformat(item["due"])
    row = session.get(ApplicationStatus, item["id"])
    if row is None:
        session.add(ApplicationStatus(id=item["id"], type=item["type"], received=received, due=due))
        return True
    if (row.type, row.received, row.due) == (item["type"], received, due):
        return False
    row.type, row.received, row.due = item["type"], received, due
    return True
