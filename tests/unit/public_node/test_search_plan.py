"""Proof that name search is answered from the full-text index, not by scanning: the query plans of
2-, 3- and 4-character (and 1-character) Chinese queries on a table of 20 000 subjects.

SQLite: the plan drives the query from the FTS5 table with its MATCH constraint, and reaches the
entries and records by key, with no SCAN of a table. PostgreSQL: after ANALYZE, on a table large
enough for the planner to choose freely (no ``enable_seqscan = off``), the plan is a bitmap scan of
the GIN index, with no sequential scan of any table for 2 to 4 characters.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Connection

from nodekit.runtime import Node, init_home
from public_node import SPEC, store
from public_node.search import normalise, search_statement
from tests.conftest import create_database_url, drop_database
from tests.unit.public_node.conftest import TODAY
from tests.unit.public_node.data import row, subject, upsert

pytestmark = pytest.mark.db

QUERIES = ["字节", "字节跳", "字节跳动", "京"]


@pytest.fixture(scope="module")
def big(db_engine_name: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """One public node for the module (filling it takes seconds): 20 000 subjects, half of them
    with a penalty, and one well-known name."""
    tmp = tmp_path_factory.mktemp("plan")
    url, handle = create_database_url(db_engine_name, tmp, "plan")
    node = init_home(tmp / "public", SPEC, name="plan", database_url=url)
    try:
        _fill(node, TODAY)
        yield node
    finally:
        node.close()
        drop_database(handle)


def _fill(node: Node, today: date) -> None:
    rnd = random.Random(6)
    pool = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    items: list[dict[str, Any]] = []
    for i in range(20_000):
        name = "".join(rnd.choice(pool) for _ in range(rnd.randint(4, 12))) + "有限公司"
        items.append(subject(f"s{i}", name))
        if i % 2:
            items.append(upsert("penalty", f"p{i}", 1, row(f"s{i}", name, publish_until="2027-12-31")))
    items.append(subject("bd", "北京字节跳动科技有限公司"))
    with node.transaction() as s:
        store.apply_changes(s, items, today=today)
        assert [h.name for h in store.search(s, "字节跳动", today=today).items] == ["北京字节跳动科技有限公司"]


def plan(conn: Connection, query: str, today: date) -> list[str]:
    stmt = search_statement(conn.dialect.name, normalise(query), today=today).limit(20)
    compiled = stmt.compile(dialect=conn.dialect)
    if conn.dialect.name == "sqlite":
        params = tuple(
            v.isoformat() if isinstance(v, date) else v
            for v in (compiled.params[n] for n in compiled.positiontup or ())
        )
        return [str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params)]
    return [str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + str(compiled), compiled.params)]


@pytest.mark.parametrize("query", QUERIES)
def test_search_uses_the_index(big: Node, today: date, query: str) -> None:
    with big.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
        lines = plan(conn, query, today)
    text = "\n".join(lines)
    if big.engine.dialect.name == "sqlite":
        # FTS5 shows a MATCH constraint as "M" in its index string.
        assert any(re.match(r"SCAN search_fts VIRTUAL TABLE INDEX \d+:M", line) for line in lines), text
        assert "SEARCH search_subject USING INTEGER PRIMARY KEY" in text, text
        assert "SEARCH published_record USING INDEX ix_published_record_subject_key" in text, text
        assert not any(re.match(r"SCAN (search_subject|published_record)\b", line) for line in lines), text
    else:
        assert "Bitmap Index Scan on ix_search_subject_grams" in text, text
        assert "Seq Scan on search_subject" not in text, text
        if len(query) > 1:
            assert "Seq Scan" not in text, text
        # A 1-character prefix query is estimated at hundreds of names; the planner may then check
        # their records' expiry with a hash join over published_record rather than one index probe
        # per name. The names themselves still come from the index.


def test_a_query_matching_everything_may_scan_on_postgresql(big: Node, today: date) -> None:
    """The control for the test above: the planner is free, and does scan when the index cannot help
    (every name contains 有限), so the index plans above are its own choice."""
    if big.engine.dialect.name != "postgresql":
        pytest.skip("SQLite always drives MATCH from the FTS5 table")
    with big.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        assert "Seq Scan on search_subject" in "\n".join(plan(conn, "有限", today))


def test_the_departments_come_from_the_government_records_not_every_subject(big: Node, today: date) -> None:
    """The government-credit index page: departments are a few dozen among all subjects, so the query
    starts from the gov_credit records (a primary-key range) and reaches each department by its key. In
    name order with an EXISTS per subject it read every subject first (4 s at 1M records)."""
    from sqlalchemy import event

    from public_node.queries import gov_departments

    if big.engine.dialect.name != "sqlite":
        pytest.skip("the plan's words are SQLite's; the query is the same on PostgreSQL")
    seen: list[tuple[str, Any]] = []
    with big.engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", lambda _c, _cur, sql, params, *_: seen.append((sql, params)))
        assert gov_departments(conn, today=today).items == []
        [(sql, params)] = [(q, p) for q, p in seen if "search_subject" in q]
        lines = [str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
    text = "\n".join(lines)
    assert not any(re.match(r"SCAN search_subject\b", line) for line in lines), text
    assert any(re.match(r"SEARCH published_record USING (INDEX|PRIMARY KEY)", line) for line in lines), text
