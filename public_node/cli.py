"""The ``public-node`` program: a thin click layer over the public node's functions."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from exchange import cli_recover, cli_transfer
from exchange.alarms import MediumAlarm, check_inbound
from exchange.cli_outcomes import (
    echo_outcomes,
    finish,
    finish_sent,
    node_names,
    outcome_line,
    sent_dict,
    sent_line,
    undelivered_dicts,
)
from exchange.engine import SentPackage, every_package
from exchange.node import open_exchange
from exchange.watch import MediumWatcher
from keys.identity_store import Identity
from nodekit import cli_audit, trust_store
from nodekit.cli import (
    NodeContext,
    ProgressBars,
    add_exit_code_epilogs,
    emit,
    json_option,
    make_root,
    pass_node_context,
    run,
)
from nodekit.errors import NodeError, shown
from nodekit.home import parse_duration
from nodekit.i18n import N_, _, ngettext
from nodekit.runtime import Node
from nodekit.sdnotify import ServiceManager
from nodekit.text import human
from public_node import SPEC, cli_query, outbox
from public_node.importer import import_packages
from public_node.store import purge_expired
from public_node.web import admin_cli
from public_node.web import cli as web_cli
from public_node.web.anchor import anchor_web_audit
from transfer.errors import TransferError
from transfer.items import Item

if TYPE_CHECKING:
    from prometheus_client import Histogram

cli = make_root(
    SPEC,
    "credgap public node: imports verified packages and serves the public credit platform.\n\n"
    "Every command works on one node home (--home DIR or CREDGAP_HOME).",
)
cli_transfer.register(cli)
cli_recover.register(cli)


@cli.command("import")
@json_option
@pass_node_context
def import_cmd(nctx: NodeContext, as_json: bool) -> None:
    """Verify and apply every package waiting on the medium, in sequence order, then exit.

    Exit 0 when everything was applied, found duplicate or parked for a gap; 4 when a package was
    rejected (it is quarantined with a reason, and the others are still processed)."""
    node = nctx.node()
    identity = nctx.identity(unlock=True)
    with ProgressBars() as bars:  # on a terminal only, never with --json
        outcomes = import_packages(node, identity, progress=None if as_json else bars.update)
    emit({"outcomes": [o.as_dict() for o in outcomes]}, lambda: echo_outcomes(outcomes), as_json=as_json)
    finish(outcomes)


@cli.command("watch")
@click.option("--poll", is_flag=True, help="Poll the medium instead of using filesystem events.")
@click.option("--rescan", default="30s", show_default=True, help="Rescan the medium at least this often.")
@click.option(
    "--receipts-every", default="1m", show_default=True,
    help="After packages were processed, send the return package (receipts) at most this often; 0s: never.",
)  # fmt: skip
@click.option(
    "--medium-alarm-every", default="5m", show_default=True,
    help="While the transfer medium is missing, raise the medium-missing alarm again this often.",
)  # fmt: skip
@click.option(
    "--metrics-port", type=click.IntRange(1, 65535), default=None,
    help="Serve Prometheus metrics on http://HOST:PORT/metrics (the admin port; off unless given).",
)  # fmt: skip
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address of the metrics port.")
@pass_node_context
def watch_cmd(
    nctx: NodeContext, poll: bool, rescan: str, receipts_every: str, medium_alarm_every: str,
    metrics_port: int | None, metrics_host: str,
) -> None:  # fmt: skip
    """Run as a service: import each package within a second of its arrival, until SIGTERM/SIGINT,
    and send the receipts back in a return package after the packages that arrived."""
    node = nctx.node()
    identity = nctx.identity(unlock=True)  # the key now, not at the first package
    import_seconds = serve_metrics(node, metrics_host, metrics_port) if metrics_port is not None else None
    interval = parse_duration(receipts_every) if receipts_every not in ("0", "0s") else None
    owed = {"receipts": False, "last": 0.0}
    names = node_names(node)

    def work(stop: object) -> None:
        started = time.monotonic()
        outcomes = import_packages(node, identity, stop=stop)  # type: ignore[arg-type]
        if outcomes and import_seconds is not None:
            import_seconds.observe(time.monotonic() - started)
        if outcomes:  # what brought them in: a filesystem event, the periodic rescan, or the start
            click.echo(_("round {n} woken by {cause}").format(n=watcher.stats.rounds + 1, cause=watcher.stats.woken_by))
        for o in outcomes:
            click.echo(outcome_line(o, names))
            if o.result != "skipped":  # a half-written file gets no receipt (yet)
                owed["receipts"] = True
        if interval is not None and owed["receipts"] and time.monotonic() - owed["last"] >= interval:
            for p in every_package(send_returns(node, identity, strict=False)):
                click.echo(sent_line(p, names))
            owed["receipts"], owed["last"] = False, time.monotonic()

    purged_on: list[object] = [None]
    medium_alarm = MediumAlarm(node, float(parse_duration(medium_alarm_every)), lambda m: click.echo(m, err=True))

    def idle() -> None:  # no package within the expected period: ALARM_OVERDUE, once per period
        medium_alarm.check(time.monotonic())
        for alarm in check_inbound(node):
            click.echo(alarm.message(), err=True)
        today = node.today()
        if purged_on[0] != today:  # housekeeping once a day: queries already hide expired records
            with node.transaction() as s:
                counts = purge_expired(s, today)
            if counts:
                click.echo(_("purged expired records: {counts}").format(counts=human(counts)))
            purged_on[0] = today

    watcher = MediumWatcher(
        node.config.medium, work, rescan=float(parse_duration(rescan)), poll=poll, on_idle=idle,
        on_missing=lambda: medium_alarm.check(time.monotonic()), service=ServiceManager(),
    )  # fmt: skip
    watcher.install_signal_handlers()
    if not node.config.medium.is_dir():
        click.echo(
            _(
                "warning: transfer medium {medium} not found: waiting for it to be mounted "
                "(the alarm is raised again every {every} while it is missing)"
            ).format(medium=node.config.medium, every=medium_alarm_every),
            err=True,
        )
    click.echo(
        _("watching {medium} (rescan every {rescan}); stop with SIGTERM or Ctrl-C").format(
            medium=node.config.medium, rescan=rescan
        ),
        err=True,
    )
    stats = watcher.run()
    click.echo(
        ngettext("stopped after {n} round ({mode})", "stopped after {n} rounds ({mode})", stats.rounds).format(
            n=stats.rounds, mode=stats.mode
        ),
        err=True,
    )


@cli.command("export")
@json_option
@pass_node_context
def export_cmd(nctx: NodeContext, as_json: bool) -> None:
    """Seal the return package for each trusted internal node (receipts, key announcements, or a
    heartbeat) and write it to the medium."""
    sent = send_returns(nctx.node(), nctx.identity())
    if not sent:
        raise click.UsageError(
            _(
                "no trusted internal node: trust its identity card first (`public-node keys trust CARD --fingerprint FP`)"
            )
        )
    packages = every_package(sent)
    emit(
        {"sent": [sent_dict(p) for p in packages], "undelivered": undelivered_dicts(packages)},
        "\n".join(sent_line(p, node_names(nctx.node())) for p in packages), as_json=as_json,
    )  # fmt: skip
    finish_sent(packages, node_names(nctx.node()))


cli_query.register(cli)
cli.add_command(web_cli.serve_cmd)
cli.add_command(admin_cli.admin)
cli_audit.add_log(cli, N_("web audit log"), admin_cli.web_log_summary)
add_exit_code_epilogs(cli, "public-node")  # every --help ends with the exit codes


def serve_metrics(node: Node, host: str, port: int) -> Histogram:
    """Serve the node's metrics on ``host:port`` (``/metrics``) from a thread of this process; the
    histogram of import durations that the watch loop feeds."""
    from prometheus_client import start_http_server

    from exchange.metrics import duration_histogram, node_registry
    from public_node.queries import record_counts

    registry = node_registry(node, lambda s, n: record_counts(s, today=n.today()))
    histogram = duration_histogram(registry, "import")
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise NodeError(
            N_("--metrics-port {host}:{port}: cannot listen: {problem}"),
            reason="metrics-port",
            params={"host": host, "port": port, "problem": exc.strerror or exc},
        ) from exc
    click.echo(_("metrics on {url}").format(url=f"http://{host}:{port}/metrics"), err=True)
    return histogram


def send_returns(node: Node, identity: Identity, *, strict: bool = True) -> list[SentPackage]:
    """One return package to each trusted internal node: receipts and checkpoints, key announcements,
    or a heartbeat. First the web audit log's head is anchored (before sealing, so the package's
    checkpoint covers it); ``strict=False`` (the watch service) reports a failure to anchor, for
    example a web checkpoint whose signature does not verify, and still sends the receipts."""
    try:
        anchor_web_audit(node, datetime.now(UTC))
    except (NodeError, TransferError, SQLAlchemyError) as exc:
        if strict:
            raise
        click.echo(_("web audit log not anchored: {problem}").format(problem=shown(exc)), err=True)
    exchange = open_exchange(node, identity)
    with node.sessions() as s:
        peers = trust_store.load_trust_state(s).peers("internal")
        reads = {p.node_id: trust_store.peer_reads(s, p.node_id) for p in peers}
    # applications are format-2 kinds: they wait in the outbox until the internal node advertised format 2;
    # a round that carries none does not load them (attachments of several MiB each, every round)
    carries = len(peers) == 1 and reads[peers[0].node_id] >= 2
    filed = outbox.pending(node) if carries else []
    sent = []
    for peer in peers:
        items = filed

        def build(_s: Session, _seq: int, items: list[Item] = items) -> list[Item]:
            return list(items)

        package = exchange.send(peer, build)
        if items:
            outbox.mark_sent(node, items, package.seq)
        sent.append(package)
    return sent


def main() -> None:
    sys.exit(run(cli, prog_name="public-node"))
