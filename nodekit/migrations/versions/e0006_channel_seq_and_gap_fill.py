"""exchange branch: sequence numbers of the format's full width (12 digits); a received package's prev and signer

Revision ID: e0006
Revises: e0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e0006"
down_revision: str | None = "e0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# a header's seq goes up to 999 999 999 999 (docs/FORMAT.md §3.2): more than a 32-bit column holds
_SEQ_COLUMNS = {"channel": ("last_seq", "rebase_seq"), "channel_package": ("seq",)}


def upgrade() -> None:
    for table, columns in _SEQ_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)
            if table == "channel_package":
                # the gap-fill rule (docs/FORMAT.md §9.1) needs what a parked package commits to and its signer
                batch.add_column(sa.Column("prev", sa.String(64), nullable=True))
                batch.add_column(sa.Column("signer", sa.String(32), nullable=True))


def downgrade() -> None:
    for table, columns in _SEQ_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            if table == "channel_package":
                batch.drop_column("signer")
                batch.drop_column("prev")
            for column in columns:
                batch.alter_column(column, existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False)
