"""Bulk writes of the published database: rows given as plain tuples in column order go to the
engine's fastest path — COPY on PostgreSQL, one prepared statement executed many times on SQLite —
without SQLAlchemy's per-row parameter processing (the values are already strings, integers and
None, with dates as ISO strings, exactly what both engines store)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, Table, Text, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import Insert

# Keys per lookup statement: IN (...) lists on SQLite (well under its parameter limit); one array
# parameter on PostgreSQL, where long IN lists cost more to send and parse than to answer.
CHUNK = {"sqlite": 500, "postgresql": 5000}

_COMPILED: dict[tuple[int, str], str] = {}


def member_of(column: ColumnElement[Any], values: Sequence[Any], dialect: str) -> ColumnElement[bool]:
    """``column IN values``: an IN list on SQLite, ``= ANY(array)`` on PostgreSQL."""
    if dialect == "postgresql":
        item = BigInteger() if values and isinstance(values[0], int) else Text()
        return column == any_(bindparam(None, list(values), type_=ARRAY(item)))
    return column.in_(list(values))


def chunks(values: Sequence[Any], dialect: str) -> Iterable[Sequence[Any]]:
    size = CHUNK.get(dialect, 500)
    for i in range(0, len(values), size):
        yield values[i : i + size]


def insert_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in the caller's transaction."""
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if conn.dialect.name == "postgresql":
        copy_rows(conn, f"COPY {quote(table.name)} ({names}) FROM STDIN", rows)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", list(rows))  # noqa: S608


def copy_rows(conn: Connection, copy_sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
    """PostgreSQL ``COPY ... FROM STDIN`` on the connection's own transaction (psycopg 3)."""
    raw: Any = conn.connection.dbapi_connection
    with raw.cursor() as cur, cur.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(row)


def execute_compiled_many(
    conn: Connection, stmt: Insert, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> int:
    """Run a Core INSERT (e.g. an upsert) over many parameter tuples on SQLite; returns the rows
    changed. The statement is compiled once per process; its positional parameters must be exactly
    ``columns``, in order."""
    cache_key = (id(stmt), conn.dialect.name)
    sql = _COMPILED.get(cache_key)
    if sql is None:
        compiled = stmt.compile(dialect=conn.dialect)
        if tuple(compiled.positiontup or ()) != tuple(columns):
            raise AssertionError(f"statement parameters {compiled.positiontup} are not {tuple(columns)}")
        sql = _COMPILED[cache_key] = str(compiled)
    result = conn.exec_driver_sql(sql, list(rows))
    return int(result.rowcount)
