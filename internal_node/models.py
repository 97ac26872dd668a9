"""Typed models of the credit information base database: subjects and the five record kinds of
docs/DATA.md, each with its natural key, plus the change counter that orders every write for export."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Connection,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from internal_node import vocab
from nodekit.models import utc_ts

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Column types shared by the models (lengths are enforced at ingest: PostgreSQL would refuse longer
# values, SQLite would silently keep them).
name200 = Annotated[str, mapped_column(String(200))]
opt_name200 = Annotated[str | None, mapped_column(String(200))]
doc_no = Annotated[str, mapped_column(String(100))]
opt_code64 = Annotated[str | None, mapped_column(String(64))]
uscc18 = Annotated[str, mapped_column(String(18))]
opt_uscc18 = Annotated[str | None, mapped_column(String(18))]
code32 = Annotated[str, mapped_column(String(32))]
opt_code32 = Annotated[str | None, mapped_column(String(32))]
text = Annotated[str, mapped_column(Text)]
opt_text = Annotated[str | None, mapped_column(Text)]
day = Annotated[date, mapped_column(Date)]
opt_day = Annotated[date | None, mapped_column(Date)]
amount = Annotated[Decimal | None, mapped_column(Numeric(18, 6))]


class Base(DeclarativeBase):
    """Declarative base of the internal node's own tables (migration branch ``internal``)."""

    metadata = MetaData(naming_convention=NAMING)


def _in(column: str, codes: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(c) for c in codes)})"


class ChangeCounter(Base):
    """The one per-database counter behind every ``change_seq`` (a single row, id 1).

    A writer allocates numbers with an UPDATE of this row, which it then holds locked until it
    commits: writers serialise, so the numbers of committed rows only ever grow, and an export can
    ask for ``change_seq > N`` without missing a row committed late.
    """

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


def allocate_change_seqs(conn: Connection, count: int) -> int:
    """Reserve ``count`` consecutive change numbers in ``conn``'s transaction; return the first."""
    if count <= 0:
        raise ValueError("count must be positive")
    table = ChangeCounter.__table__
    assert isinstance(table, Table)
    res = conn.execute(update(table).where(table.c.id == 1).values(value=table.c.value + count))
    if res.rowcount == 0:  # a database created from the models rather than the migrations
        conn.execute(insert(table).values(id=1, value=count))
    last = conn.execute(select(table.c.value).where(table.c.id == 1)).scalar_one()
    return int(last) - count + 1


class CommonColumns:
    """What every stored record carries (docs/DATA.md, "Common to every record")."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, sort_order=-10)
    source_unit: Mapped[name200] = mapped_column(sort_order=10)
    source_unit_uscc: Mapped[opt_uscc18] = mapped_column(sort_order=10)
    disclosure: Mapped[str] = mapped_column(String(16), sort_order=10)
    record_status: Mapped[str] = mapped_column(String(16), sort_order=10)
    # Set when the record must leave the public side for a reason other than deletion (repair, ...).
    withdrawal_reason: Mapped[str | None] = mapped_column(String(32), sort_order=10)
    remarks: Mapped[opt_text] = mapped_column(sort_order=10)
    version: Mapped[int] = mapped_column(Integer, sort_order=10)
    # Bumped from the change counter on every insert and every change of content (export reads it).
    change_seq: Mapped[int] = mapped_column(BigInteger, unique=True, sort_order=10)
    # Why the record is kept back for an operator (e.g. a natural person without an ID number).
    held_reason: Mapped[opt_name200] = mapped_column(sort_order=10)
    # sha256 of the record's content as ingested: tells a real change from a re-delivery.
    content_digest: Mapped[str] = mapped_column(String(64), sort_order=10)
    created_at: Mapped[utc_ts] = mapped_column(sort_order=10)
    updated_at: Mapped[utc_ts] = mapped_column(sort_order=10)

    @staticmethod
    def common_checks() -> tuple[CheckConstraint, ...]:
        return (
            CheckConstraint(_in("disclosure", vocab.DISCLOSURE.codes), name="disclosure"),
            CheckConstraint(_in("record_status", vocab.RECORD_STATUS.codes), name="record_status"),
            CheckConstraint(
                "withdrawal_reason IS NULL OR " + _in("withdrawal_reason", vocab.WITHDRAWAL_REASON.codes),
                name="withdrawal_reason",
            ),
            CheckConstraint("version >= 1", name="version"),
        )


class Subject(CommonColumns, Base):
    """A subject (主体): a legal person, individual business, natural person or government department.

    ``natural_key`` is ``uscc:<USCC>`` for subjects with a credit code and ``id:<id_type>:<id_no>``
    for natural persons; the ingest keeps one subject per key.
    """

    __tablename__ = "subject"

    natural_key: Mapped[str] = mapped_column(String(100), unique=True)
    category: Mapped[code32]
    name: Mapped[name200]
    uscc: Mapped[opt_uscc18] = mapped_column(index=True)
    id_type: Mapped[opt_code32]
    id_no: Mapped[opt_code64] = mapped_column(index=True)  # the field-aware ID guard looks numbers up
    legal_rep: Mapped[opt_name200]
    legal_rep_id_type: Mapped[opt_code32]
    legal_rep_id_no: Mapped[opt_code64] = mapped_column(index=True)
    registration_authority: Mapped[opt_name200]
    address: Mapped[str | None] = mapped_column(String(400))
    phone: Mapped[opt_code64]
    birth_date: Mapped[opt_day]

    __table_args__ = (
        *CommonColumns.common_checks(),
        CheckConstraint(_in("category", vocab.SUBJECT_CATEGORY.codes), name="category"),
    )


class SubjectRecord(CommonColumns):
    """A record about one subject; held records may have no subject yet (nobody to attach them to)."""

    @declared_attr
    def subject_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("subject.id"), index=True, sort_order=-9)


class PartyColumns(SubjectRecord):
    """The party (行政相对人) fields of licences, penalties, list entries and commitments."""

    party_name: Mapped[name200] = mapped_column(sort_order=-8)
    party_category: Mapped[code32] = mapped_column(sort_order=-8)
    party_uscc: Mapped[opt_uscc18] = mapped_column(sort_order=-8)
    party_reg_no: Mapped[opt_code64] = mapped_column(sort_order=-8)
    party_org_code: Mapped[opt_code32] = mapped_column(sort_order=-8)
    party_tax_no: Mapped[opt_code64] = mapped_column(sort_order=-8)
    party_institution_no: Mapped[opt_code64] = mapped_column(sort_order=-8)
    party_social_org_no: Mapped[opt_code64] = mapped_column(sort_order=-8)
    legal_rep: Mapped[opt_name200] = mapped_column(sort_order=-8)
    legal_rep_id_type: Mapped[opt_code32] = mapped_column(sort_order=-8)
    legal_rep_id_no: Mapped[opt_code64] = mapped_column(sort_order=-8)
    party_id_type: Mapped[opt_code32] = mapped_column(sort_order=-8)
    party_id_no: Mapped[opt_code64] = mapped_column(sort_order=-8)

    @staticmethod
    def party_checks() -> tuple[CheckConstraint, ...]:
        return (
            *CommonColumns.common_checks(),
            CheckConstraint(_in("party_category", vocab.PARTY_CATEGORY.codes), name="party_category"),
            CheckConstraint("subject_id IS NOT NULL OR held_reason IS NOT NULL", name="subject_or_held"),
        )


class Licence(PartyColumns, Base):
    """An administrative licence (行政许可); natural key ``decision_doc_no`` + ``authority``."""

    __tablename__ = "licence"

    decision_doc_title: Mapped[name200]
    decision_doc_no: Mapped[doc_no]
    licence_category: Mapped[code32]
    certificate_name: Mapped[opt_name200]
    licence_no: Mapped[str | None] = mapped_column(String(100))
    content: Mapped[text]
    decision_date: Mapped[day]
    valid_from: Mapped[day]
    valid_to: Mapped[opt_day]
    authority: Mapped[name200]
    authority_uscc: Mapped[uscc18]
    licence_status: Mapped[str] = mapped_column(String(16))

    __table_args__ = (
        *PartyColumns.party_checks(),
        UniqueConstraint("decision_doc_no", "authority"),
        CheckConstraint(_in("licence_category", vocab.LICENCE_CATEGORY.codes), name="licence_category"),
        CheckConstraint(_in("licence_status", vocab.LICENCE_STATUS.codes), name="licence_status"),
    )


class Penalty(PartyColumns, Base):
    """An administrative penalty (行政处罚); natural key ``decision_no`` + ``authority``."""

    __tablename__ = "penalty"

    decision_no: Mapped[doc_no]
    violation_type: Mapped[name200]
    violation_facts: Mapped[text]
    legal_basis: Mapped[text]
    # one or more codes of vocab.PENALTY_TYPE joined by ";" (validated at ingest)
    penalty_types: Mapped[str] = mapped_column(String(400))
    content: Mapped[text]
    fine_amount: Mapped[amount]
    confiscation_amount: Mapped[amount]
    suspended_licence: Mapped[str | None] = mapped_column(String(400))
    decision_date: Mapped[day] = mapped_column(index=True)
    penalty_valid_until: Mapped[opt_day]
    publish_until: Mapped[opt_day]
    severity: Mapped[str] = mapped_column(String(16))
    authority: Mapped[name200]
    authority_uscc: Mapped[uscc18]

    __table_args__ = (
        *PartyColumns.party_checks(),
        UniqueConstraint("decision_no", "authority"),
        CheckConstraint(_in("severity", vocab.SEVERITY.codes), name="severity"),
        CheckConstraint("fine_amount IS NULL OR fine_amount >= 0", name="fine_amount"),
        CheckConstraint("confiscation_amount IS NULL OR confiscation_amount >= 0", name="confiscation_amount"),
    )


class ListEntry(PartyColumns, Base):
    """A red-list or serious-dishonesty-list entry; natural key ``list_type`` + ``doc_no`` + ``deciding_dept``."""

    __tablename__ = "list_entry"

    list_type: Mapped[str] = mapped_column(String(16))
    list_name: Mapped[opt_name200]
    reason: Mapped[text]
    basis: Mapped[opt_text]
    deciding_dept: Mapped[name200]
    doc_no: Mapped[doc_no]
    listed_date: Mapped[day]
    valid_until: Mapped[opt_day]
    removed_date: Mapped[opt_day]
    removal_reason: Mapped[opt_text]
    measures: Mapped[opt_text]

    __table_args__ = (
        *PartyColumns.party_checks(),
        UniqueConstraint("list_type", "doc_no", "deciding_dept"),
        CheckConstraint(_in("list_type", vocab.LIST_TYPE.codes), name="list_type"),
    )


class Commitment(PartyColumns, Base):
    """A credit commitment (信用承诺); natural key ``commitment_code``."""

    __tablename__ = "commitment"

    commitment_code: Mapped[str] = mapped_column(String(20), unique=True)
    commitment_type: Mapped[code32]
    matter: Mapped[text]
    content: Mapped[text]
    liability: Mapped[opt_text]
    commitment_date: Mapped[day]
    valid_until: Mapped[opt_day]
    fulfilment: Mapped[str] = mapped_column(String(16))
    determined_date: Mapped[opt_day]
    determined_by: Mapped[opt_name200]
    accepting_unit: Mapped[name200]

    __table_args__ = (
        *PartyColumns.party_checks(),
        CheckConstraint(_in("commitment_type", vocab.COMMITMENT_TYPE.codes), name="commitment_type"),
        CheckConstraint(_in("fulfilment", vocab.FULFILMENT.codes), name="fulfilment"),
    )


class GovCredit(SubjectRecord, Base):
    """A government-credit (政务诚信) record about a department; natural key ``record_no`` + ``department``.
    Its subject is the department (category ``government``)."""

    __tablename__ = "gov_credit"

    record_no: Mapped[doc_no]
    department: Mapped[name200]
    department_uscc: Mapped[uscc18]
    credit_area: Mapped[str] = mapped_column(String(16))
    item_type: Mapped[code32]
    title: Mapped[name200]
    description: Mapped[opt_text]
    counterparty: Mapped[opt_name200]
    counterparty_uscc: Mapped[opt_uscc18]
    amount: Mapped[amount]
    occurred_date: Mapped[day]
    due_date: Mapped[opt_day]
    outcome: Mapped[str] = mapped_column(String(16))
    resolved_date: Mapped[opt_day]
    accountability_action: Mapped[opt_text]
    publish_until: Mapped[opt_day]

    __table_args__ = (
        *CommonColumns.common_checks(),
        UniqueConstraint("record_no", "department"),
        CheckConstraint("subject_id IS NOT NULL OR held_reason IS NOT NULL", name="subject_or_held"),
        CheckConstraint(_in("credit_area", vocab.CREDIT_AREA.codes), name="credit_area"),
        CheckConstraint(_in("item_type", vocab.ITEM_TYPE.codes), name="item_type"),
        CheckConstraint(_in("outcome", vocab.OUTCOME.codes), name="outcome"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount"),
    )


# Record kinds as the CLI names them, and the tables an export scans for ``change_seq > N``.
RECORD_MODELS: dict[str, Any] = {
    "licence": Licence,
    "penalty": Penalty,
    "list_entry": ListEntry,
    "commitment": Commitment,
    "gov_credit": GovCredit,
}
CHANGE_TRACKED: tuple[type[Base], ...] = (Subject, Licence, Penalty, ListEntry, Commitment, GovCredit)

__all__ = [
    "CHANGE_TRACKED",
    "RECORD_MODELS",
    "Base",
    "ChangeCounter",
    "Commitment",
    "GovCredit",
    "Licence",
    "ListEntry",
    "Penalty",
    "Subject",
    "allocate_change_seqs",
]
