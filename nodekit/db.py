"""Database plumbing for both nodes: engines from a URL, sessions, the same code on SQLite and
PostgreSQL, and what a database error means for an operator.

Operators never see SQLAlchemy's message (it holds the statement, and without ``hide_parameters``
its parameters: rows of the credit database). :func:`database_fault` names the cause in one line
(disk full, locked, read-only, unreachable) and the database, from the driver's own code: SQLite's
result code or PostgreSQL's SQLSTATE. Engines raise the named causes in place of SQLAlchemy's
error; the CLI maps whatever else reaches it the same way; the detail goes to the node log only.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import ArgumentError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from nodekit.errors import ConfigError, DatabaseError, DiskFull, NodeError
from nodekit.i18n import N_

SQLITE_BUSY_TIMEOUT_MS = 30_000

log = logging.getLogger("credgap.db")

# SQLite primary result codes and PostgreSQL SQLSTATEs (or their two-character classes) by cause
_SQLITE = {
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_BUSY: "locked",
    sqlite3.SQLITE_LOCKED: "locked",
    sqlite3.SQLITE_READONLY: "read-only",
    sqlite3.SQLITE_CANTOPEN: "unreachable",
    sqlite3.SQLITE_IOERR: "io",
}
_POSTGRES = {
    "53100": "full",  # disk_full
    "55P03": "locked",  # lock_not_available
    "25006": "read-only",  # read_only_sql_transaction (a standby, or default_transaction_read_only)
    "08": "unreachable",  # connection exceptions
    "57P03": "unreachable",  # cannot_connect_now (starting up, shutting down)
}


def normalise_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg 3 so ``postgresql://`` works as users expect."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, immediate: bool = True, **kwargs: Any) -> Engine:
    """Create an engine for a node database.

    On SQLite the connection runs in WAL mode with ``synchronous=FULL``: a commit is durable when it
    returns, which the import path relies on before it removes a package from the medium. With
    ``immediate`` every transaction starts with ``BEGIN IMMEDIATE``, so two writers serialise at the
    start of their transactions instead of failing at their first write.
    """
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(N_("bad database URL {url}: {error}"), params={"url": repr(url), "error": exc}) from exc
    # a statement's parameters are rows of the credit database: never part of an error's text
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, immediate=immediate)
        _name_faults(engine, database_location(url))
        return engine
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **kwargs)
        _name_faults(engine, database_location(url))
        return engine
    raise ConfigError(
        N_("unsupported database {name}: use sqlite or postgresql"), params={"name": repr(parsed.get_backend_name())}
    )


def _configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    database = engine.url.database

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (SQLAlchemy's
        # documented recipe for correct SAVEPOINT and BEGIN behaviour on pysqlite).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")  # (opens, or creates, the -wal and -shm files)
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()
        if database and database != ":memory:" and not database.startswith("file:"):
            share_wal_files(database)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def share_wal_files(database: str) -> None:
    """Give a SQLite database's ``-wal`` and ``-shm`` files the database file's own access, where this
    process created them. SQLite makes them with the database's mode narrowed by the creating
    process's umask, so a reader of another user (the platform under its own user, through a shared
    group: docs/OPERATIONS.md, "File modes") met a ``-wal`` it could not read or a ``-shm`` it could not
    write, and failed. The ``-shm`` holds no records, only the WAL index every reader writes its read
    marks into: whoever may read the database may write it (0640 gives 0660)."""
    try:
        base = Path(database).stat().st_mode & 0o666
    except OSError:
        return
    for suffix, mode in (("-wal", base), ("-shm", base | (base & 0o044) >> 1)):
        side = Path(database + suffix)
        try:
            found = side.stat()
            if found.st_uid == os.geteuid() and found.st_mode & 0o7777 != mode:
                side.chmod(mode)
        except OSError:  # gone meanwhile (the last connection closed), or not ours: nothing to give
            continue


def database_location(url: str) -> str:
    """Where a database is, for an operator: the SQLite file, or the PostgreSQL server and database
    (never the password)."""
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        return "the node database"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "an in-memory SQLite database"
    where = parsed.host or "localhost"
    if parsed.port:
        where += f":{parsed.port}"
    return f"PostgreSQL {where}/{parsed.database or ''}"


def database_fault(exc: BaseException, where: str) -> NodeError:
    """One line for an operator naming the cause of a database error and the database: ``disk full``,
    ``database locked``, ``read-only`` or ``unreachable``, else the driver's code with a pointer to the
    node log. Never SQL, never row data."""
    error = _driver_error(exc)
    cause, code = _cause(error)
    if cause in ("io", "unreachable") and isinstance(error, sqlite3.Error) and _no_room(where):
        # SQLite cannot open a WAL database (its shared-memory file) or write its journal on a full
        # disk, and says "disk I/O error" or "unable to open": the filesystem says why
        cause = "full"
    if cause == "full":
        return DiskFull(N_("disk full: {where}"), params={"where": where})
    if cause == "locked":
        return DatabaseError(
            N_("database locked: {where}: another process held it too long; try again"),
            reason="database-locked",
            params={"where": where},
        )
    if cause == "read-only" and isinstance(error, sqlite3.Error) and _no_side_files(where):
        return DatabaseError(
            N_("database read-only: {where}: this user cannot create its -shm file; start the node's watch first"),
            reason="database-read-only",
            params={"where": where},
        )
    if cause == "read-only":
        return DatabaseError(
            N_("database read-only: {where}: it accepts no writes"),
            reason="database-read-only",
            params={"where": where},
        )
    if cause == "unreachable":
        return DatabaseError(
            N_("database unreachable: {where} ({code})"),
            reason="database-unreachable",
            params={"where": where, "code": code},
        )
    return DatabaseError(
        N_("database error on {where} ({code}); the detail is in the node log"), params={"where": where, "code": code}
    )


def _no_side_files(where: str) -> bool:
    """Whether a SQLite database in WAL mode is read by a user who may not create its ``-shm`` file (the
    platform under its own user, docs/OPERATIONS.md "File modes", while no writer holds it open)."""
    database = Path(where)
    return database.is_file() and not Path(f"{where}-shm").exists() and not os.access(database.parent, os.W_OK)


def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` came from the database or its driver (SQLAlchemy, sqlite3, psycopg)."""
    return isinstance(exc, StatementError | sqlite3.Error) or _driver_error(exc) is not exc or _is_psycopg(exc)


def log_database_error(exc: BaseException, where: str) -> None:
    """The detail of a database error for the node log: the driver's code and first line, and the
    statement; never its parameters, and never the further lines where a server quotes row values."""
    error = _driver_error(exc)
    first = str(error).strip().splitlines()[0][:500] if str(error).strip() else ""
    statement = getattr(exc, "statement", None)
    log.warning(
        "database error on %s: %s (%s): %s%s",
        where, type(error).__name__, _cause(error)[1], first,
        f" [statement: {' '.join(str(statement).split())[:1000]}]" if statement else "",
    )  # fmt: skip


def _driver_error(exc: BaseException) -> BaseException:
    """The driver's own exception behind ``exc`` (SQLAlchemy wraps it as ``.orig``), else ``exc``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.Error) or _is_psycopg(current):
            return current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return exc


def _is_psycopg(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("psycopg")


def _cause(error: BaseException) -> tuple[str | None, str]:
    """(cause, the driver's code as shown) of a driver error."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        name = getattr(error, "sqlite_errorname", None) or type(error).__name__
        return (_SQLITE.get(code & 0xFF) if isinstance(code, int) else None), str(name)
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return _POSTGRES.get(sqlstate) or _POSTGRES.get(sqlstate[:2]), f"SQLSTATE {sqlstate}"
    if _is_psycopg(error) and type(error).__name__ == "OperationalError":
        return "unreachable", "no connection"  # psycopg's own connection failures carry no SQLSTATE
    return None, type(error).__name__


def _no_room(path: str) -> bool:
    """Whether the filesystem holding the database file ``path`` has less room than SQLite needs to
    open it (a 32 KiB shared-memory file and a WAL page)."""
    file = Path(path)
    if not file.is_absolute():
        return False
    try:
        st = os.statvfs(file.parent)
    except OSError:
        return False
    free = st.f_bfree if os.geteuid() == 0 else st.f_bavail  # root may write into the reserved blocks
    return free * st.f_frsize < 64 * 1024


def _name_faults(engine: Engine, where: str) -> None:
    """Raise the named causes (:func:`database_fault`) in place of SQLAlchemy's errors, logging the detail."""

    @event.listens_for(engine, "handle_error")
    def _on_error(ctx: ExceptionContext) -> None:
        if ctx.is_pre_ping:  # the pool tests a connection and reconnects: not an error of ours
            return
        fault = database_fault(ctx.original_exception, where)
        if fault.reason == "database":  # unnamed: callers may handle SQLAlchemy's own error type
            return
        log_database_error(ctx.sqlalchemy_exception or ctx.original_exception, where)
        raise fault


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session


def dialect_name(engine: Engine) -> str:
    return engine.dialect.name
