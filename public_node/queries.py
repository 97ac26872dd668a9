"""Lookups in the published database: a record, subjects by credit code, records by document
number, a subject's page, the red and black list pages, the government-credit pages, record counts
and the data's freshness. Every query takes ``today`` and never returns a record past its
``publish_until`` (fail-safe expiry). The ``*_page`` queries paginate by keyset (``views.Keyset``)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Date, Integer, String, and_, bindparam, exists, func, or_, select, tuple_

from nodekit.models import ChannelPackageRow, ChannelRow
from public_node.errors import BadQuery
from public_node.models import RECORD_TABLE, SEARCH_TABLE
from public_node.search import normalise, normalise_code
from public_node.views import (
    KINDS,
    LIST_TYPES,
    RECORD_KINDS,
    Department,
    Freshness,
    Keyset,
    Page,
    Reader,
    RecordView,
    SubjectPage,
    SubjectSummary,
    check_page,
    dialect_name,
    record_is_live,
)

_R = RECORD_TABLE.c
_S = SEARCH_TABLE.c
_RECORD_COLUMNS = (
    _R.kind,
    _R.key,
    _R.version,
    _R.subject_key,
    _R.subject_name,
    _R.subject_category,
    _R.uscc,
    _R.doc_no,
    _R.publish_until,
    _R.row,
)
_NEWEST_FIRST = (_R.record_date.desc().nulls_last(), _R.key)

# The statements every subject page, lookup and API call runs, built once per process with named
# parameters: SQLAlchemy then reuses their compiled form and cache key instead of constructing a new
# statement per request (construction and cache-key generation cost several times the query itself
# on SQLite; docs/PERFORMANCE.md, the public platform).
_TODAY = bindparam("today", type_=Date)
_LIVE = or_(_R.publish_until.is_(None), _R.publish_until >= _TODAY)
_KEY_IS_LIVE = select(_R.subject_key).where(_R.subject_key == bindparam("subject_key", type_=String), _LIVE).limit(1)
_SUBJECTS_BY_CODE = (
    select(_S.subject_key, _S.name, _S.category, _S.uscc)
    .where(_S.uscc == bindparam("code", type_=String), exists().where(_R.subject_key == _S.subject_key, _LIVE))
    .order_by(_S.subject_key)
)
_SUBJECT_RECORDS = (
    select(*_RECORD_COLUMNS)
    .where(_R.subject_key == bindparam("subject_key", type_=String), _LIVE)
    .order_by(_R.kind, *_NEWEST_FIRST)
)
_GOV = "gov_credit"  # a department's own records: thousands for a city's bureau
_SUBJECT_RECORDS_BUT_GOV = (
    select(*_RECORD_COLUMNS)
    .where(_R.subject_key == bindparam("subject_key", type_=String), _LIVE, _R.kind != _GOV)
    .order_by(_R.kind, *_NEWEST_FIRST)
)
_SUBJECT_GOV_NEWEST = (
    select(*_RECORD_COLUMNS)
    .where(_R.subject_key == bindparam("subject_key", type_=String), _LIVE, _R.kind == _GOV)
    .order_by(*_NEWEST_FIRST)
    .limit(bindparam("gov_limit", type_=Integer))
)
_SUBJECT_GOV_COUNT = (
    select(func.count())
    .select_from(RECORD_TABLE)
    .where(_R.subject_key == bindparam("subject_key", type_=String), _LIVE, _R.kind == _GOV)
)
_SUBJECT_ENTRY = select(_S.name, _S.category, _S.uscc).where(_S.subject_key == bindparam("subject_key", type_=String))
_BY_DOC_KEY = (
    select(*_RECORD_COLUMNS).where(_R.doc_key == bindparam("doc_key", type_=String), _LIVE).order_by(_R.kind, _R.key)
)


def _view(row: Any) -> RecordView:
    return RecordView(
        kind=row.kind,
        key=row.key,
        version=row.version,
        subject_key=row.subject_key,
        subject_name=row.subject_name,
        subject_category=row.subject_category,
        uscc=row.uscc,
        doc_no=row.doc_no,
        publish_until=row.publish_until,
        row=orjson.loads(row.row),
    )


def _subject_is_live(today: date) -> Any:
    return exists().where(_R.subject_key == _S.subject_key, record_is_live(today))


def get_record(session: Reader, kind: str, key: str, *, today: date) -> RecordView | None:
    """One published record by kind and key, or None (unknown, withdrawn or expired)."""
    row = session.execute(select(*_RECORD_COLUMNS).where(_R.kind == kind, _R.key == key, record_is_live(today))).first()
    return None if row is None else _view(row)


def find_by_uscc(session: Reader, uscc: str, *, today: date) -> list[SubjectSummary]:
    """The subjects with this unified social credit code (compared in NFKC upper case)."""
    code = normalise_code(uscc)
    if code is None:
        return []
    rows = session.execute(_SUBJECTS_BY_CODE, {"code": code, "today": today})
    return [SubjectSummary(*r) for r in rows]


def find_by_doc_no(session: Reader, doc_no: str, *, today: date) -> list[RecordView]:
    """The records with this document number; brackets, spaces, width and case do not matter
    (昆市监罚〔2024〕12号 = 昆市监罚[2024]12号 = 昆市监罚(2024)12号)."""
    doc_key = normalise(doc_no)
    if not doc_key:
        return []
    rows = session.execute(_BY_DOC_KEY, {"doc_key": doc_key, "today": today})
    return [_view(r) for r in rows]


def subject_summary(session: Reader, subject_key: str, *, today: date) -> SubjectSummary | None:
    """A subject's name, category and credit code, without its records; None if nothing about it is
    published on ``today`` (a department's page heading: its records can be thousands)."""
    if session.execute(_KEY_IS_LIVE, {"subject_key": subject_key, "today": today}).first() is None:
        return None
    entry = session.execute(_SUBJECT_ENTRY, {"subject_key": subject_key}).first()
    if entry is not None:
        return SubjectSummary(subject_key, entry.name, entry.category, entry.uscc)
    page = subject_page(session, subject_key, today=today)  # not reachable while the index is in step
    return None if page is None else page.subject


def subject_page(session: Reader, subject_key: str, *, today: date, gov_limit: int | None = None) -> SubjectPage | None:
    """A subject with its current licences, penalties, list entries, commitments and government-credit
    records; None if nothing about it is published on ``today``. With ``gov_limit``, only the newest
    that many government-credit records, and their number in ``more`` when there are more (a
    department's page: the rest are on its keyset-paginated government-credit page)."""
    params = {"subject_key": subject_key, "today": today}
    more: dict[str, int] = {}
    if gov_limit is None:
        rows = session.execute(_SUBJECT_RECORDS, params).all()
    else:
        gov = session.execute(_SUBJECT_GOV_NEWEST, {**params, "gov_limit": gov_limit + 1}).all()
        if len(gov) > gov_limit:
            more[_GOV] = int(session.execute(_SUBJECT_GOV_COUNT, params).scalar_one())
            gov = gov[:gov_limit]
        rows = [*session.execute(_SUBJECT_RECORDS_BUT_GOV, params).all(), *gov]
    if not rows:
        return None
    entry = session.execute(_SUBJECT_ENTRY, {"subject_key": subject_key}).first()
    views = [_view(r) for r in rows]
    profile = next((v for v in views if v.kind == "subject"), None)
    if entry is not None:
        summary = SubjectSummary(subject_key, entry.name, entry.category, entry.uscc)
    else:  # not reachable while the search entries are kept in step; degrade rather than fail
        first = profile or views[0]
        summary = SubjectSummary(subject_key, first.subject_name, first.subject_category, first.uscc)
    records: dict[str, list[RecordView]] = defaultdict(list)
    for v in views:
        if v.kind != "subject":
            records[v.kind].append(v)
    return SubjectPage(
        subject=summary, profile=profile, records={k: records[k] for k in RECORD_KINDS if k in records}, more=more
    )


def list_page(session: Reader, list_type: str, *, today: date, limit: int = 20, offset: int = 0) -> Page[RecordView]:
    """A page of the red list (``red``) or the serious-dishonesty list (``dishonest``), newest first."""
    if list_type not in LIST_TYPES:
        raise BadQuery(f"list type: expected one of {', '.join(LIST_TYPES)}, got {list_type!r}")
    check_page(limit, offset)
    where = (_R.kind == "list_entry", _R.list_type == list_type, record_is_live(today))
    total = session.execute(select(func.count()).select_from(RECORD_TABLE).where(*where)).scalar_one()
    rows = session.execute(select(*_RECORD_COLUMNS).where(*where).order_by(*_NEWEST_FIRST).limit(limit).offset(offset))
    return Page(items=[_view(r) for r in rows], total=int(total), limit=limit, offset=offset)


def record_counts(session: Reader, *, today: date) -> dict[str, int]:
    """Published records per kind that are shown on ``today`` (for ``public-node status``)."""
    rows = session.execute(select(_R.kind, func.count()).where(record_is_live(today)).group_by(_R.kind))
    counts = dict.fromkeys(KINDS, 0)
    counts.update({kind: int(n) for kind, n in rows})
    return counts


# --------------------------------------------------------------------------- keyset pages


def _date_after(after: Any) -> tuple[date | None, str]:
    """A (record date or None, record key) position, as handed back by a caller."""
    if not isinstance(after, list | tuple) or len(after) != 2 or not isinstance(after[1], str):
        raise BadQuery("page: the position to continue from is malformed")
    raw = after[0]
    if raw is None:
        return None, after[1]
    try:
        return date.fromisoformat(str(raw)), after[1]
    except ValueError as exc:
        raise BadQuery("page: the position to continue from is malformed") from exc


def _newest_first_after(after: Any) -> ColumnElement[bool]:
    """Records after a position in newest-first order (dated records by date descending, then the
    undated ones; ties by key), written so that each branch can use the (kind, list_type,
    record_date) index."""
    when, key = _date_after(after)
    k = bindparam("after_key", key, type_=String)
    if when is None:
        return and_(_R.record_date.is_(None), _R.key > k)
    d = bindparam("after_date", when, type_=Date)
    return or_(_R.record_date < d, and_(_R.record_date == d, _R.key > k), _R.record_date.is_(None))


def _records_page(session: Reader, where: tuple[Any, ...], limit: int, after: Any) -> Keyset[RecordView]:
    check_page(limit, 0)
    cond = where if after is None else (*where, _newest_first_after(after))
    rows = session.execute(
        select(*_RECORD_COLUMNS, _R.record_date).where(*cond).order_by(*_NEWEST_FIRST).limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    total = None
    if after is None:
        total = (
            len(rows)
            if not more
            else int(session.execute(select(func.count()).select_from(RECORD_TABLE).where(*where)).scalar_one())
        )
    last = rows[-1] if more and rows else None
    nxt = None if last is None else (last.record_date.isoformat() if last.record_date else None, last.key)
    return Keyset(items=[_view(r) for r in rows], after=nxt, total=total)


def list_keyset(
    session: Reader, list_type: str, *, today: date, limit: int = 20, after: Any = None
) -> Keyset[RecordView]:
    """A page of the red list or the serious-dishonesty list, newest first, by keyset (``after`` is
    the previous page's ``Keyset.after``)."""
    if list_type not in LIST_TYPES:
        raise BadQuery(f"list type: expected one of {', '.join(LIST_TYPES)}, got {list_type!r}")
    where = (_R.kind == "list_entry", _R.list_type == list_type, record_is_live(today))
    return _records_page(session, where, limit, after)


def gov_records(
    session: Reader, subject_key: str, *, today: date, limit: int = 20, after: Any = None
) -> Keyset[RecordView]:
    """A department's government-credit records (政务诚信), newest first, by keyset."""
    where = (_R.kind == "gov_credit", _R.subject_key == subject_key, record_is_live(today))
    return _records_page(session, where, limit, after)


def gov_departments(session: Reader, *, today: date, limit: int = 50, after: Any = None) -> Keyset[Department]:
    """The departments with government-credit records published on ``today``, by name, by keyset
    (``after`` is (normalised name, subject key) of the previous page's last department)."""
    check_page(limit, 0)
    # driven from the government-credit records (a range of the primary key), not from every subject:
    # departments are a few dozen among hundreds of thousands of subjects, and an EXISTS per subject in
    # name order read them all (4 s at 1M records) before finding the page
    with_records = select(_R.subject_key).where(_R.kind == "gov_credit", record_is_live(today))
    dialect = dialect_name(session)
    name_key = _S.name_norm.collate("C") if dialect == "postgresql" else _S.name_norm
    stmt = select(_S.subject_key, _S.name, _S.uscc, _S.name_norm).where(_S.subject_key.in_(with_records))
    if after is not None:
        if not isinstance(after, list | tuple) or len(after) != 2 or not all(isinstance(a, str) for a in after):
            raise BadQuery("page: the position to continue from is malformed")
        stmt = stmt.where(
            tuple_(name_key, _S.subject_key)
            > tuple_(bindparam("a_name", after[0], type_=String), bindparam("a_key", after[1], type_=String))
        )
    rows = session.execute(stmt.order_by(name_key, _S.subject_key).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = (rows[-1].name_norm, rows[-1].subject_key) if more else None
    return Keyset(items=[Department(r.subject_key, r.name, r.uscc) for r in rows], after=nxt)


def find_subject_key(session: Reader, key_or_uscc: str, *, today: date) -> str | None:
    """The subject key named by a subject key (32 hex digits) or a unified social credit code; None
    when no such subject has anything published on ``today`` (a code held by several subjects names
    the first by key)."""
    if len(key_or_uscc) == 32 and all(c in "0123456789abcdef" for c in key_or_uscc):
        found = session.execute(_KEY_IS_LIVE, {"subject_key": key_or_uscc, "today": today}).first()
        return None if found is None else str(found[0])
    subjects = find_by_uscc(session, key_or_uscc, today=today)
    return subjects[0].subject_key if subjects else None


def _freshness_statement() -> Any:
    c, p = ChannelRow.__table__.c, ChannelPackageRow.__table__.c
    applied = (
        select(p.recorded_at).where(p.channel_id == c.id, p.seq == c.last_seq, p.status == "applied").scalar_subquery()
    )
    return (
        select(c.last_seq, applied.label("applied_at"), func.count().over().label("channels"))
        .where(c.outbound.is_(False))
        .order_by(c.last_seq.desc())
        .limit(1)
    )


_FRESHNESS = _freshness_statement()


def freshness(session: Reader) -> Freshness:
    """The last package applied from the internal node (over every inbound channel: the highest
    sequence, and when it was applied), read in the caller's transaction, so it describes exactly
    the records the same transaction reads. One statement: it runs on every page."""
    row = session.execute(_FRESHNESS).first()
    if row is None:
        return Freshness(package_seq=0, applied_at=None, channels=0)
    at = row.applied_at
    if isinstance(at, str):  # SQLite hands back the stored text of a subquery's column
        at = datetime.fromisoformat(at)
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return Freshness(package_seq=int(row.last_seq), applied_at=at, channels=int(row.channels))
