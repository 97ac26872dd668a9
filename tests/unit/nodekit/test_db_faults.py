"""What a database error tells an operator (issue 12 case 17): the cause and the database in one
line, never SQL, never row data; on both engines.

PostgreSQL's disk cannot be filled per test (it is the server's), so the server is made to raise its
own ``disk_full`` SQLSTATE (53100) through the real engine and driver: the mapping under test sees
exactly what a full disk on the server produces. SQLite's full disk is real, on a tmpfs:
tests/unit/public_node/test_store_disk_full.py and tests/integration/test_disk_full.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert

from nodekit.db import database_location, make_engine
from nodekit.errors import DiskFull, ExitCode
from nodekit.models import NodeMeta
from nodekit.runtime import Node, init_home
from tests.helpers import run_cli

pytestmark = pytest.mark.db

ROW_DATA = "昆明示例建筑工程有限公司 91350100M000100Y43"


@pytest.fixture
def home(tmp_path: Path, database_url: str) -> Iterator[Node]:
    from internal_node import SPEC

    node = init_home(tmp_path / "int", SPEC, name="int", database_url=database_url)
    yield node
    node.close()


def test_the_servers_disk_full_sqlstate_is_a_full_disk(database_url: str, db_engine_name: str) -> None:
    if db_engine_name != "postgresql":
        pytest.skip("a PostgreSQL SQLSTATE; SQLite's full disk is tested on a real tmpfs")
    engine = make_engine(database_url)
    try:
        with pytest.raises(DiskFull) as err, engine.connect() as conn:
            conn.exec_driver_sql(
                "DO $$ BEGIN RAISE EXCEPTION 'could not extend file \"base/1/2\": No space left on device' "
                "USING ERRCODE = '53100'; END $$"
            )
    finally:
        engine.dispose()
    assert str(err.value) == f"disk full: {database_location(database_url)}"
    assert err.value.reason == "disk-full" and err.value.exit_code == ExitCode.FAILURE
    assert "@" not in str(err.value) and "postgres" in str(err.value).lower()


def test_an_unnamed_database_error_is_one_line_without_sql_or_row_data(
    home: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    def duplicate(node: Node) -> dict[str, object]:  # a row that breaks a unique key, holding "row data"
        with node.transaction() as s:
            s.execute(insert(NodeMeta).values(key="role", value=ROW_DATA, updated_at=node.clock()))
        return {}

    monkeypatch.setattr("nodekit.cli_common.node_status", duplicate)
    r = run_cli("internal-node", "--home", str(home.config.home), "status", "--json")
    assert r.code == ExitCode.FAILURE
    [line] = r.err.splitlines()
    where = database_location(home.config.database_url)
    assert line.startswith(f"internal-node: error: database error on {where} ("), line
    assert line.endswith("); the detail is in the node log"), line
    doc = r.json()
    assert doc["error"]["reason"] == "database"  # type: ignore[index]
    for text in (r.err, r.out):
        assert "INSERT" not in text and "昆明" not in text and "node_meta" not in text
    logged = (home.config.log_dir / "node.log").read_text(encoding="utf-8")
    assert "node_meta" in logged, "the detail is kept for whoever reads the log"
    assert "昆明" not in logged, "and even there never a statement's parameters"
