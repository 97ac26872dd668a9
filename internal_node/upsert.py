"""Writing validated rows in batches with SQLAlchemy Core: one subject per party, records upserted on
their natural key, version and ``change_seq`` bumped only when the content really changed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, Table, bindparam, select, update

from internal_node.columns import KindSpec
from internal_node.models import RECORD_MODELS, Subject, allocate_change_seqs
from internal_node.rows import SUBJECT_FIELDS, SubjectData, ValidRow
from internal_node.validate import Problem
from nodekit.i18n import N_

# What a subject-kind row may set besides the subject's identity fields.
SUBJECT_META = ("disclosure", "record_status", "withdrawal_reason", "remarks")


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def content_digest(values: Sequence[Any]) -> str:
    """sha256 of a record's content, in a fixed field order: equal content, equal digest."""
    return hashlib.sha256(orjson.dumps(list(values), default=_plain)).hexdigest()


@dataclass
class Counts:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    held: int = 0
    subjects_inserted: int = 0
    subjects_updated: int = 0
    reactivated: int = 0
    objection_overridden: int = 0


@dataclass(frozen=True)
class Guarded:
    """What a department row may undo only deliberately: a withdrawal, or a field an upheld objection
    corrected. ``pseudonym`` finds the record's publication row; ``reactivate`` and
    ``override_objection`` are the operator's reasons when the ingest was told to undo them."""

    pseudonym: bytes
    reactivate: str | None = None
    override_objection: str | None = None


@dataclass(frozen=True)
class Undone:
    """One record an ingest reactivated or whose protected field it overrode (for the transfer log)."""

    kind: str
    key: str
    line: int
    what: str  # reactivated | objection-overridden


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


class BatchWriter:
    """Writes batches of one file's rows in the caller's transaction."""

    def __init__(
        self, conn: Connection, spec: KindSpec, *, now: datetime, counts: Counts, guarded: Guarded | None = None
    ) -> None:
        self.conn = conn
        self.guarded = guarded
        self.undone: list[Undone] = []
        self.spec = spec
        self.now = now
        self.counts = counts
        self.subjects = _table(Subject)
        self.table = None if spec.kind == "subject" else _table(RECORD_MODELS[spec.kind])
        self.content_fields = [f.name for f in spec.fields]
        # the first change number this ingest used: a record already at or past it was written by an
        # earlier row of the same file
        self.first_seq: int | None = None

    def _seqs(self, count: int) -> Iterator[int]:
        if count == 0:
            return iter(())
        first = allocate_change_seqs(self.conn, count)
        if self.first_seq is None:
            self.first_seq = first
        return iter(range(first, first + count))

    def write(self, rows: list[ValidRow]) -> list[Problem]:
        """Write one batch; return the rows refused at write time (same record twice in the file)."""
        if not rows:
            return []
        if self.table is None:
            return self._subject_rows(rows)
        ids = self._upsert_subjects(rows)
        return self._upsert_records(rows, ids)

    # --- subjects ---

    def _upsert_subjects(self, rows: list[ValidRow], *, meta: bool = False) -> dict[str, int]:
        """Insert or update the subjects the rows name; return their ids by natural key."""
        wanted: dict[str, tuple[dict[str, Any], ValidRow]] = {}
        for row in rows:
            if row.subject is None:
                continue
            merged = wanted.get(row.subject.natural_key, ({}, row))[0]
            merged.update({k: v for k, v in _subject_values(row.subject, row, meta).items() if v is not None})
            wanted[row.subject.natural_key] = (merged, row)
        if not wanted:
            return {}
        s = self.subjects
        fields = [*SUBJECT_FIELDS, *SUBJECT_META]
        existing = {
            r.natural_key: r
            for r in self.conn.execute(
                select(s.c.id, s.c.natural_key, *(s.c[f] for f in fields)).where(s.c.natural_key.in_(list(wanted)))
            )
        }
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for key, (given, row) in wanted.items():
            old = existing.get(key)
            if old is None:
                content = {f: given.get(f) for f in fields}
                content["disclosure"] = content["disclosure"] or "public"
                content["record_status"] = content["record_status"] or "normal"
                inserts.append({"natural_key": key, **content, **self._source(row)})
            else:
                content = {f: given[f] if given.get(f) is not None else old._mapping[f] for f in fields}
                if any(content[f] != old._mapping[f] for f in fields):
                    updates.append({"b_id": old.id, **content, **self._source(row)})
        seqs = self._seqs(len(inserts) + len(updates))
        for item in inserts:
            item.update(
                version=1,
                change_seq=next(seqs),
                content_digest=content_digest([item[f] for f in fields]),
                held_reason=None,
                created_at=self.now,
                updated_at=self.now,
            )
        for item in updates:
            item.update(
                change_seq=next(seqs), content_digest=content_digest([item[f] for f in fields]), updated_at=self.now
            )
        if inserts:
            insert_rows(self.conn, s, inserts)
        if updates:
            self.conn.execute(update(s).where(s.c.id == bindparam("b_id")).values(version=s.c.version + 1), updates)
        self.counts.subjects_inserted += len(inserts)
        self.counts.subjects_updated += len(updates)
        ids = {key: old.id for key, old in existing.items()}
        if inserts:
            new_keys = [i["natural_key"] for i in inserts]
            ids.update(
                {
                    r.natural_key: r.id
                    for r in self.conn.execute(select(s.c.id, s.c.natural_key).where(s.c.natural_key.in_(new_keys)))
                }
            )
        return ids

    def _source(self, row: ValidRow) -> dict[str, Any]:
        return {"source_unit": row.values["source_unit"], "source_unit_uscc": row.values.get("source_unit_uscc")}

    def _subject_rows(self, rows: list[ValidRow]) -> list[Problem]:
        """Rows of kind ``subject``: they are the subjects themselves, meta fields included."""
        before = (self.counts.subjects_inserted, self.counts.subjects_updated)
        self._upsert_subjects(rows, meta=True)
        inserted = self.counts.subjects_inserted - before[0]
        updated = self.counts.subjects_updated - before[1]
        self.counts.inserted += inserted
        self.counts.updated += updated
        self.counts.unchanged += len(rows) - inserted - updated
        return []

    # --- records ---

    def _upsert_records(self, rows: list[ValidRow], subject_ids: dict[str, int]) -> list[Problem]:
        t = self.table
        assert t is not None
        key_cols = [t.c[k] for k in self.spec.key]
        problems: list[Problem] = []
        latest: dict[tuple[Any, ...], tuple[ValidRow, str]] = {}
        for row in rows:
            digest = content_digest([*(row.values[f] for f in self.content_fields), row.held_reason])
            seen = latest.get(row.key)
            if seen is not None:
                if seen[1] != digest:
                    problems.append(_duplicate(row, self.spec, seen[0].line))
                else:
                    self.counts.unchanged += 1
                continue
            latest[row.key] = (row, digest)
        # Look up by the key's first column, which leads the unique index on every engine (a row-value
        # IN over the whole key is not always planned as an index search), then match the whole key.
        firsts = sorted({k[0] for k in latest})
        existing = {}
        stored: dict[tuple[Any, ...], Any] = {}
        extra = (t.c.record_status, t.c.withdrawal_reason, t.c.updated_at)
        for r in self.conn.execute(
            select(t.c.id, *key_cols, t.c.content_digest, t.c.change_seq, *extra).where(key_cols[0].in_(firsts))
        ):
            key = tuple(r[1 : 1 + len(key_cols)])
            if key in latest:
                existing[key] = (r[0], r.content_digest, r.change_seq)
                stored[key] = r
        if self.guarded is not None:
            changed = {k: existing[k] for k, (_, d) in latest.items() if k in existing and existing[k][1] != d}
            refused = self._guard(changed, stored, latest)
            for key, problem in refused.items():
                problems.append(problem)
                del latest[key]
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for key, (row, digest) in latest.items():
            values = {
                **row.values,
                "subject_id": subject_ids.get(row.subject.natural_key) if row.subject else None,
                "held_reason": row.held_reason,
                "content_digest": digest,
                "updated_at": self.now,
            }
            old = existing.get(key)
            if old is not None and old[1] != digest and self.first_seq is not None and old[2] >= self.first_seq:
                problems.append(_duplicate(row, self.spec, None))
                continue
            if row.held_reason:
                self.counts.held += 1
            if old is None:
                inserts.append({**values, "version": 1, "created_at": self.now})
            elif old[1] == digest:
                self.counts.unchanged += 1
            else:
                updates.append({**values, "b_id": old[0]})
        seqs = self._seqs(len(inserts) + len(updates))
        for item in (*inserts, *updates):
            item["change_seq"] = next(seqs)
        if inserts:
            insert_rows(self.conn, t, inserts)
        if updates:
            self.conn.execute(update(t).where(t.c.id == bindparam("b_id")).values(version=t.c.version + 1), updates)
        self.counts.inserted += len(inserts)
        self.counts.updated += len(updates)
        return problems

    def _guard(
        self, changed: dict[tuple[Any, ...], Any], stored: dict[tuple[Any, ...], Any], latest: dict[Any, Any]
    ) -> dict[tuple[Any, ...], Problem]:
        """The changed rows that would undo a withdrawal or an upheld objection's correction without
        the operator's say-so, each with the one-line problem that refuses it."""
        from internal_node.guarded import check_changes

        assert self.guarded is not None and self.table is not None
        refused, undone = check_changes(self.conn, self.spec, self.table, self.guarded, changed, stored, latest)
        self.undone.extend(undone)
        self.counts.reactivated += sum(u.what == "reactivated" for u in undone)
        self.counts.objection_overridden += sum(u.what == "objection-overridden" for u in undone)
        return refused


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) in the caller's transaction.

    On PostgreSQL through COPY FROM STDIN: an executemany INSERT runs one statement per row there and
    is about eight times slower. Values go through the columns' own bind processing first (UTC
    timestamps become naive UTC as they do for any other write).
    """
    names = list(rows[0])
    processors = [table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for name in names]
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(n) for n in names)
    converted = [i for i, p in enumerate(processors) if p is not None]
    if conn.dialect.name != "postgresql":
        # One prepared INSERT over plain tuples, the values through the columns' own bind processing
        # (what Core's executemany does, without its per-row parameter dictionaries).
        params = []
        for item in rows:
            values = [item[n] for n in names]
            for i in converted:
                if values[i] is not None:
                    values[i] = processors[i](values[i])  # type: ignore[misc]
            params.append(tuple(values))
        marks = ", ".join("?" for _ in names)
        conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})", params)  # noqa: S608
        return
    sql = f"COPY {quote(table.name)} ({columns}) FROM STDIN"
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for item in rows:
            values = [item[n] for n in names]
            copy.write_row([v if p is None or v is None else p(v) for v, p in zip(values, processors, strict=True)])


def _subject_values(subject: SubjectData, row: ValidRow, meta: bool) -> dict[str, Any]:
    if not meta:
        return subject.values
    return {**subject.values, **{k: row.values.get(k) for k in SUBJECT_META}}


def _duplicate(row: ValidRow, spec: KindSpec, where: int | None) -> Problem:
    key = ", ".join(f"{k}={row.values[k]}" for k in spec.key)
    if where is None:
        return Problem.say(
            row.line, spec.key[0],
            N_("the same record ({key}) is given on an earlier line of this file with different content"), key=key,
        )  # fmt: skip
    return Problem.say(
        row.line, spec.key[0],
        N_("the same record ({key}) is given on line {line} of this file with different content"), key=key, line=where,
    )  # fmt: skip
