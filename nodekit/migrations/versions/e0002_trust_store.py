"""exchange branch: the trust store (peer keys bound to node id and role)

Revision ID: e0002
Revises: e0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e0002"
down_revision: str | None = "e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trusted_key",
        sa.Column("key_id", sa.String(32), primary_key=True),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("node_name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("sign_public", sa.String(64), nullable=False),
        sa.Column("enc_public", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("replaced_by", sa.String(32), nullable=True),
        sa.Column("trusted_at", sa.DateTime(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("change", sa.Text(), nullable=True),
    )
    op.create_index("ix_trusted_key_node_id", "trusted_key", ["node_id"])
    op.create_index(
        "uq_trusted_key_current",
        "trusted_key",
        ["node_id"],
        unique=True,
        sqlite_where=sa.text("status = 'trusted'"),
        postgresql_where=sa.text("status = 'trusted'"),
    )


def downgrade() -> None:
    op.drop_index("uq_trusted_key_current", "trusted_key")
    op.drop_index("ix_trusted_key_node_id", "trusted_key")
    op.drop_table("trusted_key")
