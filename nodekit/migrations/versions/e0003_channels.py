"""exchange branch: channel state, applied packages, pending and sent packages

Revision ID: e0003
Revises: e0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e0003"
down_revision: str | None = "e0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sender_node", sa.String(64), nullable=False),
        sa.Column("recipient_node", sa.String(64), nullable=False),
        sa.Column("outbound", sa.Boolean(), nullable=False),
        sa.Column("suite", sa.Integer(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_digest", sa.String(64), nullable=False),
        sa.Column("last_created", sa.BigInteger(), nullable=False),
        sa.Column("rebase_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("sender_node", "recipient_node", name="uq_channel_pair"),
    )
    op.create_table(
        "channel_package",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channel.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("file", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("channel_id", "seq", name="uq_channel_package_seq"),
    )
    op.create_index("ix_channel_package_channel_id", "channel_package", ["channel_id"])
    op.create_index("ix_channel_package_digest", "channel_package", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_channel_package_digest", "channel_package")
    op.drop_index("ix_channel_package_channel_id", "channel_package")
    op.drop_table("channel_package")
    op.drop_table("channel")
