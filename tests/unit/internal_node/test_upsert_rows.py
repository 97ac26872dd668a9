"""Bulk inserts of the ingest store exactly what a Core executemany would: the same bytes in SQLite for
every column type (timestamps, dates, amounts, nulls)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine, insert, text

from internal_node.models import RECORD_MODELS, Base, Subject
from internal_node.upsert import insert_rows


def stored(rows: list[dict[str, Any]], bulk: bool) -> list[tuple[Any, ...]]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    table = RECORD_MODELS["penalty"].__table__
    with engine.begin() as conn:
        subject = {c.name: None for c in Subject.__table__.c}
        subject.update(id=1, natural_key="k", category="legal_person", name="昆明", version=1, change_seq=1,
                       source_unit="u", disclosure="public", record_status="normal",
                       content_digest="d", created_at=datetime(2026, 1, 1, tzinfo=UTC),
                       updated_at=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
        conn.execute(insert(Subject.__table__), [subject])
        if bulk:
            insert_rows(conn, table, rows)  # type: ignore[arg-type]
        else:
            conn.execute(insert(table), rows)
        return [tuple(r) for r in conn.execute(text("SELECT * FROM penalty ORDER BY id"))]


def test_bulk_rows_are_stored_as_core_stores_them() -> None:
    table = RECORD_MODELS["penalty"].__table__
    base = {c.name: None for c in table.c if c.name != "id"}
    rows = []
    for i, when in enumerate(
        [datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC), datetime(2026, 3, 4, 13, 6, tzinfo=UTC)]
    ):
        row = dict(base)
        row.update(
            subject_id=1, decision_no=f"罚〔2026〕{i}号", authority="昆明市市场监督管理局", decision_date=date(2026, 3, i + 1),
            fine_amount=Decimal("12.3400"), version=1, change_seq=i + 1, content_digest="d", created_at=when,
            updated_at=when, source_unit="u", party_name="昆明", party_category="legal_person", violation_type="v",
            violation_facts="f", legal_basis="b", penalty_types="fine", content="c", severity="general",
            authority_uscc="11530100MB0123456X", disclosure="public", record_status="normal",
        )  # fmt: skip
        rows.append(row)
    assert stored(rows, bulk=True) == stored(rows, bulk=False)
