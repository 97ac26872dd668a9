"""``channel recover``, which both node programs have: set a channel back on its feet after a key
compromise, a fork or equivocation, or a database restored from a backup (docs/OPERATIONS.md,
"Recovering a channel"; docs/adr/0011-channel-recovery.md)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange import recover
from exchange.node import limits_for
from nodekit import trust_store
from nodekit.cli import NodeContext, emit, json_option, pass_node_context
from nodekit.i18n import N_, _
from nodekit.locks import channel_lock
from nodekit.models import ChannelRow
from nodekit.operator import operator_actor
from nodekit.text import printable

MAX_REASON = 500


@click.group("channel")
def channel_group() -> None:
    """The exchange's channels with the peer node."""


@channel_group.command("recover")
@click.option("--peer", metavar="NODE", help="The peer node id (needed when there is more than one).")
@click.option(
    "--peer-status",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The peer's `status --json` output, carried over by an operator (default: the latest receipts).",
)
@click.option("--reason", required=True, metavar="TEXT", help="Why (recorded in the transfer log).")
@click.option("--yes", is_flag=True, help="Do it without asking (the plan is still shown).")
@json_option
@pass_node_context
def recover_cmd(
    nctx: NodeContext,
    peer: str | None,
    peer_status: Path | None,
    reason: str,
    yes: bool,
    as_json: bool,
) -> None:
    """Set the channel with the peer back to where the peer really stands, after a key compromise, a
    fork or equivocation, or a database restored from a backup.

    Shows what it will do, asks (or --yes), and records it with the reason as the first entry of a new
    transfer-log segment. On the internal node the next export is a snapshot at the peer's last seq + 2
    or more; on the public node what was applied past the internal node's real position is set aside."""
    why = printable(reason.strip(), MAX_REASON)
    if not why:
        raise click.BadParameter(_("a reason is required"), param_hint="--reason")
    if as_json and not yes:
        raise click.UsageError(_("--json needs --yes (there is nobody to ask)"))
    node = nctx.node()
    role = node.config.role
    side = "sender" if role == "internal" else "receiver"
    actor = operator_actor()  # the program's --operator, $CREDGAP_OPERATOR, else the OS user
    with node.sessions() as s:
        me = trust_store.own_node_id(s)
        if me is None:
            raise click.UsageError(_("this node has no identity yet (keys init)"))
        target = peer or _only_peer(s, me, side)
        if peer_status is not None:
            position = recover.read_peer_status(peer_status, peer=target, me=me, side=side)
            target = position.node
        elif target is None:
            raise click.UsageError(_("give --peer NODE, or --peer-status FILE (the peer's status --json)"))
        elif side == "sender":
            position = recover.from_receipts(s, me, target)
        else:
            raise recover.RecoverError(
                N_(
                    "a public node learns the internal node's position from its status: run `internal-node status "
                    "--json > FILE` there, carry FILE over, and give --peer-status FILE"
                )
            )
        plan = recover.plan_recovery(s, me, side, position, rebase_bound=limits_for(node.config).rebase_bound)
    if not as_json:
        click.echo(_("channel recover will:"))
        for line in plan.lines():
            click.echo(line)
        if not yes and not click.confirm(_("go ahead?"), default=False):
            raise click.Abort()
    # not while the operator reads: the lock keeps an export or import off the channel while it changes,
    # and apply_recovery refuses if the channel moved since the plan was shown
    with channel_lock(node.config.home, plan.channel), node.transaction() as s:
        index = recover.apply_recovery(s, plan, reason=why, at=node.clock(), actor=actor)
    done = {"ok": True, "entry": index, **plan.as_dict()}

    def human() -> None:
        click.echo(
            _("recovered: channel.recovered is entry {index}, the first of a new log segment").format(index=index)
        )
        if plan.next_seq is not None:
            click.echo(
                _("next: `internal-node export` (a snapshot at seq {seq}), then carry it over").format(
                    seq=plan.next_seq
                )
            )
        else:
            click.echo(_("next: carry `public-node status --json` to the internal node for its channel recover"))

    emit(done, human, as_json=as_json)


def _only_peer(s: Session, me: str, side: str) -> str | None:
    col = ChannelRow.recipient_node if side == "sender" else ChannelRow.sender_node
    own = ChannelRow.sender_node if side == "sender" else ChannelRow.recipient_node
    peers = sorted(set(s.scalars(select(col).where(own == me))))
    return peers[0] if len(peers) == 1 else None


def register(root: click.Group) -> None:
    root.add_command(channel_group)
