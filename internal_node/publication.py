"""The publication: the publishable projection of the credit database, kept up to date and already
masked, checked by the leak guard and serialised, so that an export is a straight stream of prepared
items.

Every stored record has one ``publication`` row: its current outcome under the current policy
(publish / withdraw / hold / block), and, for what crosses the gap, the exact item bytes. A row's
``pub_seq`` is taken from one counter each time the item to send changes; it doubles as the item's
version, so the public side always applies a newer state over an older one. Exports to each public
node stream the rows whose ``pub_seq`` is above what that node has been sent.

:func:`refresh` brings the publication up to date: records changed since the last refresh (and the
records of a changed subject), everything when the policy's digest changed, and published rows whose
publication period ended. Ingest calls it in its own transaction; export calls it before sealing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from internal_node.models import RECORD_MODELS, Subject
from internal_node.policy import DisclosurePolicy
from internal_node.projection import Hold, KnownId, Publish, Review, Withdraw, project
from internal_node.pubmodels import PUBLICATION, PUBLICATION_META, REVIEW_HOLD, PublicationMeta
from internal_node.rows import SUBJECT_FIELDS
from keys import canonical
from nodekit.events import record_event
from transfer.items import validate as validate_item
from transfer.log import EventCode

BATCH = 2000
STATE_PUBLISH, STATE_WITHDRAW, STATE_HOLD, STATE_REVIEW = "publish", "withdraw", "hold", "review"
STATE_BLOCK = "block"  # what a version the leak guard found something in was before review holds (i0004)
# withdrawals that only a deliberate act reverses (ingest --reactivate): an upsert after one is "reversed"
REVERSIBLE = frozenset({"deleted", "expired", "removed", "repaired", "revoked", "objection-upheld"})
REVIEW_WITHDRAWN = "not-public"  # the reason a record withdrawn at review is withdrawn with
Outcome = Publish | Withdraw | Hold | Review


DOCUMENT = "document"  # the publication's table name for published documents


@dataclass(frozen=True)
class DocumentOutcome:
    """A document an operator approved for publication (``item`` set) or withdrew (``item`` None)."""

    key: str
    item: dict[str, Any] | None
    digest: str | None
    publish_until: date | None
    reason: str = ""
    table: str = DOCUMENT


@dataclass
class RefreshReport:
    """What a refresh did (counts only) and the records the leak guard blocked (no record contents)."""

    projected: int = 0
    published: int = 0
    withdrawn: int = 0
    held: int = 0
    review: list[dict[str, Any]] = field(default_factory=list)  # versions waiting for a person (no contents)
    expired: int = 0
    reversed: int = 0
    policy_changed: bool = False

    def counts(self) -> dict[str, int]:
        return {
            "projected": self.projected,
            "published": self.published,
            "withdrawn": self.withdrawn,
            "held": self.held,
            "review": len(self.review),
            "expired": self.expired,
            "reversed": self.reversed,
        }


class GuardSeal:
    """Binds each prepared item to the checks it passed: a keyed BLAKE2b over the exact item bytes,
    made when policy, masking, the leak guard and schema validation have passed. Export seals an
    item only if its bytes still carry a valid seal, so what is sealed is exactly what was checked,
    even though the checks are not repeated on every export."""

    def __init__(self, pseudonym: bytes) -> None:
        key = hashlib.sha256(b"credgap/v1 publication guard seal\x00" + pseudonym).digest()
        self._keyed = hashlib.blake2b(key=key, digest_size=16)  # copied per item: the key block once

    def mac(self, body: bytes) -> str:
        h = self._keyed.copy()
        h.update(body)
        return h.hexdigest()

    def check(self, body: bytes, mac: str | None) -> bool:
        return mac is not None and hmac.compare_digest(self.mac(body), mac)


def pseudonym_key(session: Session) -> bytes:
    """The internal node's secret for opaque record and subject keys (created once, kept in the database).

    Losing it would give every record a new key on the public side, so it lives with the data it keys.
    """
    meta = session.get(PublicationMeta, "pseudonym_key")
    if meta is None:
        # two first-ever exports may race here: whoever inserts first wins, the other reads that key
        _insert_once(session.connection(), "pseudonym_key", secrets.token_hex(32))
        meta = session.get(PublicationMeta, "pseudonym_key", populate_existing=True)
        assert meta is not None
    return bytes.fromhex(meta.value)


def _insert_once(conn: Connection, key: str, value: str) -> None:
    """Insert a ``publication_meta`` row unless one with that key exists (also against a concurrent
    writer: a row lock cannot guard a row that does not exist yet, so the conflict is what decides)."""
    t = PUBLICATION_META
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(pg_insert(t).values(key=key, value=value).on_conflict_do_nothing(index_elements=[t.c.key]))
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(sqlite_insert(t).values(key=key, value=value).on_conflict_do_nothing(index_elements=[t.c.key]))


def allocate_pub_seqs(conn: Connection, count: int) -> int:
    """Reserve ``count`` consecutive publication numbers in ``conn``'s transaction; return the first.

    The row stays locked until commit (``FOR UPDATE``; on SQLite the write transaction), so concurrent
    writers serialise and the numbers only grow."""
    t = PUBLICATION_META
    _insert_once(conn, "pub_seq", "0")  # the first allocation ever: make the row the lock below holds
    row = conn.execute(select(t.c.value).where(t.c.key == "pub_seq").with_for_update()).one()
    current = int(row[0])
    conn.execute(update(t).where(t.c.key == "pub_seq").values(value=str(current + count)))
    return current + 1


def _meta(session: Session, key: str, default: str) -> str:
    row = session.get(PublicationMeta, key)
    return default if row is None else row.value


def _set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(PublicationMeta, key)
    if row is None:
        session.add(PublicationMeta(key=key, value=value))
    else:
        row.value = value


def known_ids(conn: Connection) -> KnownId:
    """Whether the credit database holds an ID number for some subject (its own, or as a legal
    representative), by the indexes on the subject's two ID columns — never by a scan."""
    st = Subject.__table__
    cache: dict[str, bool] = {}

    def known(number: str) -> bool:
        if number not in cache:
            stmt = select(st.c.id).where(or_(st.c.id_no == number, st.c.legal_rep_id_no == number)).limit(1)
            cache[number] = conn.execute(stmt).first() is not None
        return cache[number]

    return known


def refresh(
    session: Session,
    policy: DisclosurePolicy,
    *,
    today: date,
    actor: str | None = None,
    at: Any = None,
    preview: bool = False,
) -> RefreshReport:
    """Bring the publication up to date in ``session``'s transaction (the caller commits).

    ``preview``: the caller will roll the transaction back (``export --dry-run``); every row this
    writes then carries an explicit id, so that no PostgreSQL sequence — the one thing a rollback does
    not undo — is advanced, and nothing is analysed."""
    report = RefreshReport()
    conn = session.connection()
    key = pseudonym_key(session)
    last_change = int(_meta(session, "projected_change_seq", "0"))
    last_policy = _meta(session, "policy_digest", "")
    full = last_policy != policy.digest
    report.policy_changed = full and last_policy != ""
    top = conn.execute(select(func.max(_max_change_seq()))).scalar() or 0
    last_day = _meta(session, "refreshed_on", "")
    if not full and top <= last_change and last_day == today.isoformat():
        return report

    existing = _Existing(conn, report, GuardSeal(key), today=today, at=at, preview=preview)
    # The first projection (an empty publication) has nothing to compare with: it skips the lookups.
    # On PostgreSQL they were also slow there: with no statistics for a table growing inside this one
    # transaction, each batch's lookup was seen scanning the whole table (a 1M-record first export
    # ran for many minutes); ANALYZE afterwards gives the rest of the export, and the next ones, a plan.
    first = conn.execute(select(PUBLICATION.c.id).limit(1)).first() is None
    existing.nothing_stored = first
    for outcome, record_id in _outcomes(conn, policy, today, key, None if full else last_change):
        report.projected += 1
        existing.apply(outcome, record_id)
    existing.flush()
    existing.nothing_stored = False  # what follows (expiry) works on the rows written above
    if first and conn.dialect.name == "postgresql" and not preview:
        conn.exec_driver_sql("ANALYZE publication")
    # records whose publication period ended since the last refresh (no change of their own)
    if full or last_day != today.isoformat():
        _expire(conn, existing, today, report)
    _set_meta(session, "projected_change_seq", str(max(top, last_change)))
    _set_meta(session, "policy_digest", policy.digest)
    _set_meta(session, "refreshed_on", today.isoformat())
    if report.policy_changed and at is not None and not preview:
        record_event(
            session, EventCode.POLICY_CHANGED, at=at, actor=actor,
            subject={"from": last_policy, "to": policy.digest}, counts=report.counts(),
        )  # fmt: skip
    return report


def _max_change_seq() -> Any:
    from sqlalchemy import union_all

    parts = [select(func.max(m.change_seq).label("m")) for m in (Subject, *RECORD_MODELS.values())]
    return union_all(*parts).subquery().c.m


def _outcomes(
    conn: Connection,
    policy: DisclosurePolicy,
    today: date,
    key: bytes,
    since: int | None,
    *,
    only: tuple[str, int] | None = None,
) -> Iterator[tuple[Outcome, int]]:
    """Project subjects, then every record kind, reading in batches with SQLAlchemy Core. Since
    ``since``: the subjects changed, and the records changed or whose subject changed (a record
    carries its subject's name and code). ``only``: one record, (kind, id)."""
    st = Subject.__table__
    subject_cols = _projected(st)
    cond = None if since is None else st.c.change_seq > since
    if only is not None:
        cond = st.c.id == only[1] if only[0] == "subject" else st.c.id.is_(None)
    stmt = select(*subject_cols)
    names = [c.name for c in subject_cols]
    known = known_ids(conn)
    for row in _rows(conn, stmt.where(cond) if cond is not None else stmt):
        record = dict(zip(names, row, strict=True))
        yield project("subject", record, None, policy, today=today, pseudonym_key=key, known_id=known), record["id"]
    for kind, model in RECORD_MODELS.items():
        if only is not None and only[0] != kind:
            continue
        t = model.__table__
        cols = _projected(t)
        names = [c.name for c in cols]
        at = names.index("subject_id")
        stmt = select(*cols, *(st.c[f] for f in SUBJECT_FIELDS)).select_from(t.outerjoin(st, t.c.subject_id == st.c.id))
        if since is not None:
            # the changed subjects as a subquery, not a list of ids: PostgreSQL tests a literal IN list
            # element by element for every row (10k changed subjects x 1M records took minutes); a
            # subquery becomes a hashed set on PostgreSQL and an index probe on SQLite
            changed = select(st.c.id).where(st.c.change_seq > since)
            stmt = stmt.where(or_(t.c.change_seq > since, t.c.subject_id.in_(changed)))
        if only is not None:
            stmt = stmt.where(t.c.id == only[1])
        n = len(names)
        for row in _rows(conn, stmt):
            record = dict(zip(names, row[:n], strict=True))
            subj = None if row[at] is None else dict(zip(SUBJECT_FIELDS, row[n:], strict=True))
            yield project(kind, record, subj, policy, today=today, pseudonym_key=key, known_id=known), record["id"]


# Bookkeeping the projection never reads (and whose timestamps cost a conversion per row to load).
_NOT_PROJECTED = frozenset({"created_at", "updated_at"})


def _projected(table: Any) -> list[Any]:
    return [c for c in table.c if c.name not in _NOT_PROJECTED]


def _rows(conn: Connection, stmt: Any) -> Iterator[Sequence[Any]]:
    result = conn.execute(stmt.execution_options(yield_per=BATCH))
    for part in result.partitions(BATCH):
        yield from part


class _Existing:
    """Compares outcomes with the stored publication and writes what changed, in bulk; records the
    versions held for review and applies a person's decision on them."""

    def __init__(
        self, conn: Connection, report: RefreshReport, guard: GuardSeal, *, today: date, at: Any, preview: bool
    ) -> None:
        self.conn = conn
        self.report = report
        self.guard = guard
        self.today = today
        self.at = at
        self.preview = preview
        self.pending: list[tuple[Outcome | DocumentOutcome, int | None]] = []
        self.nothing_stored = False  # set while projecting into an empty publication: no lookups
        self._next_id = 0  # preview only: explicit ids below zero, so no sequence is ever called

    def apply(self, outcome: Outcome | DocumentOutcome, record_id: int | None = None) -> None:
        self.pending.append((outcome, record_id))
        if len(self.pending) >= BATCH:
            self.flush()

    def _ids(self, rows: list[dict[str, Any]]) -> None:
        if self.preview:
            for r in rows:
                self._next_id -= 1
                r["id"] = self._next_id

    def _lookup(self, refs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str, str | None]]:
        p = PUBLICATION.c
        by_table: dict[str, list[str]] = {}
        for t, k in refs:
            by_table.setdefault(t, []).append(k)
        out: dict[tuple[str, str], tuple[str, str, str | None]] = {}
        for t, ks in by_table.items():
            stmt = select(p.key, p.state, p.reason, p.row_digest).where(p.table_name == t, p.key.in_(ks))
            for key, state, reason, digest in self.conn.execute(stmt):
                out[(t, key)] = (state, reason, digest)
        return out

    def _holds(self, refs: list[tuple[str, str]]) -> dict[tuple[str, str], list[Any]]:
        """The review holds of the batch's records (a small table, read by its unique index)."""
        h = REVIEW_HOLD.c
        by_table: dict[str, list[str]] = {}
        for t, k in refs:
            by_table.setdefault(t, []).append(k)
        out: dict[tuple[str, str], list[Any]] = {}
        for t, ks in by_table.items():
            stmt = select(h.id, h.table_name, h.key, h.version, h.state, h.row_digest).where(
                h.table_name == t, h.key.in_(ks)
            )
            for row in self.conn.execute(stmt):
                out.setdefault((row.table_name, row.key), []).append(row)
        return out

    def _decide(self, batch: list[tuple[Outcome | DocumentOutcome, int | None]]) -> list[Outcome | DocumentOutcome]:
        """Each outcome after the review holds: a version held for review is recorded once and stays
        held until a person decides; a decision turns it into what was decided; a newer outcome of
        the record makes the older holds moot (a later version is checked afresh)."""
        refs = [(o.table, o.key) for o, _ in batch if not isinstance(o, DocumentOutcome)]
        holds = self._holds(refs) if refs else {}
        superseded: list[int] = []
        new_holds: list[dict[str, Any]] = []
        out: list[Outcome | DocumentOutcome] = []
        for outcome, record_id in batch:
            if isinstance(outcome, DocumentOutcome):
                out.append(outcome)
                continue
            rows = holds.get((outcome.table, outcome.key), [])
            reviewing = isinstance(outcome, Review)
            for r in rows:
                if r.state == "held" and (r.version < outcome.version or not reviewing):
                    superseded.append(r.id)
            if not reviewing:
                out.append(outcome)
                continue
            assert isinstance(outcome, Review)
            digest = row_digest(outcome.row)
            mine = next((r for r in rows if r.version == outcome.version), None)
            if mine is not None and mine.state == "published" and mine.row_digest == digest:
                out.append(Publish(outcome.table, outcome.key, outcome.version, outcome.row))
                continue
            if mine is not None and mine.state == "withdrawn":
                out.append(Withdraw(outcome.table, outcome.key, outcome.version, REVIEW_WITHDRAWN))
                continue
            if mine is None or mine.state == "superseded" or (mine.state == "published" and mine.row_digest != digest):
                if mine is not None:
                    self.conn.execute(delete(REVIEW_HOLD).where(REVIEW_HOLD.c.id == mine.id))
                new_holds.append(_hold_row(outcome, record_id or 0, digest, self.at))
            self.report.review.append(
                {"table": outcome.table, "key": outcome.key, "version": outcome.version,
                 "decided": mine is not None and mine.state == "kept",
                 "findings": [str(f) for f in outcome.findings]}
            )  # fmt: skip
            out.append(outcome)
        if superseded:
            self.conn.execute(update(REVIEW_HOLD).where(REVIEW_HOLD.c.id.in_(superseded)).values(state="superseded"))
        if new_holds:
            self._ids(new_holds)
            self.conn.execute(insert(REVIEW_HOLD), new_holds)
        return out

    def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        batch = self._decide(pending)
        known = {} if self.nothing_stored else self._lookup([(o.table, o.key) for o in batch])
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for outcome in batch:
            ref = (outcome.table, outcome.key)
            change = _change(outcome, known.get(ref), self.report, self.today)
            if change is None:
                continue
            (updates if ref in known else inserts).append(change)
            known[ref] = (change["state"], change["reason"], change.get("row_digest"))
        sendable = [c for c in inserts + updates if c.get("item") is not None]
        if sendable:
            first = allocate_pub_seqs(self.conn, len(sendable))
            for n, c in enumerate(sendable):
                item = {**c["item"], "version": first + n}
                validate_item(item)  # what crosses the gap is checked against its schema here, once
                body = canonical.encode(item)
                c["pub_seq"] = first + n
                c["item"] = body.decode()
                c["guard_mac"] = self.guard.mac(body)
        if inserts:
            rows = [{**_EMPTY, **c} for c in inserts]
            self._ids(rows)
            if self.conn.dialect.name == "postgresql":
                _copy_in(self.conn, rows)
            else:
                self.conn.execute(insert(PUBLICATION), rows)
        # one executemany per set of changed columns (a statement per row compiled and cached a
        # statement per row: 1,000 changed records cost a second of SQLAlchemy's compile path)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for c in updates:
            groups.setdefault(tuple(sorted(k for k in c if k not in ("table_name", "key"))), []).append(c)
        p = PUBLICATION.c
        for cols, rows in groups.items():
            stmt = (
                update(PUBLICATION)
                .where(and_(p.table_name == bindparam("w_table"), p.key == bindparam("w_key")))
                .values({k: bindparam(f"v_{k}") for k in cols})
            )
            params = [{"w_table": c["table_name"], "w_key": c["key"], **{f"v_{k}": c[k] for k in cols}} for c in rows]
            self.conn.execute(stmt, params)


def row_digest(row: dict[str, Any]) -> str:
    """SHA-256 of a row's canonical encoding: what a publication row and a review decision bind to."""
    return hashlib.sha256(canonical.encode(row)).hexdigest()


def _hold_row(outcome: Review, record_id: int, digest: str, at: Any) -> dict[str, Any]:
    findings = [
        {"field": f.field, "rule": f.rule, "description": f.description, "match": f.match, "context": f.context}
        for f in outcome.findings
    ]
    doc_no = outcome.row.get("doc_no")
    return {
        "table_name": outcome.table, "key": outcome.key, "record_id": record_id, "version": outcome.version,
        "doc_no": doc_no if isinstance(doc_no, str) else None, "row_digest": digest,
        "rules": ",".join(sorted({f.rule for f in outcome.findings}))[:200],
        "findings": orjson.dumps(findings).decode(), "state": "held",
        "held_at": at if at is not None else datetime.now(UTC),
    }  # fmt: skip


_COPY_COLUMNS = (
    "table_name", "key", "state", "reason", "pub_seq", "item", "row_digest", "publish_until", "guard_mac", "change",
    "withdrawn_on",
)  # fmt: skip


def _copy_in(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """New publication rows on PostgreSQL through ``COPY … FROM STDIN`` on the session's own
    connection (same transaction): an INSERT per row, even pipelined, kept the server busy for
    longer than the whole projection on the client (first export after a load, 100k records: 45 s
    of wall clock for 20 s of client CPU)."""
    columns = (*_COPY_COLUMNS, "id") if "id" in rows[0] else _COPY_COLUMNS
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY publication ({', '.join(columns)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([r[c] for c in columns])
    finally:
        cursor.close()


_EMPTY: dict[str, Any] = {
    "pub_seq": None, "item": None, "row_digest": None, "publish_until": None, "guard_mac": None, "change": None,
    "withdrawn_on": None,
}  # fmt: skip


def _change(
    outcome: Outcome | DocumentOutcome,
    old: tuple[str, str, str | None] | None,
    rep: RefreshReport,
    today: date,
) -> dict[str, Any] | None:
    """The publication row for ``outcome`` given the stored one, or None when nothing changes. A row with
    an ``item`` is something to send: it gets a new ``pub_seq``."""
    base: dict[str, Any] = {"table_name": outcome.table, "key": outcome.key}
    published = old is not None and old[0] == STATE_PUBLISH
    if published:
        kind = "changed"
    elif old is not None and old[0] == STATE_WITHDRAW and old[1] in REVERSIBLE:
        kind = "reversed"
    else:
        kind = "new"
    if isinstance(outcome, DocumentOutcome):
        if outcome.item is None:
            outcome = Withdraw(DOCUMENT, outcome.key, 1, outcome.reason)
        else:
            if published and old is not None and old[2] == outcome.digest:
                return None
            rep.published += 1
            rep.reversed += kind == "reversed"
            return {**base, "state": STATE_PUBLISH, "reason": "", "row_digest": outcome.digest,
                    "item": outcome.item, "publish_until": outcome.publish_until, "change": kind}  # fmt: skip
    if isinstance(outcome, Publish):
        digest = row_digest(outcome.row)
        if published and old is not None and old[2] == digest:
            return None
        rep.published += 1
        rep.reversed += kind == "reversed"
        until = outcome.row.get("publish_until")
        upsert = {"kind": "record", "op": "upsert", "table": outcome.table, "key": outcome.key, "row": outcome.row}
        return {**base, "state": STATE_PUBLISH, "reason": "", "row_digest": digest, "item": upsert, "change": kind,
                "publish_until": date.fromisoformat(until) if isinstance(until, str) else None}  # fmt: skip
    if isinstance(outcome, Review):
        if published or (old is not None and old[0] == STATE_REVIEW):
            return None  # the version published before stays as it was: nothing new is sealed for this record
        return {**base, "state": STATE_REVIEW, "reason": "review"}
    state = STATE_WITHDRAW if isinstance(outcome, Withdraw) else STATE_HOLD
    if state == STATE_HOLD:
        rep.held += 1
    if published:
        rep.withdrawn += 1
        if outcome.table == DOCUMENT:
            item: dict[str, Any] = {"kind": "document", "op": "withdraw", "key": outcome.key, "reason": outcome.reason}
        else:
            item = {
                "kind": "record",
                "op": "withdraw",
                "table": outcome.table,
                "key": outcome.key,
                "reason": outcome.reason,
            }
        return {
            **base,
            "state": state,
            "reason": outcome.reason,
            "row_digest": None,
            "item": item,
            "publish_until": None,
            "change": "withdrawn",
            "withdrawn_on": today,
        }
    if old is not None and (old[0], old[1]) == (state, outcome.reason):
        return None
    return {**base, "state": state, "reason": outcome.reason}


def publish_items(session: Session, outcomes: list[DocumentOutcome], *, today: date) -> RefreshReport:
    """Put operator-approved documents (or their withdrawal) into the publication."""
    report = RefreshReport()
    existing = _Existing(
        session.connection(), report, GuardSeal(pseudonym_key(session)), today=today, at=None, preview=False
    )
    for o in outcomes:
        existing.apply(o)
    existing.flush()
    return report


def reproject(
    session: Session, policy: DisclosurePolicy, *, table: str, record_id: int, today: date, at: Any
) -> RefreshReport:
    """Project one record again and bring its publication row up to date (after a review decision)."""
    report = RefreshReport()
    conn = session.connection()
    key = pseudonym_key(session)
    existing = _Existing(conn, report, GuardSeal(key), today=today, at=at, preview=False)
    for outcome, rid in _outcomes(conn, policy, today, key, None, only=(table, record_id)):
        existing.apply(outcome, rid)
    existing.flush()
    return report


def _expire(conn: Connection, existing: _Existing, today: date, report: RefreshReport) -> None:
    p = PUBLICATION.c
    rows = conn.execute(
        select(p.table_name, p.key)
        .where(p.state == STATE_PUBLISH, p.publish_until.is_not(None), p.publish_until < today)
        .order_by(p.pub_seq)
    ).all()
    for t, k in rows:
        report.expired += 1
        existing.apply(Withdraw(t, k, 1, "expired"))
    existing.flush()
