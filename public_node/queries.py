"""Lookups in the published database: a record, subjects by credit code, records by document
number, a subject's page, the red and black list pages, and record counts. Every query takes
``today`` and never returns a record past its ``publish_until`` (fail-safe expiry)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import orjson
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from public_node.errors import BadQuery
from public_node.models import RECORD_TABLE, SEARCH_TABLE
from public_node.search import normalise, normalise_code
from public_node.views import (
    KINDS,
    LIST_TYPES,
    RECORD_KINDS,
    Page,
    RecordView,
    SubjectPage,
    SubjectSummary,
    check_page,
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


def get_record(session: Session, kind: str, key: str, *, today: date) -> RecordView | None:
    """One published record by kind and key, or None (unknown, withdrawn or expired)."""
    row = session.execute(select(*_RECORD_COLUMNS).where(_R.kind == kind, _R.key == key, record_is_live(today))).first()
    return None if row is None else _view(row)


def find_by_uscc(session: Session, uscc: str, *, today: date) -> list[SubjectSummary]:
    """The subjects with this unified social credit code (compared in NFKC upper case)."""
    code = normalise_code(uscc)
    if code is None:
        return []
    rows = session.execute(
        select(_S.subject_key, _S.name, _S.category, _S.uscc)
        .where(_S.uscc == code, _subject_is_live(today))
        .order_by(_S.subject_key)
    )
    return [SubjectSummary(*r) for r in rows]


def find_by_doc_no(session: Session, doc_no: str, *, today: date) -> list[RecordView]:
    """The records with this document number; brackets, spaces, width and case do not matter
    (昆市监罚〔2024〕12号 = 昆市监罚[2024]12号 = 昆市监罚(2024)12号)."""
    doc_key = normalise(doc_no)
    if not doc_key:
        return []
    rows = session.execute(
        select(*_RECORD_COLUMNS).where(_R.doc_key == doc_key, record_is_live(today)).order_by(_R.kind, _R.key)
    )
    return [_view(r) for r in rows]


def subject_page(session: Session, subject_key: str, *, today: date) -> SubjectPage | None:
    """A subject with its current licences, penalties, list entries, commitments and government-credit
    records; None if nothing about it is published on ``today``."""
    rows = session.execute(
        select(*_RECORD_COLUMNS)
        .where(_R.subject_key == subject_key, record_is_live(today))
        .order_by(_R.kind, *_NEWEST_FIRST)
    ).all()
    if not rows:
        return None
    entry = session.execute(select(_S.name, _S.category, _S.uscc).where(_S.subject_key == subject_key)).first()
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
    return SubjectPage(subject=summary, profile=profile, records={k: records[k] for k in RECORD_KINDS if k in records})


def list_page(session: Session, list_type: str, *, today: date, limit: int = 20, offset: int = 0) -> Page[RecordView]:
    """A page of the red list (``red``) or the serious-dishonesty list (``dishonest``), newest first."""
    if list_type not in LIST_TYPES:
        raise BadQuery(f"list type: expected one of {', '.join(LIST_TYPES)}, got {list_type!r}")
    check_page(limit, offset)
    where = (_R.kind == "list_entry", _R.list_type == list_type, record_is_live(today))
    total = session.execute(select(func.count()).select_from(RECORD_TABLE).where(*where)).scalar_one()
    rows = session.execute(select(*_RECORD_COLUMNS).where(*where).order_by(*_NEWEST_FIRST).limit(limit).offset(offset))
    return Page(items=[_view(r) for r in rows], total=int(total), limit=limit, offset=offset)


def record_counts(session: Session, *, today: date) -> dict[str, int]:
    """Published records per kind that are shown on ``today`` (for ``public-node status``)."""
    rows = session.execute(select(_R.kind, func.count()).where(record_is_live(today)).group_by(_R.kind))
    counts = dict.fromkeys(KINDS, 0)
    counts.update({kind: int(n) for kind, n in rows})
    return counts
