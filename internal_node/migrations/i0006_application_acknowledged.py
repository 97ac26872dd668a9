"""internal branch: the due date last acknowledged to the public node, per binding request and
application (FORMAT.md §10.6, ``application-status``); NULL sends one with the next export

Revision ID: i0006
Revises: i0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "i0006"
down_revision: str | None = "i0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("binding_request", "application"):
        op.add_column(table, sa.Column("acknowledged_due", sa.Date(), nullable=True))


def downgrade() -> None:
    for table in ("binding_request", "application"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("acknowledged_due")
