"""The platform's two databases: the published one, read-only, one consistent snapshot per request;
and its own web database (counters, reports), migrated through its own Alembic chain."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url

from nodekit.db import make_engine, normalise_url
from public_node.web.models import META_TABLE

WEB_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WEB_HEADS = frozenset({"w0003"})
_SCRIPTS = Path(__file__).resolve().parents[2] / "nodekit" / "migrations"


def read_engine(url: str, **kwargs: Any) -> Engine:
    """An engine on the published database that can only read, each transaction one snapshot.

    SQLite (WAL): ``nodekit.db`` hands transaction control to SQLAlchemy and emits a plain ``BEGIN``
    (deferred, so a reader never takes the write lock), which pysqlite on its own would not do for a
    SELECT; the first SELECT then fixes the snapshot every later statement of the request reads, while
    an import commits beside it. ``query_only`` refuses any write. PostgreSQL (primary or streaming
    replica): REPEATABLE READ, READ ONLY, so every statement of a request sees one snapshot, not each
    its own as under READ COMMITTED.
    """
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "postgresql":
        kwargs.setdefault("pool_size", 8)
        engine = make_engine(url, **kwargs)
        return engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    engine = make_engine(url, immediate=False, **kwargs)

    @event.listens_for(engine, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA query_only = ON")
        cur.close()

    return engine


def web_engine(url: str, **kwargs: Any) -> Engine:
    """An engine on the web database. On SQLite, ``synchronous = NORMAL``: a rate-limit counter lost
    in a power cut costs nothing, and an fsync per request would bound the platform's speed."""
    engine = make_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _create_shared(Path(database))

        @event.listens_for(engine, "connect")
        def _normal(dbapi_connection: Any, _record: Any) -> None:
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

    return engine


def _create_shared(path: Path) -> None:
    """Create a new SQLite web database file with the access its folder gives: group-writable where the
    folder's group may write (the deployment's ``/var/lib/credgap/web``, 2770: the platform's user and
    the node's ``export`` and ``admin`` commands share it, docs/OPERATIONS.md "File modes"), the owner's
    alone otherwise. Whichever of them creates it, the other can then open it for writing."""
    try:
        shared = path.parent.stat().st_mode & stat.S_IWGRP
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError:  # there already, or a folder we cannot see: SQLite says what is wrong, if anything
        return
    try:
        os.fchmod(fd, 0o660 if shared else 0o600)
    finally:
        os.close(fd)


def upgrade_web_database(engine: Engine) -> None:
    """Bring the web database to its head revision (its own chain: nothing of the node's schema)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("version_locations", str(WEB_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def web_schema_current(engine: Engine) -> bool:
    """Whether the web database is at the revisions this code expects."""
    with engine.connect() as conn:
        try:
            found = {str(r[0]) for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
        except Exception:  # no version table yet: not migrated
            return False
    return found == set(WEB_HEADS)


def cursor_secret(engine: Engine) -> bytes:
    """The secret that authenticates page cursors: made once per web database (so every worker and
    every instance sharing it agree), kept there and never in the repository or the config file."""
    with engine.begin() as conn:
        ins = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(META_TABLE)
        conn.execute(
            ins.values(key="cursor_secret", value=secrets.token_hex(32)).on_conflict_do_nothing(index_elements=["key"])
        )
        value = conn.execute(select(META_TABLE.c.value).where(META_TABLE.c.key == "cursor_secret")).scalar_one()
    return bytes.fromhex(value)
