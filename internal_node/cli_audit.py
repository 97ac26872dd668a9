"""``internal-node audit reconcile``: every package exported against the receipts the public nodes returned."""

from __future__ import annotations

import click

from exchange.reconcile import (
    PackageStatus,
    ReconcileFailed,
    ReconcilePending,
    ReconcileReport,
    archived_not_after,
    reconcile,
)
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

        Lists missing, damaged, rejected, parked and pending packages and any receipt for a package
        never exported. Exit 0 when every package is applied; exit 5 when some package is not applied
        yet but still within its not_after (each named with what to do, e.g. export --resend N); exit
        4 when a package's own bytes were rejected, one is past its not_after, or a receipt is
        unexplained."""
        node = nctx.node()
        seconds = parse_duration(period) if period else node.config.exchange_period
        with node.sessions() as s:
            me = trust_store.own_node_id(s)
            if me is None:
                raise click.UsageError(_("this node has no identity yet (`internal-node keys init`)"))
            report = reconcile(
                s, me, now=node.clock(), period=seconds, peer=peer,
                not_after=archived_not_after(node.config.home / "archive", me),
            )  # fmt: skip
        emit(report.as_dict(), lambda: _human(report, show_all), as_json=as_json)
        sm = report.summary
        if not report.ok:
            raise ReconcileFailed(
                N_(
                    "not reconciled: {missing} missing, {rejected} rejected, {parked} parked, {expired} past "
                    "not_after, {unexplained_receipts} receipt(s) for packages never exported"
                ),
                params={k: sm[k] for k in ("missing", "rejected", "parked", "expired", "unexplained_receipts")},
            )
        if not report.complete:
            raise ReconcilePending(
                N_("incomplete, action pending: {n} package(s) not applied yet: {actions}"),
                params={"n": len(report.waiting), "actions": _Actions(report.waiting)},
            )


class _Actions:
    """``seq N: what to do; …`` of the packages waiting: English in str() (logs, --json), in the
    operator's language when shown."""

    def __init__(self, waiting: list[PackageStatus]) -> None:
        self.waiting = waiting

    def _join(self, parts: list[str]) -> str:
        return "; ".join(parts) + (" …" if len(self.waiting) > 5 else "")

    def __str__(self) -> str:
        return self._join([f"seq {p.seq}: {p.action}" for p in self.waiting[:5]])

    def shown(self) -> str:
        return self._join(
            [_("seq {seq}: {action}").format(seq=p.seq, action=p.shown_action()) for p in self.waiting[:5]]
        )


_SUMMARY = ("applied", "pending", "parked", "damaged", "rejected", "missing")
# a package's status as the table shows it (--json keeps the code)
_STATUS_WORDS = {
    "applied": N_("APPLIED"),
    "pending": N_("PENDING"),
    "parked": N_("PARKED"),
    "damaged": N_("DAMAGED"),
    "rejected": N_("REJECTED"),
    "missing": N_("MISSING"),
}


def _human(report: ReconcileReport, show_all: bool) -> None:
    sm = report.summary
    click.echo(
        ngettext(
            "{n} package exported: {applied} applied, {pending} pending, {parked} parked, {damaged} damaged, "
            "{rejected} rejected, {missing} missing (period {period}s)",
            "{n} packages exported: {applied} applied, {pending} pending, {parked} parked, {damaged} damaged, "
            "{rejected} rejected, {missing} missing (period {period}s)",
            len(report.packages),
        ).format(n=len(report.packages), period=report.period, **{k: sm[k] for k in _SUMMARY})
    )
    rows = []
    for p in report.packages:
        if p.status == "applied" and not show_all and not p.rejected_copies:
            continue
        note = p.reason if p.status == "rejected" else ""
        if p.rejected_copies:
            note = (note + "; " if note else "") + ", ".join(
                _("a copy {digest} was rejected ({reason}): evidence of the medium").format(
                    digest=c["digest"][:16], reason=c["reason"]
                )
                for c in p.rejected_copies
            )
        status = _(_STATUS_WORDS[p.status]) if p.status in _STATUS_WORDS else p.status.upper()
        rows.append([
            p.channel, p.seq, p.digest[:16], p.sealed.strftime("%Y-%m-%d %H:%M"), status, note, p.shown_action(),
        ])  # fmt: skip
    if rows:
        click.echo(
            table(rows, [_("channel"), _("seq"), _("digest"), _("sealed (UTC)"), _("status"), _("note"), _("to do")])
        )
    for r in report.unexplained:
        click.echo(
            _("UNEXPLAINED receipt from {issuer} on {channel}: seq {seq} digest {digest} {outcome} {reason}")
            .format(
                issuer=r["issuer"],
                channel=r["channel"],
                seq=r["seq"],
                digest=r["digest"][:16],
                outcome=r["outcome"],
                reason=r["reason"],
            )
            .rstrip()
        )
    if report.complete:
        click.echo(_("reconciled: every exported package is applied"))
    elif report.ok:
        click.echo(_("incomplete: nothing failed, but the packages above wait for the action named"))
