"""Commands both node programs have: ``init``, ``status`` and ``db``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nodekit import i18n
from nodekit.cli import NodeContext, emit, json_option, pass_node_context
from nodekit.home import resolve_home
from nodekit.runtime import Node, NodeSpec, init_home, safe_url


def node_status(node: Node) -> dict[str, Any]:
    current, heads = node.schema_state()
    meta = node.meta()
    cfg = node.config
    return {
        "role": cfg.role,
        "name": cfg.name,
        "home": str(cfg.home),
        "database": {
            "url": safe_url(cfg.database_url),
            "dialect": node.engine.dialect.name,
            "schema": sorted(current),
            "schema_current": current == heads,
            "owner_role": meta.get("role"),
        },
        "medium": {"path": str(cfg.medium), "present": cfg.medium.is_dir()},
        "exchange_period_seconds": cfg.exchange_period,
        "exchange": node.spec.exchange_status(node)
        if node.spec.exchange_status is not None and current == heads
        else None,
        **(node.spec.status_extra(node) if node.spec.status_extra is not None and current == heads else {}),
    }


def register(root: click.Group, spec: NodeSpec) -> None:

    @root.command("init")
    @click.option("--name", default=None, help="A human name for this node (default: the home's folder name).")
    @click.option(
        "--medium",
        default="medium",
        show_default=True,
        help="Path of the transfer medium (directory or mount point).",
    )
    @click.option(
        "--database-url",
        default=None,
        help="Database URL (default: SQLite in the home, sqlite:///<home>/node.db).",
    )
    @json_option
    @pass_node_context
    def init_cmd(nctx: NodeContext, name: str | None, medium: str, database_url: str | None, as_json: bool) -> None:
        """Create a node home: node.toml with commented defaults, folders, and a migrated database."""
        home = resolve_home(nctx.home_arg)
        node = init_home(home, nctx.spec, name=name or home.name, medium=medium, database_url=database_url)
        try:
            from nodekit.i18n import _

            data = {"ok": True, "home": str(home), "config": str(node.config.config_path)}
            role = {"internal": _("internal"), "public": _("public")}.get(spec.role, spec.role)
            said = _("initialised {role} node home {home}").format(role=role, home=home)
            edit = _("edit {config} to adjust it").format(config=node.config.config_path)
            emit(data, f"{said}\n  {edit}", as_json=as_json)
        finally:
            node.close()

    @root.command("status")
    @click.option(
        "--check",
        is_flag=True,
        help="For monitoring: exit 0 when all is well, 5 on a warning (incomplete, action pending), "
        "1 on an alarm, a missing medium or an out-of-date schema.",
    )
    @json_option
    @pass_node_context
    @click.pass_context
    def status_cmd(ctx: click.Context, nctx: NodeContext, check: bool, as_json: bool) -> None:
        """Show the node's role, database, schema, transfer medium and channels, and what needs doing."""
        from nodekit import status_view

        data = node_status(nctx.node(check_schema=False))
        found = status_view.problems(data)
        if check:
            data["check"] = {
                "status": {0: "ok", 5: "warning"}.get(status_view.verdict(found), "alarm"),
                "problems": [p.as_dict() for p in found],
            }
        emit(data, lambda: status_view.echo_status(data, found, check=check), as_json=as_json)
        if check and status_view.verdict(found):
            ctx.exit(status_view.verdict(found))

    @root.group("db")
    def db_group() -> None:
        """Database schema management (Alembic migrations)."""

    @db_group.command("upgrade")
    @pass_node_context
    def db_upgrade(nctx: NodeContext) -> None:
        """Apply pending schema migrations to the node database."""
        node = nctx.node(check_schema=False)
        node.upgrade()
        current, _heads = node.schema_state()
        click.echo(i18n._("schema at {heads}").format(heads=", ".join(sorted(current))))

    @db_group.command("backup")
    @click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
    @json_option
    @pass_node_context
    def db_backup(nctx: NodeContext, dest: Path, as_json: bool) -> None:
        """Copy the node's SQLite databases, consistently while the node runs, into the new directory
        DEST with a BACKUP.json of their hashes. PostgreSQL: use pg_dump (docs/OPERATIONS.md). The keys
        are not included: back up the home's keys/ apart."""
        from nodekit.backup import backup

        node = nctx.node()
        databases = {"node": node.config.database_url}
        if node.spec.other_databases is not None:
            databases.update(node.spec.other_databases(node))
        current, _heads = node.schema_state()
        about = {"role": node.spec.role, "name": node.config.name, "schema": sorted(current)}
        report = backup(databases, dest, about=about, clock=node.clock, optional=frozenset(databases) - {"node"})
        emit(
            {"path": str(report.path), "files": report.files},
            "\n".join(
                i18n._("backed up {path} ({size} bytes, sha256 {sha256})").format(
                    path=dest / name, size=f["bytes"], sha256=f["sha256"]
                )
                for name, f in report.files.items()
            ),
            as_json=as_json,
        )

    @db_group.command("current")
    @json_option
    @pass_node_context
    def db_current(nctx: NodeContext, as_json: bool) -> None:
        """Show the schema revisions of the node database and whether they are current."""
        current, heads = nctx.node(check_schema=False).schema_state()
        emit(
            {"current": sorted(current), "heads": sorted(heads), "up_to_date": current == heads},
            f"current {', '.join(sorted(current)) or '-'}; heads {', '.join(sorted(heads))}",
            as_json=as_json,
        )
