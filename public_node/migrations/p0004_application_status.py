"""public branch: the internal node's acknowledgements of binding requests and applications — when each
was received and the date it is due to be decided by (FORMAT.md §10.6, ``application-status``)

Revision ID: p0004
Revises: p0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "p0004"
down_revision: str | None = "p0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "application_status",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("received", sa.DateTime(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
    )
    op.create_index("ix_application_status_due", "application_status", ["due"])


def downgrade() -> None:
    op.drop_index("ix_application_status_due", table_name="application_status")
    op.drop_table("application_status")
