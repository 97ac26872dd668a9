"""exchange branch: node_meta

Revision ID: e0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("exchange",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "node_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(1000), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("node_meta")
