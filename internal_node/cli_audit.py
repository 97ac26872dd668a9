"""``internal-node audit reconcile``: every package exported against the receipts the public nodes returned."""

from __future__ import annotations

import click

from exchange.reconcile import ReconcileFailed, ReconcileReport, reconcile
from nodekit import trust_store
from nodekit.cli import NodeContext, emit, json_option, pass_node_context, table
from nodekit.home import parse_duration
from nodekit.i18n import N_, _, ngettext


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
                raise click.UsageError(_("this node has no identity yet (keys init)"))
            report = reconcile(s, me, now=node.clock(), period=seconds, peer=peer)
        emit(report.as_dict(), lambda: _human(report, show_all), as_json=as_json)
        if not report.ok:
            sm = report.summary
            raise ReconcileFailed(
                N_(
                    "not reconciled: {missing} missing, {rejected} rejected, {parked} parked, "
                    "{unexplained} receipt(s) for packages never exported"
                ),
                params={
                    "missing": sm["missing"],
                    "rejected": sm["rejected"],
                    "parked": sm["parked"],
                    "unexplained": sm["unexplained_receipts"],
                },
            )


def _human(report: ReconcileReport, show_all: bool) -> None:
    sm = report.summary
    n = len(report.packages)
    click.echo(
        ngettext("{n} package exported", "{n} packages exported", n).format(n=n)
        + ": "
        + _("{applied} applied, {pending} pending, {parked} parked, {rejected} rejected, {missing} missing").format(
            applied=sm["applied"],
            pending=sm["pending"],
            parked=sm["parked"],
            rejected=sm["rejected"],
            missing=sm["missing"],
        )
        + " "
        + _("(period {seconds}s)").format(seconds=report.period)
    )
    rows = []
    for p in report.packages:
        if p.status == "applied" and not show_all and not p.rejected_copies:
            continue
        note = p.reason
        if p.rejected_copies:
            note = (note + "; " if note else "") + ", ".join(
                _("a copy {digest} was rejected ({reason})").format(digest=c["digest"][:16], reason=c["reason"])
                for c in p.rejected_copies
            )
        rows.append([p.channel, p.seq, p.digest[:16], p.sealed.strftime("%Y-%m-%d %H:%M"), p.status.upper(), note])
    if rows:
        headers = [_("channel"), _("seq"), _("digest"), _("sealed (UTC)"), _("status"), _("note")]
        click.echo(table(rows, headers))
    for r in report.unexplained:
        click.echo(
            _("UNEXPLAINED receipt from {issuer} on {channel}: seq {seq} digest {digest} {outcome} {reason}")
            .format(issuer=r["issuer"], channel=r["channel"], seq=r["seq"], digest=r["digest"][:16],
                    outcome=r["outcome"], reason=r["reason"])
            .rstrip()
        )  # fmt: skip
    if report.ok:
        click.echo(_("reconciled: every exported package is accounted for"))
