"""internal branch: base revision of the internal node's own tables

Revision ID: i0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "i0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("internal",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
