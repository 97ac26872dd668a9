"""internal branch: the review hold (record versions waiting for a person), protected fields, what
each publication item changed, and indexes for the field-aware ID guard's lookups

Revision ID: i0004
Revises: i0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i0004"
down_revision: str | None = "i0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_hold",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("table_name", sa.String(16), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("doc_no", sa.String(100), nullable=True),
        sa.Column("row_digest", sa.String(64), nullable=False),
        sa.Column("rules", sa.String(200), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("held_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decision_reason", sa.String(400), nullable=True),
        sa.UniqueConstraint("table_name", "key", "version", name="uq_review_hold_table_name"),
    )
    op.create_index("ix_review_hold_state", "review_hold", ["state"])
    op.create_table(
        "protected_field",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("table_name", sa.String(16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("value_digest", sa.String(64), nullable=False),
        sa.Column("objection", sa.String(64), nullable=False),
        sa.Column("protected_at", sa.DateTime(), nullable=False),
        sa.Column("protected_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("table_name", "record_id", "field", name="uq_protected_field_table_name"),
    )
    with op.batch_alter_table("publication") as batch:
        batch.add_column(sa.Column("change", sa.String(16), nullable=True))
        batch.add_column(sa.Column("withdrawn_on", sa.Date(), nullable=True))
    op.create_index("ix_subject_id_no", "subject", ["id_no"])
    op.create_index("ix_subject_legal_rep_id_no", "subject", ["legal_rep_id_no"])


def downgrade() -> None:
    op.drop_index("ix_subject_legal_rep_id_no", "subject")
    op.drop_index("ix_subject_id_no", "subject")
    with op.batch_alter_table("publication") as batch:
        batch.drop_column("withdrawn_on")
        batch.drop_column("change")
    op.drop_table("protected_field")
    op.drop_index("ix_review_hold_state", "review_hold")
    op.drop_table("review_hold")
