"""public branch: the published database (read model of published records, per-subject search
entries with their engine-specific full-text index, published documents)

Revision ID: p0002
Revises: p0001
Create Date: 2026-11-26

The search index is engine-specific (docs/adr/0002-cjk-search-index.md): on SQLite an FTS5 table
``search_fts`` with the ``ascii`` tokenizer, external content ``search_subject.grams``; on
PostgreSQL a GIN index over the ``tsvector`` column ``search_subject.grams``. Both are maintained by
``public_node.search`` in the same transaction as the records (no triggers: per-row triggers into
FTS5 fill about ten times slower than the explicit statements).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision: str = "p0002"
down_revision: str | None = "p0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = 32  # frozen copy of public_node.models.KEY_LENGTH as of this revision


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "published_record",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(KEY), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("subject_key", sa.String(KEY), nullable=False),
        sa.Column("subject_name", sa.Text(), nullable=False),
        sa.Column("subject_category", sa.String(32), nullable=False),
        sa.Column("uscc", sa.String(64), nullable=True),
        sa.Column("doc_no", sa.Text(), nullable=True),
        sa.Column("doc_key", sa.Text(), nullable=True),
        sa.Column("publish_until", sa.Date(), nullable=True),
        sa.Column("list_type", sa.String(16), nullable=True),
        sa.Column("record_date", sa.Date(), nullable=True),
        sa.Column("row", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key"),
    )
    op.create_index("ix_published_record_subject_key", "published_record", ["subject_key"])
    op.create_index("ix_published_record_doc_key", "published_record", ["doc_key"])
    op.create_index("ix_published_record_publish_until", "published_record", ["publish_until"])
    op.create_index("ix_published_record_list", "published_record", ["kind", "list_type", "record_date"])

    op.create_table(
        "search_subject",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False, autoincrement=True),
        sa.Column("subject_key", sa.String(KEY), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("uscc", sa.String(64), nullable=True),
        sa.Column("name_norm", sa.Text(), nullable=False),
        sa.Column("code_norm", sa.String(64), nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source_key", sa.String(KEY), nullable=False),
        sa.Column("grams", TSVECTOR() if dialect == "postgresql" else sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject_key"),
    )
    op.create_index("ix_search_subject_uscc", "search_subject", ["uscc"])
    if dialect == "postgresql":
        op.create_index("ix_search_subject_grams", "search_subject", ["grams"], postgresql_using="gin")
    else:
        # ascii tokenizer: every non-ASCII character is a token character whatever its Unicode
        # version, ASCII letters and digits are too, and the grams hold nothing else.
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5("
            "grams, tokenize = 'ascii', content = 'search_subject', content_rowid = 'id')"
        )

    op.create_table(
        "published_document",
        sa.Column("key", sa.String(KEY), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("subject_key", sa.String(KEY), nullable=True),
        sa.Column("publish_until", sa.Date(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_published_document_subject_key", "published_document", ["subject_key"])


def downgrade() -> None:
    op.drop_table("published_document")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_search_subject_grams", table_name="search_subject")
    else:
        op.execute("DROP TABLE search_fts")
    op.drop_table("search_subject")
    op.drop_table("published_record")
