"""internal branch: the publication (prepared items to export) and each public node's export state

Revision ID: i0003
Revises: i0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i0003"
down_revision: str | None = "i0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "publication",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("table_name", sa.String(16), nullable=False),
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("pub_seq", sa.BigInteger(), nullable=True),
        sa.Column("item", sa.Text(), nullable=True),
        sa.Column("row_digest", sa.String(64), nullable=True),
        sa.Column("guard_mac", sa.String(32), nullable=True),
        sa.Column("publish_until", sa.Date(), nullable=True),
        sa.UniqueConstraint("table_name", "key", name="uq_publication_table_name_key"),
        sa.UniqueConstraint("pub_seq", name="uq_publication_pub_seq"),
    )
    op.create_index("ix_publication_state_until", "publication", ["state", "publish_until"])
    op.create_table(
        "publication_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    op.create_table(
        "peer_export",
        sa.Column("peer_node", sa.String(64), primary_key=True),
        sa.Column("sent_pub_seq", sa.BigInteger(), nullable=False),
        sa.Column("policy_digest", sa.String(64), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_full_seq", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("peer_export")
    op.drop_table("publication_meta")
    op.drop_index("ix_publication_state_until", "publication")
    op.drop_table("publication")
