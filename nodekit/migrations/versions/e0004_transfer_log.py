"""exchange branch: the transfer log (hash-chained entries)

Revision ID: e0004
Revises: e0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e0004"
down_revision: str | None = "e0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transfer_log",
        sa.Column("index", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("prev", sa.String(64), nullable=False),
        sa.Column("leaf_hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("leaf_hash", name="uq_transfer_log_leaf_hash"),
    )
    op.create_index("ix_transfer_log_event", "transfer_log", ["event"])


def downgrade() -> None:
    op.drop_index("ix_transfer_log_event", "transfer_log")
    op.drop_table("transfer_log")
