"""The web database: its migration chain builds exactly the models (on both engines), the heads the
code expects are Alembic's, it is never the published database, and the published one is read-only
to the platform."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from nodekit.errors import DatabaseError
from nodekit.runtime import Node
from public_node.web import appmodels, authmodels, db  # noqa: F401  (every web model registered)
from public_node.web.models import WebBase

pytestmark = pytest.mark.db


def test_the_web_chain_builds_the_models(database_url: str) -> None:
    engine = db.web_engine(database_url)
    try:
        db.upgrade_web_database(engine)
        assert db.web_schema_current(engine)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), WebBase.metadata) == []
        assert db.cursor_secret(engine) == db.cursor_secret(engine)  # made once, then kept
        assert len(db.cursor_secret(engine)) == 32
    finally:
        engine.dispose()


def test_the_heads_the_code_expects_are_alembics() -> None:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(db._SCRIPTS))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("version_locations", str(db.WEB_MIGRATIONS))
    assert set(ScriptDirectory.from_config(cfg).get_heads()) == set(db.WEB_HEADS)


def test_the_published_database_is_read_only_to_the_platform(home: Node, db_engine_name: str) -> None:
    engine = db.read_engine(home.config.database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM published_record")).scalar_one() > 0
            # the engine's error handler names the cause (nodekit.db): a read-only database, not an internal error
            with pytest.raises(DatabaseError if db_engine_name == "sqlite" else Exception) as caught:
                conn.execute(text("DELETE FROM published_record"))
            if db_engine_name == "sqlite":
                assert caught.value.reason == "database-read-only", caught.value
    finally:
        engine.dispose()
