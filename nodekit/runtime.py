"""An opened node home: configuration, database engine and sessions, and creating a new home."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from nodekit import migrate
from nodekit.db import make_engine, make_sessionmaker, normalise_url
from nodekit.errors import ConfigError, DatabaseError, HomeError
from nodekit.home import CONFIG_NAME, NodeConfig, Role, load_config, with_article, write_config
from nodekit.i18n import N_, Shown
from nodekit.models import NodeMeta

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NodeSpec:
    """What distinguishes one node program from the other: its role and its own migrations."""

    role: Role
    migrations: Path
    # The head revisions of the exchange branch and this node's own branch that this code expects. Kept
    # here so that a command can check the schema without importing Alembic (a few hundred ms per
    # command); tests/unit/nodekit/test_database.py checks it against Alembic's own view.
    schema_heads: frozenset[str] = frozenset()
    # Called at the end of init_home, once the home and its database exist (e.g. to write a default file).
    on_init: Callable[[Node], None] | None = None
    status_extra: Callable[[Node], dict[str, Any]] | None = None  # node-specific lines of `status`
    exchange_status: Callable[[Node], dict[str, Any]] | None = None  # the exchange's part of `status`
    # databases of the node besides its own, by label, for `db backup` (the public node's web database)
    other_databases: Callable[[Node], dict[str, str]] | None = None

    @property
    def program(self) -> str:
        return f"{self.role}-node"


HOME_SUBDIRS = ("keys", "logs", "archive", "staging", "quarantine", "pending")


class Node:
    """A node home opened for work. Create with :meth:`open` or :func:`init_home`."""

    def __init__(self, config: NodeConfig, spec: NodeSpec, *, clock: Clock = utcnow) -> None:
        self.config = config
        self.spec = spec
        self.clock = clock
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    @classmethod
    def open(cls, home: Path, spec: NodeSpec, *, check_schema: bool = True, clock: Clock = utcnow) -> Node:
        node = cls(load_config(home, spec.role), spec, clock=clock)
        if check_schema:
            node.check_database()
        return node

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.config.database_url)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            self._sessions = make_sessionmaker(self.engine)
        return self._sessions

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work on the node database: commit on success, roll back on any exception."""
        with self.sessions() as session, session.begin():
            yield session

    def today(self) -> date:
        """Today's date where the node publishes (``[node] timezone``), by the node's clock."""
        try:
            zone = ZoneInfo(self.config.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                N_("{config}: unknown time zone {zone}"),
                params={"config": self.config.config_path, "zone": repr(self.config.timezone)},
            ) from exc
        return self.clock().astimezone(zone).date()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None

    def upgrade(self) -> None:
        owner = self.owner_role()
        if owner is not None and owner != self.spec.role:
            raise DatabaseError(
                N_("{database} already belongs to {owner} node; give each node its own database"),
                reason="wrong-database",
                params={"database": safe_url(self.config.database_url), "owner": Shown(with_article(owner), owner)},
            )
        from alembic.util import CommandError

        try:
            migrate.upgrade(self.engine, self.spec.migrations)
        except OperationalError as exc:
            raise DatabaseError(
                N_("{database}: cannot migrate: {error}"),
                params={"database": safe_url(self.config.database_url), "error": exc.orig},
            ) from exc
        except CommandError as exc:
            raise DatabaseError(
                N_(
                    "{database}: cannot migrate: {error} (a database written by a newer credgap, or not a node database)"
                ),
                reason="schema",
                params={"database": safe_url(self.config.database_url), "error": exc},
            ) from exc

    def owner_role(self) -> str | None:
        """The role recorded in the database, or None for a database no node has claimed yet."""
        try:
            if "node_meta" not in inspect(self.engine).get_table_names():
                return None
            with self.engine.connect() as conn:
                row = conn.execute(select(NodeMeta.value).where(NodeMeta.key == "role")).first()
        except OperationalError as exc:
            raise DatabaseError(
                N_("{database}: cannot connect: {error}"),
                params={"database": safe_url(self.config.database_url), "error": exc.orig},
            ) from exc
        return None if row is None else str(row[0])

    def schema_state(self) -> tuple[set[str], set[str]]:
        """(current revisions, head revisions)."""
        try:
            heads = set(self.spec.schema_heads) or migrate.head_revisions(self.spec.migrations)
            return migrate.current_revisions(self.engine), heads
        except OperationalError as exc:
            raise DatabaseError(
                N_("{database}: cannot connect: {error}"),
                params={"database": safe_url(self.config.database_url), "error": exc.orig},
            ) from exc

    def check_database(self) -> None:
        """Refuse a database that is not migrated or that belongs to another role."""
        current, heads = self.schema_state()
        if current != heads:
            raise DatabaseError(
                N_("{database}: schema is not current (at {current}, need {heads}); run `{program} db upgrade`"),
                reason="schema",
                params={
                    "database": safe_url(self.config.database_url),
                    "current": sorted(current) or "nothing",
                    "heads": sorted(heads),
                    "program": self.spec.program,
                },
            )
        meta = self.meta()
        role = meta.get("role")
        if role != self.spec.role:
            raise DatabaseError(
                N_("{database} belongs to {owner} node, not to this {role} node"),
                reason="wrong-database",
                params={
                    "database": safe_url(self.config.database_url),
                    "owner": Shown(with_article(str(role)), str(role)),
                    "role": Shown(self.spec.role, self.spec.role),
                },
            )

    def meta(self) -> dict[str, str]:
        try:
            with self.sessions() as s:
                return {m.key: m.value for m in s.scalars(select(NodeMeta))}
        except SQLAlchemyError as exc:
            raise DatabaseError(
                N_("{database}: cannot read node_meta: {error}"),
                params={"database": safe_url(self.config.database_url), "error": exc},
            ) from exc

    def set_meta(self, session: Session, key: str, value: str) -> None:
        row = session.get(NodeMeta, key)
        if row is None:
            session.add(NodeMeta(key=key, value=value, updated_at=self.clock()))
        else:
            row.value = value
            row.updated_at = self.clock()

    def table_names(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())


def safe_url(url: str) -> str:
    """The database URL with any password hidden, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL we cannot parse is shown as its scheme only
        return url.split(":", 1)[0] + ":…"


def init_home(
    home: Path,
    spec: NodeSpec,
    *,
    name: str,
    medium: str = "medium",
    database_url: str | None = None,
    clock: Clock = utcnow,
) -> Node:
    """Create a node home with a commented ``node.toml`` and a migrated database."""
    if (home / CONFIG_NAME).exists():
        raise HomeError(N_("{config}: already exists; this home is initialised"), params={"config": home / CONFIG_NAME})
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home.chmod(0o700)
    for sub in HOME_SUBDIRS:
        (home / sub).mkdir(mode=0o700, exist_ok=True)
    url = normalise_url(database_url) if database_url else "sqlite:///{home}/node.db"
    cfg = write_config(home, spec.role, name, url, medium)
    node = Node(load_config(home, spec.role), spec, clock=clock)
    try:
        if node.owner_role() is not None:
            raise DatabaseError(
                N_("{database} already belongs to a node; give each node its own database"),
                reason="wrong-database",
                params={"database": safe_url(node.config.database_url)},
            )
        node.upgrade()
        with node.transaction() as s:
            node.set_meta(s, "role", spec.role)
            node.set_meta(s, "name", name)
            node.set_meta(s, "created_at", clock().isoformat())
    except BaseException:
        # A home whose database could not be prepared is not a home: let the operator retry init.
        node.close()
        cfg.unlink(missing_ok=True)
        raise
    if spec.on_init is not None:
        try:
            spec.on_init(node)
        except BaseException:
            node.close()
            raise
    return node
