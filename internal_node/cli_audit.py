"""``internal-node audit reconcile``: every package exported against the receipts the public nodes returned."""

from __future__ import annotations

import click

from exchange.reconcile import ReconcileFailed, ReconcileReport, reconcile
from nodekit import trust_store
from nodekit.cli import NodeContext, emit, json_option, pass_node_context, table
from nodekit.home import parse_duration


def register(root: click.Group) -> None:
    audit = root.commands["audit"]
    assert isinstance(audit, click.Group)

    @audit.command("reconcile")
    @click.option("--peer", metavar="NODE", help="Only the channel to this public node (node id).")
    @click.option(
        "--period", metavar="DURATION", help="Expected exchange period (default: node.toml [exchange] period)."
    )
    @click.option("--all", "show_all", is_flag=True, help="List applied packages too, not only the others.")
    @json_option
    @pass_node_context
    def reconcile_cmd(nctx: NodeContext, peer: str | None, period: str | None, show_all: bool, as_json: bool) -> None:
        """For every exported package: is there a receipt with its digest saying it was applied?

        Lists missing, rejected, parked and pending packages and any receipt for a package never
        exported. Packages younger than the exchange period without a receipt are pending, not
        failures. Exit 4 when anything else does not reconcile."""
        node = nctx.node()
        seconds = parse_duration(period) if period else node.config.exchange_period
        with node.sessions() as s:
            me = trust_store.own_node_id(s)
            if me is None:
                raise click.UsageError("this node has no identity yet (`internal-node keys init`)")
            report = reconcile(s, me, now=node.clock(), period=seconds, peer=peer)
        emit(report.as_dict(), lambda: _human(report, show_all), as_json=as_json)
        if not report.ok:
            sm = report.summary
            raise ReconcileFailed(
                f"not reconciled: {sm['missing']} missing, {sm['rejected']} rejected, {sm['parked']} parked, "
                f"{sm['unexplained_receipts']} receipt(s) for packages never exported"
            )


def _human(report: ReconcileReport, show_all: bool) -> None:
    sm = report.summary
    click.echo(
        f"{len(report.packages)} package(s) exported: {sm['applied']} applied, {sm['pending']} pending, "
        f"{sm['parked']} parked, {sm['rejected']} rejected, {sm['missing']} missing "
        f"(period {report.period}s)"
    )
    rows = []
    for p in report.packages:
        if p.status == "applied" and not show_all and not p.rejected_copies:
            continue
        note = p.reason
        if p.rejected_copies:
            note = (note + "; " if note else "") + ", ".join(
                f"a copy {c['digest'][:16]} was rejected ({c['reason']})" for c in p.rejected_copies
            )
        rows.append([p.channel, p.seq, p.digest[:16], p.sealed.strftime("%Y-%m-%d %H:%M"), p.status.upper(), note])
    if rows:
        click.echo(table(rows, ["channel", "seq", "digest", "sealed (UTC)", "status", "note"]))
    for r in report.unexplained:
        click.echo(
            f"UNEXPLAINED receipt from {r['issuer']} on {r['channel']}: seq {r['seq']} digest {r['digest'][:16]} "
            f"{r['outcome']} {r['reason']}".rstrip()
        )
    if report.ok:
        click.echo("reconciled: every exported package is accounted for")
