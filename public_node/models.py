"""Typed models of the public node's published database: the read model of published records, the
per-subject search entries, and the published documents.

The read model keeps one row per published record, keyed by (kind, key), with the fields the
queries filter on extracted into indexed columns and the whole published row kept as JSON text:
the disclosure policy decides which fields a row carries, so the read model does not fix them.
Search entries are per subject (what the public searches for is a party, by name or credit code);
their engine-specific index (an FTS5 table on SQLite, a GIN index on PostgreSQL) is created by
migration ``p0002`` and named in :data:`ENGINE_SPECIFIC_OBJECTS`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Date, Dialect, Index, Integer, LargeBinary, String, Table, Text, TypeDecorator
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from nodekit.models import UTCDateTime

KEY_LENGTH = 32  # docs/FORMAT.md: record, subject and document keys are 32 lowercase hex digits

# BIGINT on PostgreSQL; on SQLite only an INTEGER PRIMARY KEY aliases the rowid the FTS5 index uses.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class SearchTokens(TypeDecorator[tuple[str, ...]]):
    """The search tokens of a subject (character bigrams, see ``public_node.search``), stored in the
    form each engine's full-text index reads: a ``tsvector`` with positions on PostgreSQL (written as
    a tsvector literal, so no text-search parser or locale is involved), space-separated text on
    SQLite (read by the FTS5 table ``search_fts`` through its external-content link)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TSVECTOR())
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: tuple[str, ...] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return tsvector_literal(value) if dialect.name == "postgresql" else " ".join(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[str, ...] | None:
        if value is None:
            return None
        text = str(value)
        if dialect.name == "postgresql":
            placed = [(int(p), tok) for tok, ps in _TSV_LEXEME.findall(text) for p in ps.split(",")]
            return tuple(tok for _, tok in sorted(placed))
        return tuple(text.split())


_TSV_LEXEME = re.compile(r"'((?:[^']|'')*)':([\d,]+)")
_LEXEME = "'{}':{}".format


def tsvector_literal(tokens: Sequence[str]) -> str:
    """Tokens as a tsvector literal with positions 1, 2, ... (tokens hold letters and digits only,
    see ``search.normalise``: never a quote or a backslash to escape)."""
    return " ".join(map(_LEXEME, tokens, range(1, len(tokens) + 1)))


class Base(DeclarativeBase):
    """Declarative base of the public node's own tables (migration branch ``public``)."""


class PublishedRecord(Base):
    """One published record (a subject row or a licence, penalty, list entry, commitment or
    government-credit record) as the internal node's disclosure policy let it out."""

    __tablename__ = "published_record"
    __table_args__ = (
        Index("ix_published_record_subject_key", "subject_key"),
        Index("ix_published_record_doc_key", "doc_key"),
        Index("ix_published_record_publish_until", "publish_until"),
        Index("ix_published_record_list", "kind", "list_type", "record_date"),
    )

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    subject_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    subject_name: Mapped[str] = mapped_column(Text)
    subject_category: Mapped[str] = mapped_column(String(32))
    uscc: Mapped[str | None] = mapped_column(String(64))  # search.normalise_code; looked up through search_subject
    doc_no: Mapped[str | None] = mapped_column(Text)  # as published
    doc_key: Mapped[str | None] = mapped_column(Text)  # doc_no normalised for lookup (search.normalise)
    publish_until: Mapped[date | None] = mapped_column(Date)
    list_type: Mapped[str | None] = mapped_column(String(16))  # list entries only: red / dishonest
    record_date: Mapped[date | None] = mapped_column(Date)  # the kind's own date, for ordering pages
    row: Mapped[str] = mapped_column(Text)  # the published row, JSON with sorted keys


class SearchSubject(Base):
    """The search entry of one subject: its name and credit code as shown, their normalised forms
    for ranking, the tokens the full-text index holds, and which record the name was taken from."""

    __tablename__ = "search_subject"
    __table_args__ = (Index("ix_search_subject_uscc", "uscc"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    subject_key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    uscc: Mapped[str | None] = mapped_column(String(64))
    name_norm: Mapped[str] = mapped_column(Text)
    code_norm: Mapped[str] = mapped_column(String(64))  # '' when the subject has no credit code
    source_kind: Mapped[str] = mapped_column(String(16))
    source_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    grams: Mapped[tuple[str, ...]] = mapped_column(SearchTokens())


class PublishedDocument(Base):
    """A published document (a notice or a decision) with its bytes, checked media type and digest."""

    __tablename__ = "published_document"
    __table_args__ = (Index("ix_published_document_subject_key", "subject_key"),)

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    subject_key: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    publish_until: Mapped[date | None] = mapped_column(Date)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ApplicationDecision(Base):
    """A decision of the credit office on a binding request or an application filed on this platform
    (FORMAT.md §10.6), as the internal node sent it: the platform shows it to the filer, and an
    approved binding lets an account file for its subject."""

    __tablename__ = "application_decision"

    id: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))  # binding | objection | repair | complaint
    decision: Mapped[str] = mapped_column(String(16))
    subject_key: Mapped[str | None] = mapped_column(String(KEY_LENGTH))  # an approved binding's subject
    decided: Mapped[str] = mapped_column(String(20))  # YYYY-MM-DDTHH:MM:SSZ, as sent
    reason: Mapped[str] = mapped_column(Text)


class ApplicationStatus(Base):
    """The internal node's acknowledgement of a binding request or an application filed on this platform
    (FORMAT.md §10.6, ``application-status``): when the credit office received it and the day it is due
    to be decided by. Open (no :class:`ApplicationDecision` yet) and past ``due``: overdue."""

    __tablename__ = "application_status"
    __table_args__ = (Index("ix_application_status_due", "due"),)

    id: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))  # binding | objection | repair | complaint
    received: Mapped[datetime] = mapped_column(UTCDateTime())
    due: Mapped[date] = mapped_column(Date)


# Objects migration p0002 creates for one engine only, outside the models: the FTS5 table over
# ``search_subject.grams`` and its shadow tables on SQLite, the GIN index on PostgreSQL. Schema
# comparisons (tests/unit/nodekit/test_database.py) skip exactly these names.
FTS_TABLE = "search_fts"
GIN_INDEX = "ix_search_subject_grams"
ENGINE_SPECIFIC_OBJECTS = frozenset(
    {
        FTS_TABLE,
        *(f"{FTS_TABLE}_{shadow}" for shadow in ("data", "idx", "content", "docsize", "config")),
        GIN_INDEX,
    }
)


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic ``include_object`` hook: leave the engine-specific search objects out of comparisons."""
    return name not in ENGINE_SPECIFIC_OBJECTS


# The tables as Core ``Table`` objects, for the bulk statements of the data layer.
RECORD_TABLE = cast(Table, PublishedRecord.__table__)
SEARCH_TABLE = cast(Table, SearchSubject.__table__)
DOCUMENT_TABLE = cast(Table, PublishedDocument.__table__)
DECISION_TABLE = cast(Table, ApplicationDecision.__table__)
