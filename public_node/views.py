"""What the published database's queries return (plain frozen values, detached from any session),
and the two rules every query applies: page bounds and fail-safe expiry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Connection, or_
from sqlalchemy.orm import Session

from public_node.errors import BadQuery
from public_node.models import RECORD_TABLE

T = TypeVar("T")

MAX_PAGE = 100

# Published kinds in the order a subject page shows them; "subject" is the subject row itself.
RECORD_KINDS = ("licence", "penalty", "list_entry", "commitment", "gov_credit")
KINDS = ("subject", *RECORD_KINDS)
LIST_TYPES = ("red", "dishonest")


Reader = Session | Connection
"""What the read queries run in: an ORM session, or (the platform's hot pages) a Core connection, each
within one transaction."""


def dialect_name(reader: Reader) -> str:
    """``sqlite`` or ``postgresql``: the engine a reader is connected to."""
    return reader.dialect.name if isinstance(reader, Connection) else reader.get_bind().dialect.name


def record_is_live(today: date) -> ColumnElement[bool]:
    """Fail-safe expiry: a record is shown only while ``today`` is on or before its ``publish_until``,
    whether or not its withdrawal has arrived."""
    until = RECORD_TABLE.c.publish_until
    return or_(until.is_(None), until >= today)


def check_page(limit: int, offset: int) -> None:
    """Raise :class:`BadQuery` unless the page size is 1..MAX_PAGE and the offset not negative."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadQuery(f"page size: expected 1 to {MAX_PAGE}, got {limit}")
    if offset < 0:
        raise BadQuery(f"page offset: expected 0 or more, got {offset}")


@dataclass(frozen=True, slots=True)
class RecordView:
    """One published record as the public may see it; ``row`` is the published row itself."""

    kind: str
    key: str
    version: int
    subject_key: str
    subject_name: str
    subject_category: str
    uscc: str | None
    doc_no: str | None
    publish_until: date | None
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SubjectSummary:
    """A subject as listed in search results: its key, name, category and credit code."""

    subject_key: str
    name: str
    category: str
    uscc: str | None


@dataclass(frozen=True, slots=True)
class SubjectPage:
    """A subject and its current records, by kind (each newest first)."""

    subject: SubjectSummary
    profile: RecordView | None  # the published subject row, when there is one
    records: dict[str, list[RecordView]] = field(default_factory=dict)
    more: dict[str, int] = field(default_factory=dict)  # kind -> how many there are, where only the newest are here


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a longer result: the items, the total count, and the page asked for."""

    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class Keyset(Generic[T]):
    """One page of a keyset-paginated result: the items, and the sort key of the last one when more
    follow (``after``, handed back to get the next page; None on the last page). ``total`` is counted
    on the first page only, where the caller asks for it: counting costs what the whole result costs."""

    items: list[T]
    after: tuple[Any, ...] | None
    total: int | None = None


@dataclass(frozen=True, slots=True)
class Freshness:
    """How current the published database is: the last package applied from the internal node (its
    sequence number and when it was applied here), or nothing yet."""

    package_seq: int
    applied_at: datetime | None
    channels: int


@dataclass(frozen=True, slots=True)
class Department:
    """A government department with published government-credit records (政务诚信)."""

    subject_key: str
    name: str
    uscc: str | None


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """A published document's metadata (the bytes are fetched separately)."""

    key: str
    version: int
    name: str
    title: str
    media_type: str
    sha256: str
    size: int
    subject_key: str | None
    publish_until: date | None
