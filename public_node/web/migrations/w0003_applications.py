"""web branch: binding requests and applications filed on the platform, with their disarmed
attachments, waiting for the next return package (issue 17)

Revision ID: w0003
Revises: w0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "w0003"
down_revision: str | None = "w0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_binding",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("subject_category", sa.String(16), nullable=False),
        sa.Column("identifier", sa.String(18), nullable=False),
        sa.Column("name", sa.String(400), nullable=False),
        sa.Column("legal_rep", sa.String(200), nullable=True),
        sa.Column("contact", sa.String(64), nullable=False),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("sent_seq", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_web_binding_account_id", "web_binding", ["account_id"])
    op.create_table(
        "web_application",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("binding_id", sa.String(32), nullable=True),
        sa.Column("table_name", sa.String(16), nullable=True),
        sa.Column("key", sa.String(32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("target", sa.String(400), nullable=True),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(64), nullable=True),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("merged", sa.Integer(), nullable=False),
        sa.Column("sent_seq", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_web_application_account_id", "web_application", ["account_id"])
    op.create_index("ix_web_application_record", "web_application", ["table_name", "key"])
    op.create_table(
        "web_attachment",
        sa.Column("application_id", sa.String(32), nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("media_type", sa.String(16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["web_application.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("application_id", "n"),
    )


def downgrade() -> None:
    op.drop_table("web_attachment")
    op.drop_index("ix_web_application_record", "web_application")
    op.drop_index("ix_web_application_account_id", "web_application")
    op.drop_table("web_application")
    op.drop_index("ix_web_binding_account_id", "web_binding")
    op.drop_table("web_binding")
