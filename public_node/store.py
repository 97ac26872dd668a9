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

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, column, delete, func, select, table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from nodekit.text import printable
from public_node import search as _search
from public_node.documents import documents_of_subject, get_document, store_document, withdraw_document
from public_node.errors import BadItem
from public_node.models import DOCUMENT_TABLE, KEY_LENGTH, RECORD_TABLE
from public_node.queries import find_by_doc_no, find_by_uscc, get_record, list_page, record_counts, subject_page
from public_node.search import Source, normalise, normalise_code, search
from public_node.views import KINDS, LIST_TYPES

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

BATCH = 5000  # changes per bulk statement group; bounds memory whatever the package size
RECORD_DATE_FIELD = {
    "licence": "decision_date",
    "penalty": "decision_date",
    "list_entry": "listed_date",
    "commitment": "commitment_date",
    "gov_credit": "occurred_date",
}
_KEY = re.compile(r"[0-9a-f]{32}")
_COLUMNS = tuple(c.name for c in RECORD_TABLE.columns)
_PG_STAGE = "pn_stage_record"


@dataclass
class ApplyResult:
    """What a call of :func:`apply_changes` did, per kind (counts only, never contents)."""

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


@dataclass(frozen=True, slots=True)
class _Upsert:
    values: dict[str, Any]  # the published_record columns

    @property
    def kind(self) -> str:
        return str(self.values["kind"])

    @property
    def key(self) -> str:
        return str(self.values["key"])


@dataclass(frozen=True, slots=True)
class _Removal:
    kind: str
    key: str
    version: int
    reason: str
    expired: bool  # an upsert that arrived past its publish_until, not a withdrawal


def apply_changes(
    session: Session, items: Iterable[Mapping[str, Any]], *, today: date, batch: int = BATCH
) -> ApplyResult:
    """Apply verified record changes (``docs/DATA.md``, "What crosses the gap") in the session's open
    transaction, in bulk; the caller commits. Changes apply in order: a key seen twice starts a new
    bulk group, so a later change of the same record always sees the earlier one."""
    conn = session.connection()
    result = ApplyResult()
    group: dict[tuple[str, str], _Upsert | _Removal] = {}
    for item in items:
        change = _parse(item, today)
        ref = (change.kind, change.key)
        if ref in group or len(group) >= batch:
            _apply_group(conn, list(group.values()), result)
            group = {}
        group[ref] = change
    if group:
        _apply_group(conn, list(group.values()), result)
    return result


def purge_expired(session: Session, today: date) -> dict[str, int]:
    """Delete the records and documents whose ``publish_until`` is before ``today`` (housekeeping:
    the queries already hide them) and return how many per kind (``"document"`` for documents)."""
    conn = session.connection()
    r = RECORD_TABLE.c
    rows = conn.execute(delete(RECORD_TABLE).where(r.publish_until < today).returning(r.kind, r.subject_key)).all()
    counts = Counter(row.kind for row in rows)
    _search.refresh_subjects(conn, {row.subject_key for row in rows})
    d = DOCUMENT_TABLE.c
    docs = conn.execute(delete(DOCUMENT_TABLE).where(d.publish_until < today)).rowcount
    if docs:
        counts["document"] = docs
    return dict(counts)


def replace_tables(session: Session, tables: Sequence[str]) -> dict[str, int]:
    """Delete every record of ``tables`` before a snapshot's records are applied (docs/FORMAT.md §9.3)
    and return how many per kind."""
    unknown = [t for t in tables if t not in KINDS]
    if unknown:
        raise BadItem(f"snapshot: tables expected among {', '.join(KINDS)}, got {printable(unknown)}")
    conn = session.connection()
    r = RECORD_TABLE.c
    if set(tables) == set(KINDS):
        counts = Counter(
            {row.kind: row.n for row in conn.execute(select(r.kind, func.count().label("n")).group_by(r.kind))}
        )
        conn.execute(delete(RECORD_TABLE))
        _search.clear_index(conn)
        return dict(counts)
    rows = conn.execute(delete(RECORD_TABLE).where(r.kind.in_(list(tables))).returning(r.kind, r.subject_key)).all()
    _search.refresh_subjects(conn, {row.subject_key for row in rows})
    return dict(Counter(row.kind for row in rows))


# --------------------------------------------------------------------------- one bulk group


def _apply_group(conn: Connection, changes: Sequence[_Upsert | _Removal], result: ApplyResult) -> None:
    upserts = [c for c in changes if isinstance(c, _Upsert)]
    removals = [c for c in changes if isinstance(c, _Removal)]
    removed_subjects = _remove(conn, removals, result) if removals else set()
    if upserts:
        applied = _upsert(conn, upserts)
        sources: list[Source] = []
        for up in upserts:
            if (up.kind, up.key) in applied:
                result.upserted[up.kind] += 1
                v = up.values
                sources.append(
                    Source(
                        v["kind"],
                        v["key"],
                        v["version"],
                        v["subject_key"],
                        v["subject_name"],
                        v["subject_category"],
                        v["uscc"],
                    )
                )
            else:
                result.unchanged[up.kind] += 1
        _search.index_applied(conn, sources)
    if removed_subjects:
        _search.refresh_subjects(conn, removed_subjects)


def _remove(conn: Connection, removals: Sequence[_Removal], result: ApplyResult) -> set[str]:
    """Delete the stored records the removals supersede; return their subjects."""
    r = RECORD_TABLE.c
    by_kind: dict[str, list[_Removal]] = defaultdict(list)
    for rm in removals:
        by_kind[rm.kind].append(rm)
    subjects: set[str] = set()
    doomed: list[dict[str, Any]] = []
    for kind, group in by_kind.items():
        for i in range(0, len(group), _search.CHUNK):
            chunk = group[i : i + _search.CHUNK]
            stored = {
                row.key: (row.version, row.subject_key)
                for row in conn.execute(
                    select(r.key, r.version, r.subject_key).where(r.kind == kind, r.key.in_([c.key for c in chunk]))
                )
            }
            for rm in chunk:
                held = stored.get(rm.key)
                if held is None or held[0] > rm.version:
                    if not rm.expired:
                        result.not_held[kind] += 1
                    else:
                        result.expired[kind] += 1
                    continue
                subjects.add(held[1])
                doomed.append({"b_kind": kind, "b_key": rm.key})
                if rm.expired:
                    result.expired[kind] += 1
                else:
                    result.withdrawn[kind] += 1
                    result.reasons[rm.reason] += 1
    if doomed:
        stmt = delete(RECORD_TABLE).where(r.kind == bindparam("b_kind"), r.key == bindparam("b_key"))
        conn.execute(stmt, doomed)
    return subjects


def _upsert(conn: Connection, upserts: Sequence[_Upsert]) -> set[tuple[str, str]]:
    """Insert or replace-if-newer; return the (kind, key) of the rows actually written."""
    rows = [u.values for u in upserts]
    updatable = [c for c in _COLUMNS if c not in ("kind", "key")]
    if conn.dialect.name == "postgresql":
        # COPY into a temporary table, then one set-based upsert: psycopg's executemany of an
        # upsert, and multi-row VALUES with RETURNING, are several times slower.
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {_PG_STAGE} (LIKE published_record) ON COMMIT DROP")
        conn.exec_driver_sql(f"TRUNCATE {_PG_STAGE}")
        raw: Any = conn.connection.dbapi_connection
        with raw.cursor() as cur, cur.copy(f"COPY {_PG_STAGE} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in _COLUMNS))
        stage = table(_PG_STAGE, *(column(c) for c in _COLUMNS))
        pg = pg_insert(RECORD_TABLE).from_select(list(_COLUMNS), select(*stage.c))
        pg = pg.on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={c: pg.excluded[c] for c in updatable},
            where=pg.excluded.version > RECORD_TABLE.c.version,
        )
        written = conn.execute(pg.returning(RECORD_TABLE.c.kind, RECORD_TABLE.c.key))
        return {(k, key) for k, key in written}
    lite = sqlite_insert(RECORD_TABLE)
    lite = lite.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={c: lite.excluded[c] for c in updatable},
        where=lite.excluded.version > RECORD_TABLE.c.version,
    )
    # Executed with many parameter sets, RETURNING makes SQLAlchemy batch rows into multi-row
    # VALUES ("insertmanyvalues"), which is also the fastest form measured on SQLite.
    written = conn.execute(lite.returning(RECORD_TABLE.c.kind, RECORD_TABLE.c.key), rows)
    return {(k, key) for k, key in written}


# --------------------------------------------------------------------------- parsing one item


def _parse(item: Mapping[str, Any], today: date) -> _Upsert | _Removal:
    kind = item.get("table")
    if kind not in KINDS:
        raise BadItem(f"record item: table expected one of {', '.join(KINDS)}, got {printable(kind)}")
    key = item.get("key")
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise BadItem(f"{kind} record: key expected {KEY_LENGTH} lowercase hex digits, got {printable(key)}")
    where = f"{kind} record {key}"
    version = item.get("version")
    if type(version) is not int or not 1 <= version < 2**63:
        raise BadItem(f"{where}: version expected an integer from 1 to 2^63-1, got {printable(version)}")
    op = item.get("op")
    if op == "withdraw":
        reason = item.get("reason")
        if not isinstance(reason, str) or not 0 < len(reason) <= 64:
            raise BadItem(f"{where}: withdrawal reason expected a short string, got {printable(reason)}")
        return _Removal(kind, key, version, reason, expired=False)
    if op != "upsert":
        raise BadItem(f"{where}: op expected 'upsert' or 'withdraw', got {printable(op)}")
    row = item.get("row")
    if not isinstance(row, Mapping):
        raise BadItem(f"{where}: row expected an object, got {type(row).__name__}")
    subject_key = row.get("subject_key")
    if not isinstance(subject_key, str) or not _KEY.fullmatch(subject_key):
        raise BadItem(f"{where}: subject_key expected {KEY_LENGTH} lowercase hex digits, got {printable(subject_key)}")
    name = _text(row, "subject_name", where, fallback="name")
    category = _text(row, "subject_category", where, fallback="category", limit=32)
    publish_until = _date(row, "publish_until", where)
    if publish_until is not None and publish_until < today:
        return _Removal(kind, key, version, "expired", expired=True)
    uscc = _optional_text(row, "uscc", where, limit=64)
    doc_no = _optional_text(row, "doc_no", where)
    list_type = None
    if kind == "list_entry":
        list_type = row.get("list_type")
        if list_type not in LIST_TYPES:
            raise BadItem(f"{where}: list_type expected one of {', '.join(LIST_TYPES)}, got {printable(list_type)}")
    try:
        row_json = orjson.dumps(dict(row), option=orjson.OPT_SORT_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise BadItem(f"{where}: row is not a flat JSON object: {exc}") from exc
    date_field = RECORD_DATE_FIELD.get(kind)
    values = {
        "kind": kind,
        "key": key,
        "version": version,
        "subject_key": subject_key,
        "subject_name": name,
        "subject_category": category,
        "uscc": normalise_code(uscc),
        "doc_no": doc_no,
        "doc_key": (normalise(doc_no) or None) if doc_no else None,
        "publish_until": publish_until,
        "list_type": list_type,
        "record_date": _lenient_date(row.get(date_field)) if date_field else None,
        "row": row_json,
    }
    return _Upsert(values)


def _text(row: Mapping[str, Any], name: str, where: str, *, fallback: str, limit: int = 0) -> str:
    value = row.get(name)
    if value is None:
        value = row.get(fallback)
    if not isinstance(value, str) or not value or (limit and len(value) > limit):
        bound = f" of at most {limit} characters" if limit else ""
        raise BadItem(f"{where}: {name} expected a non-empty string{bound}, got {printable(value)}")
    return value


def _optional_text(row: Mapping[str, Any], name: str, where: str, *, limit: int = 0) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or (limit and len(value) > limit):
        bound = f" of at most {limit} characters" if limit else ""
        raise BadItem(f"{where}: {name} expected a string{bound} or null, got {printable(value)}")
    return value


def _date(row: Mapping[str, Any], name: str, where: str) -> date | None:
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise BadItem(f"{where}: {name} expected a date YYYY-MM-DD or null, got {printable(value)}")


def _lenient_date(value: Any) -> date | None:
    """A kind's own date orders pages only: a value that is not a date orders as unknown."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
