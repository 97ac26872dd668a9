"""internal branch: the credit information database (subjects, licences, penalties, list entries,
commitments, government-credit records) and the change counter

Revision ID: i0002
Revises: i0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.sql.schema import SchemaItem

revision: str = "i0002"
down_revision: str | None = "i0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the vocabularies as of this revision (a later change of a vocabulary is a new
# revision that replaces the CHECK constraint).
DISCLOSURE = ("public", "shared", "not_public")
RECORD_STATUS = ("normal", "updated", "deleted")
PARTY_CATEGORY = ("legal_person", "natural_person", "individual_business")
SUBJECT_CATEGORY = (*PARTY_CATEGORY, "government")
LICENCE_CATEGORY = ("ordinary", "special", "recognition", "approval", "registration", "other")
LICENCE_STATUS = ("valid", "invalid")
SEVERITY = ("minor", "general", "serious")
LIST_TYPE = ("red", "dishonest")
COMMITMENT_TYPE = (
    "approval_substitute",
    "tolerance_acceptance",
    "certification",
    "credit_repair",
    "industry_self_discipline",
    "voluntary",
    "other",
)
FULFILMENT = ("fulfilled", "partial", "unfulfilled", "pending")
CREDIT_AREA = ("decision", "execution", "supervision", "service", "commercial")
ITEM_TYPE = ("service_commitment", "arrears", "procurement", "contract", "judgment", "accountability", "other")
OUTCOME = ("open", "fulfilled", "breached", "cleared")

RECORD_TABLES = ("licence", "penalty", "list_entry", "commitment", "gov_credit")


def _in(table: str, column: str, codes: tuple[str, ...]) -> sa.CheckConstraint:
    values = ", ".join(f"'{c}'" for c in codes)
    return sa.CheckConstraint(f"{column} IN ({values})", name=f"ck_{table}_{column}")


def _s(name: str, length: int, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _head(*, subject: bool) -> list[sa.Column[Any]]:
    cols: list[sa.Column[Any]] = [sa.Column("id", sa.Integer(), primary_key=True)]
    if subject:
        cols.append(sa.Column("subject_id", sa.Integer(), nullable=True))
    return cols


def _party() -> list[sa.Column[Any]]:
    return [
        _s("party_name", 200, nullable=False),
        _s("party_category", 32, nullable=False),
        _s("party_uscc", 18),
        _s("party_reg_no", 64),
        _s("party_org_code", 32),
        _s("party_tax_no", 64),
        _s("party_institution_no", 64),
        _s("party_social_org_no", 64),
        _s("legal_rep", 200),
        _s("legal_rep_id_type", 32),
        _s("legal_rep_id_no", 64),
        _s("party_id_type", 32),
        _s("party_id_no", 64),
    ]


def _common(table: str) -> list[SchemaItem]:
    return [
        _s("source_unit", 200, nullable=False),
        _s("source_unit_uscc", 18),
        _s("disclosure", 16, nullable=False),
        _s("record_status", 16, nullable=False),
        _s("withdrawal_reason", 32),
        sa.Column("remarks", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        _s("held_reason", 200),
        _s("content_digest", 64, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.UniqueConstraint("change_seq", name=f"uq_{table}_change_seq"),
        _in(table, "disclosure", DISCLOSURE),
        _in(table, "record_status", RECORD_STATUS),
        sa.CheckConstraint(
            "withdrawal_reason IS NULL OR withdrawal_reason IN ('repaired', 'revoked', 'objection_upheld')",
            name=f"ck_{table}_withdrawal_reason",
        ),
        sa.CheckConstraint("version >= 1", name=f"ck_{table}_version"),
    ]


def _record(table: str) -> list[SchemaItem]:
    return [
        *_common(table),
        sa.ForeignKeyConstraint(["subject_id"], ["subject.id"], name=f"fk_{table}_subject_id_subject"),
        sa.CheckConstraint("subject_id IS NOT NULL OR held_reason IS NOT NULL", name=f"ck_{table}_subject_or_held"),
    ]


def _party_record(table: str) -> list[SchemaItem]:
    return [*_record(table), _in(table, "party_category", PARTY_CATEGORY)]


def _nonneg(table: str, column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IS NULL OR {column} >= 0", name=f"ck_{table}_{column}")


def upgrade() -> None:
    op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_change_counter"),
    )
    op.bulk_insert(sa.table("change_counter", sa.column("id"), sa.column("value")), [{"id": 1, "value": 0}])

    op.create_table(
        "subject",
        *_head(subject=False),
        _s("natural_key", 100, nullable=False),
        _s("category", 32, nullable=False),
        _s("name", 200, nullable=False),
        _s("uscc", 18),
        _s("id_type", 32),
        _s("id_no", 64),
        _s("legal_rep", 200),
        _s("legal_rep_id_type", 32),
        _s("legal_rep_id_no", 64),
        _s("registration_authority", 200),
        _s("address", 400),
        _s("phone", 64),
        sa.Column("birth_date", sa.Date(), nullable=True),
        *_common("subject"),
        sa.UniqueConstraint("natural_key", name="uq_subject_natural_key"),
        _in("subject", "category", SUBJECT_CATEGORY),
    )
    op.create_index("ix_subject_uscc", "subject", ["uscc"])

    op.create_table(
        "licence",
        *_head(subject=True),
        *_party(),
        _s("decision_doc_title", 200, nullable=False),
        _s("decision_doc_no", 100, nullable=False),
        _s("licence_category", 32, nullable=False),
        _s("certificate_name", 200),
        _s("licence_no", 100),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        _s("authority", 200, nullable=False),
        _s("authority_uscc", 18, nullable=False),
        _s("licence_status", 16, nullable=False),
        *_party_record("licence"),
        sa.UniqueConstraint("decision_doc_no", "authority", name="uq_licence_decision_doc_no_authority"),
        _in("licence", "licence_category", LICENCE_CATEGORY),
        _in("licence", "licence_status", LICENCE_STATUS),
    )

    op.create_table(
        "penalty",
        *_head(subject=True),
        *_party(),
        _s("decision_no", 100, nullable=False),
        _s("violation_type", 200, nullable=False),
        sa.Column("violation_facts", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        _s("penalty_types", 400, nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("fine_amount", sa.Numeric(18, 6), nullable=True),
        sa.Column("confiscation_amount", sa.Numeric(18, 6), nullable=True),
        _s("suspended_licence", 400),
        sa.Column("decision_date", sa.Date(), nullable=False),
        sa.Column("penalty_valid_until", sa.Date(), nullable=True),
        sa.Column("publish_until", sa.Date(), nullable=True),
        _s("severity", 16, nullable=False),
        _s("authority", 200, nullable=False),
        _s("authority_uscc", 18, nullable=False),
        *_party_record("penalty"),
        sa.UniqueConstraint("decision_no", "authority", name="uq_penalty_decision_no_authority"),
        _in("penalty", "severity", SEVERITY),
        _nonneg("penalty", "fine_amount"),
        _nonneg("penalty", "confiscation_amount"),
    )
    op.create_index("ix_penalty_decision_date", "penalty", ["decision_date"])

    op.create_table(
        "list_entry",
        *_head(subject=True),
        *_party(),
        _s("list_type", 16, nullable=False),
        _s("list_name", 200),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=True),
        _s("deciding_dept", 200, nullable=False),
        _s("doc_no", 100, nullable=False),
        sa.Column("listed_date", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("removed_date", sa.Date(), nullable=True),
        sa.Column("removal_reason", sa.Text(), nullable=True),
        sa.Column("measures", sa.Text(), nullable=True),
        *_party_record("list_entry"),
        sa.UniqueConstraint(
            "list_type", "doc_no", "deciding_dept", name="uq_list_entry_list_type_doc_no_deciding_dept"
        ),
        _in("list_entry", "list_type", LIST_TYPE),
    )

    op.create_table(
        "commitment",
        *_head(subject=True),
        *_party(),
        _s("commitment_code", 20, nullable=False),
        _s("commitment_type", 32, nullable=False),
        sa.Column("matter", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("liability", sa.Text(), nullable=True),
        sa.Column("commitment_date", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        _s("fulfilment", 16, nullable=False),
        sa.Column("determined_date", sa.Date(), nullable=True),
        _s("determined_by", 200),
        _s("accepting_unit", 200, nullable=False),
        *_party_record("commitment"),
        sa.UniqueConstraint("commitment_code", name="uq_commitment_commitment_code"),
        _in("commitment", "commitment_type", COMMITMENT_TYPE),
        _in("commitment", "fulfilment", FULFILMENT),
    )

    op.create_table(
        "gov_credit",
        *_head(subject=True),
        _s("record_no", 100, nullable=False),
        _s("department", 200, nullable=False),
        _s("department_uscc", 18, nullable=False),
        _s("credit_area", 16, nullable=False),
        _s("item_type", 32, nullable=False),
        _s("title", 200, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        _s("counterparty", 200),
        _s("counterparty_uscc", 18),
        sa.Column("amount", sa.Numeric(18, 6), nullable=True),
        sa.Column("occurred_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        _s("outcome", 16, nullable=False),
        sa.Column("resolved_date", sa.Date(), nullable=True),
        sa.Column("accountability_action", sa.Text(), nullable=True),
        sa.Column("publish_until", sa.Date(), nullable=True),
        *_record("gov_credit"),
        sa.UniqueConstraint("record_no", "department", name="uq_gov_credit_record_no_department"),
        _in("gov_credit", "credit_area", CREDIT_AREA),
        _in("gov_credit", "item_type", ITEM_TYPE),
        _in("gov_credit", "outcome", OUTCOME),
        _nonneg("gov_credit", "amount"),
    )

    for table in RECORD_TABLES:
        op.create_index(f"ix_{table}_subject_id", table, ["subject_id"])


def downgrade() -> None:
    for table in RECORD_TABLES:
        op.drop_index(f"ix_{table}_subject_id", table)
        op.drop_table(table)
    op.drop_index("ix_subject_uscc", "subject")
    op.drop_table("subject")
    op.drop_table("change_counter")
