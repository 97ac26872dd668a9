"""A full disk under the published database (issue 12 case 17): SQLite rolls the whole transaction
back on SQLITE_FULL, and the savepoint the upsert uses must not hide that cause behind "no such
savepoint". A real tmpfs, filled; then emptied, and the same changes apply. PostgreSQL's disk is
the server's and cannot be filled per test: tests/unit/nodekit/test_db_faults.py maps its SQLSTATE."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from nodekit.errors import DiskFull
from nodekit.runtime import init_home
from public_node import SPEC, store
from tests.faults import fill
from tests.integration.medium_support import tmpfs
from tests.unit.public_node.data import row, upsert


def truncate_wal(db: Path) -> None:
    """Checkpoint the WAL into the database and cut it to nothing (outside any transaction)."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        conn.close()


@pytest.mark.db
def test_a_full_disk_during_an_upsert_is_reported_as_a_full_disk(
    tmp_path: Path, today: date, db_engine_name: str
) -> None:
    if db_engine_name != "sqlite":
        pytest.skip("the savepoint and the full disk are SQLite's (PostgreSQL: test_db_faults.py)")
    with tmpfs(tmp_path / "disk", "8m") as disk:
        node = init_home(disk / "public", SPEC, name="public-test")  # SQLite in the home, on the tmpfs
        try:
            db = disk / "public" / "node.db"
            items = [
                upsert("penalty", f"p{i}", 1, row(f"s{i}", f"昆明第{i}建筑工程有限公司", doc_no=f"罚{i}"))
                for i in range(2000)
            ]
            truncate_wal(db)  # the transaction below must grow the WAL from nothing
            filler = fill(disk)
            with pytest.raises(DiskFull) as err, node.transaction() as s:
                s.execute(text("PRAGMA cache_size = 8"))  # a few pages: the upsert spills mid-statement
                store.apply_changes(s, items, today=today)
            assert str(err.value) == f"disk full: {db}"
            assert err.value.reason == "disk-full" and err.value.exit_code == 1
            filler.unlink()
            with node.transaction() as s:
                assert store.apply_changes(s, items, today=today).upserted == {"penalty": 2000}
        finally:
            node.close()
