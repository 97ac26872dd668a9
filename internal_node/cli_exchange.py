"""The internal node's exchange commands: ``export`` and ``import``."""

from __future__ import annotations

import re
import signal
import threading
from typing import Any

import click

from internal_node.errors import ExportError
from internal_node.export import ExportReport, export, resend
from internal_node.returns import import_returns
from nodekit.cli import NodeContext, emit, json_option, pass_node_context
from nodekit.cli_exchange import echo_outcomes, finish, sent_dict, sent_line
from nodekit.home import parse_duration
from nodekit.text import printable

_RANGE = re.compile(r"^(\d+)(?:\.\.(\d+))?$")


def _report_dict(r: ExportReport, dry_run: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "policy_digest": r.policy_digest,
        "refresh": r.refresh.counts(),
        "blocked": r.refresh.blocked,
        "sent": [sent_dict(p) for p in r.sent],
        "skipped": r.skipped,
    }
    if dry_run:
        out["peers"] = [
            {
                "peer": p.peer.node_id,
                "name": p.peer.node_name,
                "full": p.full,
                "count": p.count,
                "digest": p.digest,
                "items": p.items,
            }
            for p in r.plans
        ]
    return out


def _human(r: ExportReport, dry_run: bool) -> None:
    c = r.refresh.counts()
    click.echo(f"policy {r.policy_digest}")
    click.echo(
        "publication refreshed: "
        + ", ".join(f"{k} {v}" for k, v in c.items() if v)
        + (" (policy changed: everything re-projected)" if r.refresh.policy_changed else "")
        if any(c.values())
        else "publication up to date"
    )
    for b in r.refresh.blocked[:20]:
        click.echo(f"BLOCKED {b['table']} {b['key']}: {printable('; '.join(b['findings']), 300)}", err=True)
    if len(r.refresh.blocked) > 20:
        click.echo(f"... and {len(r.refresh.blocked) - 20} more blocked records (see --json)", err=True)
    if dry_run:
        for p in r.plans:
            click.echo(f"\n== {p.peer.node_name} ({p.peer.node_id}): {p.count} items, content digest {p.digest}")
            for it in p.items:
                if it["op"] == "upsert":
                    fields = ", ".join(f"{k}={printable(v, 60)}" for k, v in it["row"].items() if v is not None)
                    click.echo(f"  upsert {it['table']} {it['key']} v{it['version']}: {fields}")
                else:
                    click.echo(f"  withdraw {it['table']} {it['key']} v{it['version']}: {it['reason']}")
        click.echo("\nnothing sealed (--dry-run); seal exactly this with: internal-node export --expect DIGEST")
        return
    for sp in r.sent:
        click.echo(sent_line(sp))
    for peer in r.skipped:
        click.echo(f"nothing to send to {peer} (--no-heartbeat)")


def register(root: click.Group) -> None:
    @root.command("export")
    @click.option(
        "--full", is_flag=True, help="Seal a snapshot of the whole publication (bootstrap or recover a public node)."
    )
    @click.option(
        "--dry-run", is_flag=True, help="Show exactly what would be published, record by record, and its digest."
    )
    @click.option("--expect", metavar="DIGEST", help="Seal only if the content digest still equals this reviewed one.")
    @click.option("--no-heartbeat", is_flag=True, help="Send nothing when nothing changed.")
    @click.option("--peer", metavar="NODE", help="Only this public node (node id or name).")
    @click.option(
        "--resend", metavar="SEQ[..SEQ]", help="Copy already-sealed packages from the archive to the medium again."
    )
    @click.option("--every", metavar="DURATION", help="Run in the foreground, exporting every DURATION (e.g. 1h).")
    @json_option
    @pass_node_context
    def export_cmd(
        nctx: NodeContext, full: bool, dry_run: bool, expect: str | None, no_heartbeat: bool, peer: str | None,
        resend: str | None, every: str | None, as_json: bool,
    ) -> None:  # fmt: skip
        """Export the publishable changes since the last export to each trusted public node.

        Policy, masking and the leak guard run on every path (--full included); a record the leak
        guard blocks is reported and not sealed. A delta with nothing in it is a heartbeat."""
        node = nctx.node()
        identity = nctx.identity()
        if resend is not None:
            m = _RANGE.match(resend)
            if not m:
                raise click.BadParameter("expected SEQ or SEQ..SEQ", param_hint="--resend")
            first, last = int(m.group(1)), int(m.group(2) or m.group(1))
            sent = resend_packages(node, identity, first, last, peer)
            emit({"sent": [sent_dict(p) for p in sent]}, "\n".join(sent_line(p) for p in sent), as_json=as_json)
            return
        if every is not None:
            if dry_run or expect:
                raise click.UsageError("--every cannot be combined with --dry-run or --expect")
            _loop(nctx, parse_duration(every), full=full, heartbeat=not no_heartbeat, peer=peer)
            return
        report = export(
            node, identity, full=full, dry_run=dry_run, expect=expect, heartbeat=not no_heartbeat, peer=peer
        )
        emit(_report_dict(report, dry_run), lambda: _human(report, dry_run), as_json=as_json)

    @root.command("import")
    @json_option
    @pass_node_context
    def import_cmd(nctx: NodeContext, as_json: bool) -> None:
        """Verify and apply the return packages waiting on the medium (receipts, key announcements).

        Exit 4 when a package was rejected (quarantined with its reason; the others are processed)."""
        outcomes = import_returns(nctx.node(), nctx.identity())
        emit({"outcomes": [o.as_dict() for o in outcomes]}, lambda: echo_outcomes(outcomes), as_json=as_json)
        finish(outcomes)


def resend_packages(node: Any, identity: Any, first: int, last: int, peer: str | None) -> Any:
    if first > last:
        raise ExportError(f"--resend {first}..{last}: the range is empty", reason="bad-range")
    return resend(node, identity, first, last, peer=peer)


def _loop(nctx: NodeContext, period: int, *, full: bool, heartbeat: bool, peer: str | None) -> None:
    """Export now and then every ``period`` seconds until SIGTERM/SIGINT (docs show a systemd timer too)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    node = nctx.node()
    identity = nctx.identity()
    while not stop.is_set():
        try:
            report = export(node, identity, full=full, heartbeat=heartbeat, peer=peer)
            _human(report, False)
        except Exception as exc:  # one failed round must not end the schedule
            click.echo(f"internal-node: export failed: {printable(str(exc), 500)}", err=True)
        stop.wait(period)
