"""Schema migrations for both nodes through Alembic: the shared ``exchange`` branch plus one branch per role."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

_HERE = Path(__file__).resolve().parent
EXCHANGE_VERSIONS = _HERE / "migrations" / "versions"


def alembic_config(node_versions: Path) -> Config:
    """An Alembic configuration over the exchange branch and one node's own migration folder."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.set_main_option("path_separator", "space")
    cfg.set_main_option("version_locations", f"{EXCHANGE_VERSIONS} {node_versions}")
    return cfg


def upgrade(engine: Engine, node_versions: Path, target: str = "heads") -> None:
    """Bring the node database to ``target`` (all branch heads by default), in one transaction."""
    cfg = alembic_config(node_versions)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions(node_versions: Path) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(node_versions)).get_heads())
