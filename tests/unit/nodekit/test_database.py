"""Database plumbing on the engine selected with --db: migrations, models, dialect, durability settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, text

from internal_node import SPEC as INTERNAL
from nodekit import migrate
from nodekit.db import make_engine
from nodekit.models import ExchangeBase
from nodekit.runtime import Node, NodeSpec, init_home
from public_node import SPEC as PUBLIC
from tests.helpers import run_cli

pytestmark = pytest.mark.db


def node_metadata(spec: NodeSpec) -> MetaData:
    """Everything a node's models declare: the exchange tables plus the node's own."""
    import importlib

    md = MetaData()
    for table in ExchangeBase.metadata.tables.values():
        table.to_metadata(md)
    import pkgutil

    package = importlib.import_module(f"{spec.role}_node")
    for info in pkgutil.walk_packages(package.__path__, f"{spec.role}_node."):
        importlib.import_module(info.name)  # every module that declares a model registers it
    try:
        models = importlib.import_module(f"{spec.role}_node.models")
    except ModuleNotFoundError:
        return md
    for table in models.Base.metadata.tables.values():
        table.to_metadata(md)
    return md


def _models_module(spec: NodeSpec) -> object:
    import importlib

    try:
        return importlib.import_module(f"{spec.role}_node.models")
    except ModuleNotFoundError:
        return None


def test_dialect_is_the_one_requested(database_url: str, db_engine_name: str) -> None:
    engine = make_engine(database_url)
    assert engine.dialect.name == db_engine_name
    if db_engine_name == "postgresql":
        with engine.connect() as conn:
            version = conn.execute(text("select version()")).scalar_one()
            assert "PostgreSQL" in version
            assert conn.execute(text("show server_encoding")).scalar_one() == "UTF8"
    engine.dispose()


@pytest.mark.parametrize("spec", [INTERNAL, PUBLIC], ids=["internal", "public"])
def test_the_heads_a_node_expects_are_alembics(spec: NodeSpec) -> None:
    """A node checks its schema against ``NodeSpec.schema_heads`` without importing Alembic: a new
    migration must be named there too, or every command would refuse the upgraded database."""
    assert spec.schema_heads, "the spec names its heads"
    assert set(spec.schema_heads) == migrate.head_revisions(spec.migrations)


@pytest.mark.parametrize("spec", [INTERNAL, PUBLIC], ids=["internal", "public"])
def test_migrations_match_models(tmp_path: Path, database_url: str, spec: NodeSpec) -> None:
    node = init_home(tmp_path / "home", spec, name="t", database_url=database_url)
    try:
        current, heads = node.schema_state()
        assert current == heads
        # A node's models module may name engine-specific objects its migrations create outside the
        # models (e.g. a full-text index) through an alembic ``include_object`` hook.
        hook = getattr(_models_module(spec), "include_object", None)
        opts = {"include_object": hook} if hook is not None else {}
        with node.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), node_metadata(spec))
        # alembic's own bookkeeping table is not a model
        diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "alembic_version")]
        assert diff == [], f"migrations and models disagree: {diff}"
    finally:
        node.close()


def test_node_opens_and_checks_role(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    init_home(home, INTERNAL, name="i", database_url=database_url).close()
    node = Node.open(home, INTERNAL)
    assert node.meta()["role"] == "internal"
    node.close()


def test_sqlite_is_durable_per_commit(tmp_path: Path, db_engine_name: str) -> None:
    if db_engine_name != "sqlite":
        pytest.skip("SQLite pragmas")
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    engine.dispose()


@pytest.mark.parametrize("spec", [INTERNAL, PUBLIC], ids=["internal", "public"])
def test_db_upgrade_brings_a_database_that_is_behind_up_to_date(
    tmp_path: Path, database_url: str, spec: NodeSpec
) -> None:
    home = tmp_path / "home"
    node = init_home(home, spec, name="t", database_url=database_url)
    _, heads = node.schema_state()
    # one revision back on the shared exchange branch and on the node's own branch
    cfg = migrate.alembic_config(spec.migrations)
    with node.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "exchange@-1")
        command.downgrade(cfg, f"{spec.role}@-1")
    behind, _ = node.schema_state()
    node.close()
    assert behind != heads and len(behind) == len(heads), "each branch is one revision behind"

    program = spec.program
    before = run_cli(program, "--home", str(home), "db", "current", "--json")
    assert before.code == 0 and before.json() == {
        "current": sorted(behind),
        "heads": sorted(heads),
        "up_to_date": False,
    }
    r = run_cli(program, "--home", str(home), "db", "upgrade")
    assert r.code == 0, r.err
    after = run_cli(program, "--home", str(home), "db", "current", "--json")
    assert after.code == 0 and after.json() == {"current": sorted(heads), "heads": sorted(heads), "up_to_date": True}
    node = Node.open(home, spec)  # opens only on a current schema
    assert node.schema_state() == (heads, heads)
    node.close()


def test_a_channel_holds_every_sequence_number_of_the_format(tmp_path: Path, database_url: str) -> None:
    """Issue 13 case 6: a header's seq goes up to the 12 digits of a file name; the channel tables must
    hold it on every engine (a 32-bit column overflowed on PostgreSQL)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from nodekit.models import ChannelPackageRow, ChannelRow
    from transfer.limits import MAX_SEQ

    node = init_home(tmp_path / "home", PUBLIC, name="t", database_url=database_url)
    at = datetime(2026, 11, 26, tzinfo=UTC)
    try:
        with node.transaction() as s:
            row = ChannelRow(
                sender_node="int-a", recipient_node="pub-b", outbound=False, suite=1, last_seq=MAX_SEQ,
                last_digest="a" * 64, last_created=0, rebase_seq=MAX_SEQ, updated_at=at,
            )  # fmt: skip
            s.add(row)
            s.flush()
            s.add(
                ChannelPackageRow(
                    channel_id=row.id, seq=MAX_SEQ, digest="a" * 64, type="snapshot", status="applied", created=0,
                    size=1, counts="{}", file="p999999999999-aaaaaaaaaaaaaaaa.cgp", recorded_at=at,
                )
            )  # fmt: skip
        with node.sessions() as s:
            assert s.scalars(select(ChannelRow.last_seq)).one() == MAX_SEQ
            assert s.scalars(select(ChannelPackageRow.seq)).one() == MAX_SEQ
    finally:
        node.close()
