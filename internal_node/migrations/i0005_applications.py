"""internal branch: binding requests, applications (objection, repair, complaint) with their
attachments and deadlines, and the decisions waiting to go back to their public node

Revision ID: i0005
Revises: i0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i0005"
down_revision: str | None = "i0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decision_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("submitted", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "binding_request",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("peer_node", sa.String(64), nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("subject_category", sa.String(16), nullable=False),
        sa.Column("identifier", sa.String(18), nullable=False),
        sa.Column("name", sa.String(400), nullable=False),
        sa.Column("legal_rep", sa.String(200), nullable=True),
        sa.Column("contact", sa.String(64), nullable=False),
        *_decision_columns(),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("subject_key", sa.String(32), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("sent_seq", sa.Integer(), nullable=True),
    )
    op.create_index("ix_binding_request_state", "binding_request", ["state"])
    op.create_table(
        "application",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("peer_node", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("binding_id", sa.String(32), nullable=True),
        sa.Column("table_name", sa.String(16), nullable=True),
        sa.Column("key", sa.String(32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("target", sa.String(400), nullable=True),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(64), nullable=True),
        *_decision_columns(),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("sent_seq", sa.Integer(), nullable=True),
    )
    op.create_index("ix_application_state", "application", ["state"])
    op.create_table(
        "application_attachment",
        sa.Column("application_id", sa.String(32), sa.ForeignKey("application.id"), primary_key=True),
        sa.Column("n", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("application_attachment")
    op.drop_index("ix_application_state", "application")
    op.drop_table("application")
    op.drop_index("ix_binding_request_state", "binding_request")
    op.drop_table("binding_request")
