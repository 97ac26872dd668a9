"""exchange branch: log checkpoints, receipts (received and to send) and the peers' checkpoints

Revision ID: e0005
Revises: e0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e0005"
down_revision: str | None = "e0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_checkpoint",
        sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("sig", sa.String(128), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
    )
    op.create_table(
        "receipt",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("peer_node", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("sig", sa.String(128), nullable=False),
        sa.Column("carrier_seq", sa.BigInteger(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_receipt_outbox", "receipt", ["direction", "peer_node", "carrier_seq"])
    op.create_index("ix_receipt_digest", "receipt", ["digest"])
    op.create_table(
        "peer_checkpoint",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("peer_node", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("sig", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("package_seq", sa.BigInteger(), nullable=False),
        sa.Column("package_digest", sa.String(64), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_peer_checkpoint_peer_size", "peer_checkpoint", ["peer_node", "size"])


def downgrade() -> None:
    op.drop_index("ix_peer_checkpoint_peer_size", "peer_checkpoint")
    op.drop_table("peer_checkpoint")
    op.drop_index("ix_receipt_digest", "receipt")
    op.drop_index("ix_receipt_outbox", "receipt")
    op.drop_table("receipt")
    op.drop_table("log_checkpoint")
