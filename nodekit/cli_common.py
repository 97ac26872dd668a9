"""Commands both node programs have: ``init``, ``status`` and ``db``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nodekit.cli import NodeContext, emit, json_option, pass_node_context, table
from nodekit.home import resolve_home
from nodekit.runtime import Node, NodeSpec, init_home, safe_url
from nodekit.text import printable


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
    program = spec.program

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
            data = {"ok": True, "home": str(home), "config": str(node.config.config_path)}
            emit(
                data,
                f"initialised {spec.role} node home {home}\n  edit {node.config.config_path} to adjust it",
                as_json=as_json,
            )
        finally:
            node.close()

    @root.command("status")
    @json_option
    @pass_node_context
    def status_cmd(nctx: NodeContext, as_json: bool) -> None:
        """Show the node's role, database, schema and transfer medium."""
        data = node_status(nctx.node(check_schema=False))

        def human() -> None:
            db = data["database"]
            click.echo(f"{program} {data['name']!s}  ({data['home']})")
            click.echo(
                f"  database  {db['url']} [{db['dialect']}] schema "
                f"{'current' if db['schema_current'] else 'NOT current: run db upgrade'}"
            )
            med = data["medium"]
            click.echo(f"  medium    {med['path']} {'' if med['present'] else '(missing)'}".rstrip())
            ex = data.get("exchange")
            if ex:
                click.echo(f"  freshness {ex['freshness']} (expected period {ex['expected_period_seconds']}s)")
                for alarm in ex.get("alarms", []):
                    click.echo(f"  ALARM     {alarm['alarm']} on {alarm['channel']} since {alarm['since']}")
                clock = ex.get("clock") or {}
                if clock.get("status") == "behind":
                    click.echo(
                        f"  clock     BEHIND by {clock['behind_seconds'] // 3600}h: it reads {clock['now']}, the newest "
                        f"package seen was created {clock['newest_created']}: set the clock right"
                    )
                quarantine, latest = ex["quarantine"]["count"], ex["quarantine"]["latest"]
                click.echo(
                    f"  quarantine {quarantine} package(s)"
                    + (f"; latest {printable(latest.get('folder'), 80)}: {printable(latest.get('reason'), 64)}: "
                       f"{printable(latest.get('message', ''), 300)}" if latest else "")
                )  # fmt: skip
                rows = [
                    [c["direction"], c["sender"][:13], c["recipient"][:13], c["last_seq"], c["last_created"] or "-",
                     c.get("last_applied_at") or "-", ",".join(map(str, c.get("pending", []))) or "-", ",".join(map(str, c.get("missing", c.get("unwritten", [])))) or "-"]
                    for c in ex["channels"]
                ]  # fmt: skip
                headers = ["dir", "sender", "recipient", "last seq", "last created", "last applied", "pending"]
                if rows:
                    click.echo(table(rows, [*headers, "missing/unsent"]))
                own = ex.get("own_key") or {}
                if own.get("expires_soon"):
                    click.echo(f"  WARNING own key {own['key_id']} expires {own['expires']}: rotate it (keys rotate)")
                for k in ex["trusted_keys"]:
                    soon = f"; WARNING: expires {k['expires']}" if k.get("expires_soon") else ""
                    click.echo(f"  trusts {k['role']} node {k['node_name']} key {k['key_id']} ({k['status']}{soon})")
            if isinstance(data.get("review"), dict):
                click.echo(f"  review    {data['review']['held']} record version(s) held for a person (review list)")
            apps = data.get("applications")
            if isinstance(apps, dict):
                click.echo(f"  applications {apps['open']} open (applications list)")
                for late in apps["overdue"]:
                    click.echo(
                        f"  ALARM     application {late['id'][:12]} ({late['type']}) overdue since {late['due']}"
                    )
                if apps.get("calendar_missing"):
                    click.echo(
                        f"  WARNING   no holiday calendar for {apps['calendar_missing']}: add it to workflow.toml "
                        "(deadlines are counted in working days)"
                    )
            for key, value in data.items():
                if key.startswith("records"):
                    click.echo(f"  {key:<9} {value}")

        emit(data, human, as_json=as_json)

    @root.group("db")
    def db_group() -> None:
        """Database schema management (Alembic migrations)."""

    @db_group.command("upgrade")
    @pass_node_context
    def db_upgrade(nctx: NodeContext) -> None:
        """Apply pending schema migrations to the node database."""
        node = nctx.node(check_schema=False)
        node.upgrade()
        current, _ = node.schema_state()
        click.echo(f"schema at {', '.join(sorted(current))}")

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
        current, _ = node.schema_state()
        about = {"role": node.spec.role, "name": node.config.name, "schema": sorted(current)}
        report = backup(databases, dest, about=about, clock=node.clock, optional=frozenset(databases) - {"node"})
        emit(
            {"path": str(report.path), "files": report.files},
            "\n".join(
                f"backed up {dest / name} ({f['bytes']} bytes, sha256 {f['sha256']})"
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
