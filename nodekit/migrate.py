"""Schema migrations for both nodes through Alembic: the shared ``exchange`` branch plus one branch per role."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: importing it costs a few hundred milliseconds, and most
# commands only compare the stored revisions with the heads their NodeSpec names.
VERSION_TABLE = "alembic_version"

_HERE = Path(__file__).resolve().parent
EXCHANGE_VERSIONS = _HERE / "migrations" / "versions"


def alembic_config(node_versions: Path) -> Config:
    """An Alembic configuration over the exchange branch and one node's own migration folder."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("version_locations", f"{EXCHANGE_VERSIONS} {node_versions}")
    return cfg


def upgrade(engine: Engine, node_versions: Path, target: str = "heads") -> None:
    """Bring the node database to ``target`` (all branch heads by default), in one transaction."""
    from alembic import command

    cfg = alembic_config(node_versions)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


def current_revisions(engine: Engine) -> set[str]:
    """The revisions stored in the database (Alembic's version table; empty before the first upgrade)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return set()
        return {str(r[0]) for r in conn.execute(text("SELECT version_num FROM alembic_version"))}


def head_revisions(node_versions: Path) -> set[str]:
    """The heads of the exchange branch and one node's branch, as Alembic reads the migration scripts."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config(node_versions)).get_heads())
