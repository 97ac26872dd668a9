"""Recovering a channel after a key compromise, a fork or equivocation, or a database restored from a
backup (``internal-node channel recover``, ``public-node channel recover``; docs/adr/0011).

Both sides learn where the peer stands — from the latest verified receipts, or from the peer's
``status --json`` that an operator carries over — and record the recovery as the first entry of a new
segment of their transfer log (``channel.recovered``). The sender's next package is then a snapshot at
``max(its own last, the peer's last) + 2``: never a sequence number it may already have sent, never a
chain position the receiver could hold another package for, and inside the receiver's rebase bound.
The receiver sets its channel back to the sender's real position and marks what it applied past it
(a forged package, one side of a fork) ``abandoned``; checkpoints it holds of a peer log that was
restored from a backup are marked abandoned too, so the restored log's new entries read as a recorded
restore rather than a rewrite (alarm.fork)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from nodekit.errors import ExitCode, NodeError
from nodekit.events import record_event
from nodekit.i18n import N_, _, ngettext
from nodekit.models import ChannelPackageRow, ChannelRow, NodeMeta, PeerCheckpointRow, ReceiptRow, TransferLogRow
from transfer.limits import DEFAULT_REBASE_BOUND
from transfer.log import EventCode
from transfer.medium import channel_dirname

RECOVER_FULL = "recover-full:"  # node_meta key prefix (+ peer node id): its next package is a snapshot
MAX_STATUS_FILE = 4 << 20
MAX_SEQ = 999_999_999_999
_HEX64 = re.compile(r"\A[0-9a-f]{64}\Z", re.ASCII)
_NODE = re.compile(r"\A[0-9A-Za-z._-]{1,64}\Z", re.ASCII)


class RecoverError(NodeError):
    """A recovery cannot be planned: no source for the peer's position, a bad status file, a bound."""

    exit_code = ExitCode.USAGE
    reason = "recover"


@dataclass(frozen=True)
class PeerPosition:
    """Where the peer stands on the channel, and what it says of the logs (from its status or receipts)."""

    node: str
    last_seq: int
    last_digest: str
    last_created: int | None
    source: str  # receipts | peer-status
    segment: int | None = None  # where the peer's log starts its latest recovered segment (a restored log)
    holds: dict[str, Any] | None = None  # the peer's latest checkpoint of *our* log: {size, root}
    recent: dict[int, str] = field(default_factory=dict)  # seq -> digest of the peer's latest packages
    # the other direction (peer -> us), as the peer sent it: (last_seq, last_digest, last_created)
    reverse: tuple[int, str, int | None] | None = None


@dataclass
class RecoveryPlan:
    """What ``channel recover`` will do; :func:`apply_recovery` does exactly this."""

    side: str  # sender | receiver
    me: str
    channel: str
    peer: PeerPosition
    before: dict[str, Any]
    after: dict[str, Any]
    next_seq: int | None = None  # sender: the seq of the snapshot its next export seals
    abandoned: list[dict[str, Any]] = field(default_factory=list)  # receiver: packages set aside
    abandoned_checkpoints: list[int] = field(default_factory=list)  # sizes of peer checkpoints set aside
    abandoned_head: dict[str, Any] | None = None  # our own log's head the peer holds, beyond our log
    inbound: dict[str, Any] | None = None  # sender: the return channel moved forward to the peer's last

    def as_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "channel": self.channel,
            "peer": {
                "node": self.peer.node,
                "last_seq": self.peer.last_seq,
                "last_digest": self.peer.last_digest,
                "source": self.peer.source,
                "log_segment": self.peer.segment,
            },
            "before": self.before,
            "after": self.after,
            "next_seq": self.next_seq,
            "abandoned_packages": self.abandoned,
            "abandoned_peer_checkpoints": self.abandoned_checkpoints,
            "abandoned_head": self.abandoned_head,
            "inbound": self.inbound,
        }

    def lines(self) -> list[str]:
        """The plan as an operator reads it before saying yes."""
        p = self.peer
        out = [
            (
                _("channel {channel} (this node sends)")
                if self.side == "sender"
                else _("channel {channel} (this node receives)")
            ).format(channel=self.channel),
            "  "
            + (
                _("the peer {node} stands at seq {seq} ({digest}…), learned from its latest verified receipt")
                if p.source == "receipts"
                else _("the peer {node} stands at seq {seq} ({digest}…), learned from its status file")
            ).format(node=p.node, seq=p.last_seq, digest=p.last_digest[:16]),
            "  "
            + _("this node: last seq {before} -> {after}").format(
                before=self.before["last_seq"], after=self.after["last_seq"]
            ),
        ]
        if self.next_seq is not None:
            out.append(
                "  "
                + _(
                    "the next export seals a snapshot at seq {seq} (the peer's last + 2 or more): it rebuilds the "
                    "public side"
                ).format(seq=self.next_seq)
            )
        for a in self.abandoned:
            out.append(
                "  "
                + _("package {seq} ({digest}…, {status}) is set aside as abandoned").format(
                    seq=a["seq"], digest=a["digest"][:16], status=a["status"]
                )
            )
        if self.abandoned:
            out.append(
                "  "
                + _(
                    "(the internal node says it sent nothing past seq {seq}: if its database was restored "
                    "from a backup, answer no and run channel recover on the internal node first)"
                ).format(seq=p.last_seq)
            )
        if self.abandoned_checkpoints:
            n = len(self.abandoned_checkpoints)
            out.append(
                "  "
                + ngettext(
                    "{n} checkpoint held of the peer's log beyond entry {entry} belongs to its abandoned log "
                    "(restored from a backup) and is set aside",
                    "{n} checkpoints held of the peer's log beyond entry {entry} belong to its abandoned log "
                    "(restored from a backup) and are set aside",
                    n,
                ).format(n=n, entry=p.segment)
            )
        if self.abandoned_head is not None:
            out.append(
                "  "
                + _(
                    "the peer holds a checkpoint of this node's log at size {size}: the "
                    "abandoned log before the restore, recorded as such"
                ).format(size=self.abandoned_head["size"])
            )
        if self.inbound is not None:
            out.append(
                "  "
                + _(
                    "the return channel moves from seq {start} to the peer's {end}: return "
                    "packages this node applied before its restore are not sent again"
                ).format(start=self.inbound["from"], end=self.inbound["to"])
            )
        out.append("  " + _("a channel.recovered entry starts a new segment of this node's transfer log"))
        return out


# ------------------------------------------------------------------------------------ learning


def read_peer_status(path: Path, *, peer: str | None, me: str, side: str) -> PeerPosition:
    """The peer's position on the channel from its ``status --json`` output (carried by an operator):
    checked field by field, one line naming the field when it is wrong."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_STATUS_FILE + 1)
    except OSError as exc:
        raise RecoverError(
            N_("{path}: cannot read the peer's status file: {problem}"),
            params={"path": path, "problem": exc.strerror or exc},
        ) from None
    if len(data) > MAX_STATUS_FILE:
        raise RecoverError(
            N_("{path}: a status file is at most {max_status_file} bytes"),
            params={"path": path, "max_status_file": MAX_STATUS_FILE},
        )
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise RecoverError(N_("{path}: not the JSON output of `status --json`"), params={"path": path}) from None
    ex = doc.get("exchange") if isinstance(doc, dict) and "exchange" in doc else doc
    if not isinstance(ex, dict) or not isinstance(ex.get("channels"), list):
        raise RecoverError(
            N_("{path}: field exchange.channels: missing (run `status --json` on the peer node)"), params={"path": path}
        )
    node = ex.get("node")
    if not isinstance(node, str) or not _NODE.match(node):
        raise RecoverError(N_("{path}: field exchange.node: missing or not a node id"), params={"path": path})
    if peer is not None and node != peer:
        raise RecoverError(
            N_("{path}: is the status of node {node}, not of the peer {peer}"),
            params={"path": path, "node": node, "peer": peer},
        )
    sender, recipient = (me, node) if side == "sender" else (node, me)
    direction = "in" if side == "sender" else "out"  # the channel as the peer sees it
    chans = [
        c for c in ex["channels"]
        if isinstance(c, dict) and (c.get("sender"), c.get("recipient"), c.get("direction")) == (sender, recipient, direction)
    ]  # fmt: skip
    if not chans:
        raise RecoverError(
            N_("{path}: node {node} reports no channel {channel_dirname}"),
            params={"path": path, "node": node, "channel_dirname": channel_dirname(sender, recipient)},
        )
    c = chans[0]
    seq, digest = c.get("last_seq"), c.get("last_digest")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SEQ:
        raise RecoverError(
            N_("{path}: field last_seq of channel {channel_dirname}: not a seq"),
            params={"path": path, "channel_dirname": channel_dirname(sender, recipient)},
        )
    if not isinstance(digest, str) or not _HEX64.match(digest):
        raise RecoverError(
            N_("{path}: field last_digest of channel {channel_dirname}: not a digest"),
            params={"path": path, "channel_dirname": channel_dirname(sender, recipient)},
        )
    created = _timestamp(c.get("last_created"))
    segment = _segment(ex, node)
    holds = (ex.get("peer_checkpoints") or {}).get(me) if isinstance(ex.get("peer_checkpoints"), dict) else None
    if holds is not None and not (
        isinstance(holds, dict)
        and isinstance(holds.get("size"), int)
        and isinstance(holds.get("root"), str)
        and _HEX64.match(holds["root"])
    ):
        holds = None
    recent: dict[int, str] = {}
    for pair in c.get("recent") or []:
        if (
            isinstance(pair, list)
            and len(pair) == 2
            and isinstance(pair[0], int)
            and not isinstance(pair[0], bool)
            and isinstance(pair[1], str)
            and _HEX64.match(pair[1])
        ):
            recent[pair[0]] = pair[1]
    reverse = None
    back = [
        r for r in ex["channels"]
        if isinstance(r, dict) and (r.get("sender"), r.get("recipient"), r.get("direction")) == (recipient, sender,
                                                                                                  "out" if direction == "in" else "in")
    ]  # fmt: skip
    if back and side == "sender":
        rs, rd = back[0].get("last_seq"), back[0].get("last_digest")
        if (
            isinstance(rs, int)
            and not isinstance(rs, bool)
            and 0 <= rs <= MAX_SEQ
            and isinstance(rd, str)
            and _HEX64.match(rd)
        ):
            reverse = (rs, rd, _timestamp(back[0].get("last_created")))
    return PeerPosition(node, seq, digest, created, "peer-status", segment, holds, recent, reverse)


def _timestamp(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value).timestamp())
    except ValueError:
        return None


def _segment(ex: dict[str, Any], node: str) -> int | None:
    log = ex.get("log")
    segs = log.get("segments") if isinstance(log, dict) else None
    starts = [s.get("start") for s in segs if isinstance(s, dict)] if isinstance(segs, list) else []
    ints = [s for s in starts if isinstance(s, int) and not isinstance(s, bool) and s >= 0]
    return max(ints) if ints else None


def from_receipts(s: Session, me: str, peer: str) -> PeerPosition:
    """The peer's position from the latest verified receipt it returned saying applied or rebased."""
    row = s.scalars(
        select(ReceiptRow)
        .where(
            ReceiptRow.direction == "in",
            ReceiptRow.peer_node == peer,
            ReceiptRow.channel == channel_dirname(me, peer),
            ReceiptRow.outcome.in_(("applied", "rebased")),
            ReceiptRow.seq.is_not(None),
        )
        .order_by(ReceiptRow.seq.desc(), ReceiptRow.id.desc())
        .limit(1)
    ).first()
    if row is None or row.seq is None:
        raise RecoverError(
            N_("no receipt from {peer} says what it applied: carry its `status --json` over (--peer-status FILE)"),
            params={"peer": peer},
        )
    return PeerPosition(peer, row.seq, row.digest, None, "receipts")


# ------------------------------------------------------------------------------------ planning


def plan_recovery(
    s: Session, me: str, side: str, peer: PeerPosition, *, rebase_bound: int = DEFAULT_REBASE_BOUND
) -> RecoveryPlan:
    """What recovering the channel with ``peer`` does on this node (nothing is changed)."""
    sender, recipient = (me, peer.node) if side == "sender" else (peer.node, me)
    row = _row(s, sender, recipient)
    before = _head(row)
    plan = RecoveryPlan(side, me, channel_dirname(sender, recipient), peer, before, dict(before))
    if side == "sender":
        base = max(row.last_seq, peer.last_seq)
        plan.next_seq = base + 2
        if plan.next_seq - peer.last_seq > rebase_bound:
            raise RecoverError(
                N_(
                    "this node sent up to seq {last_seq} and the peer stands at {last_seq2}: a snapshot at {next_seq} is beyond its rebase bound ({rebase_bound}); recover the peer's side first"
                ),
                params={
                    "last_seq": row.last_seq,
                    "last_seq2": peer.last_seq,
                    "next_seq": plan.next_seq,
                    "rebase_bound": rebase_bound,
                },
            )
        if plan.next_seq > MAX_SEQ:
            raise RecoverError(N_("seq {next_seq} is beyond the format's limit"), params={"next_seq": plan.next_seq})
        plan.after["last_seq"] = base + 1
        back = s.scalars(
            select(ChannelRow).where(ChannelRow.sender_node == peer.node, ChannelRow.recipient_node == me)
        ).first()
        if peer.reverse is not None and back is not None and peer.reverse[0] > back.last_seq:
            # restored from a backup: the peer's return packages it applied since are gone with it
            plan.inbound = {"from": back.last_seq, "to": peer.reverse[0], "digest": peer.reverse[1],
                            "created": peer.reverse[2] or back.last_created}  # fmt: skip
        if peer.holds is not None:
            size = _log_size(s)
            if peer.holds["size"] > size:
                plan.abandoned_head = {"size": peer.holds["size"], "root": peer.holds["root"]}
    else:
        new_last = min(row.last_seq, peer.last_seq)
        pkgs = s.scalars(
            select(ChannelPackageRow)
            .where(ChannelPackageRow.channel_id == row.id, ChannelPackageRow.status.in_(("applied", "pending")))
            .order_by(ChannelPackageRow.seq)
        ).all()
        for p in pkgs:
            known = peer.recent.get(p.seq, peer.last_digest if p.seq == peer.last_seq else None)
            if p.seq > new_last or (known is not None and p.digest != known):  # beyond, or the other side of a fork
                plan.abandoned.append({"seq": p.seq, "digest": p.digest, "status": p.status})
        if new_last == peer.last_seq:
            # back to the sender's real position: its digest, and the time of our copy of it when we hold it
            ours = next((p for p in pkgs if p.seq == new_last and p.digest == peer.last_digest), None)
            created = ours.created if ours is not None else peer.last_created
            plan.after.update(
                last_seq=new_last,
                last_digest=peer.last_digest,
                last_created=min(row.last_created, created) if created is not None else 0,
                rebase_seq=min(row.rebase_seq, new_last),
            )
    if peer.segment is not None:
        plan.abandoned_checkpoints = sorted(
            s.scalars(
                select(PeerCheckpointRow.size).where(
                    PeerCheckpointRow.peer_node == peer.node,
                    PeerCheckpointRow.size > peer.segment,
                    PeerCheckpointRow.source != "abandoned",
                )
            ).all()
        )
    return plan


def _row(s: Session, sender: str, recipient: str) -> ChannelRow:
    row = s.scalars(
        select(ChannelRow).where(ChannelRow.sender_node == sender, ChannelRow.recipient_node == recipient)
    ).first()
    if row is None:
        raise RecoverError(
            N_("there is no channel {channel_dirname} on this node: nothing to recover"),
            params={"channel_dirname": channel_dirname(sender, recipient)},
        )
    return row


def _head(row: ChannelRow) -> dict[str, Any]:
    return {
        "last_seq": row.last_seq,
        "last_digest": row.last_digest,
        "last_created": row.last_created,
        "rebase_seq": row.rebase_seq,
    }


def _log_size(s: Session) -> int:
    last = s.scalar(select(TransferLogRow.index).order_by(TransferLogRow.index.desc()).limit(1))
    return 0 if last is None else last + 1


# ------------------------------------------------------------------------------------ doing


def apply_recovery(s: Session, plan: RecoveryPlan, *, reason: str, at: datetime, actor: str | None = None) -> int:
    """Carry out ``plan`` in the caller's transaction; returns the index of its ``channel.recovered`` entry
    (the first of the log's new segment)."""
    sender, recipient = (plan.me, plan.peer.node) if plan.side == "sender" else (plan.peer.node, plan.me)
    row = _row(s, sender, recipient)
    if _head(row) != plan.before:
        raise RecoverError(
            N_("channel {channel} moved since the plan was shown: run channel recover again"),
            params={"channel": plan.channel},
        )
    row.last_seq = plan.after["last_seq"]
    row.last_digest = plan.after["last_digest"]
    row.last_created = plan.after["last_created"]
    row.rebase_seq = plan.after["rebase_seq"]
    row.updated_at = at
    for a in plan.abandoned:
        pkg = s.scalars(
            select(ChannelPackageRow).where(
                ChannelPackageRow.channel_id == row.id,
                ChannelPackageRow.seq == a["seq"],
                ChannelPackageRow.digest == a["digest"],
            )
        ).first()
        if pkg is not None:
            pkg.status = "abandoned"
    abandoned_seqs = {a["seq"] for a in plan.abandoned}
    for cp in s.scalars(select(PeerCheckpointRow).where(PeerCheckpointRow.peer_node == plan.peer.node)):
        # beyond a restored peer log's new segment, or carried by a package set aside (a forged head)
        if cp.size in plan.abandoned_checkpoints or (
            plan.side == "receiver" and cp.source == "package" and cp.package_seq in abandoned_seqs
        ):
            cp.source = "abandoned"
    if plan.inbound is not None:
        back = _row(s, plan.peer.node, plan.me)
        back.last_seq, back.last_digest = plan.inbound["to"], plan.inbound["digest"]
        back.last_created, back.updated_at = max(back.last_created, plan.inbound["created"]), at
        for pkg in s.scalars(
            select(ChannelPackageRow).where(
                ChannelPackageRow.channel_id == back.id,
                ChannelPackageRow.status == "pending",
                ChannelPackageRow.seq <= plan.inbound["to"],
            )
        ):
            pkg.status = "abandoned"
    if plan.side == "sender":
        key = RECOVER_FULL + plan.peer.node
        meta = s.get(NodeMeta, key)
        if meta is None:
            s.add(NodeMeta(key=key, value=str(plan.next_seq), updated_at=at))
        else:
            meta.value, meta.updated_at = str(plan.next_seq), at
    entry = record_event(
        s, EventCode.CHANNEL_RECOVERED, at=at, actor=actor, result="ok", reason="recovered",
        subject={
            "channel": plan.channel,
            "side": plan.side,
            "peer": plan.peer.node,
            "source": plan.peer.source,
            "why": reason,
            "old": {"seq": plan.before["last_seq"], "digest": plan.before["last_digest"]},
            "new": {"seq": plan.after["last_seq"], "digest": plan.after["last_digest"]},
            "peer_last": {"seq": plan.peer.last_seq, "digest": plan.peer.last_digest},
            "next_seq": plan.next_seq,
            "abandoned": [{"seq": a["seq"], "digest": a["digest"]} for a in plan.abandoned[:100]],
            "abandoned_peer_checkpoints": len(plan.abandoned_checkpoints),
            "abandoned_head": plan.abandoned_head,
            "inbound": plan.inbound,
        },
    )  # fmt: skip
    return entry.index


def wants_snapshot(s: Session, peer: str) -> int | None:
    """The seq at which the next package to ``peer`` must be a snapshot, after a recovery (else None)."""
    value = s.scalar(select(NodeMeta.value).where(NodeMeta.key == RECOVER_FULL + peer))
    return int(value) if value is not None and value.isdigit() else None


def snapshot_sent(s: Session, peer: str) -> None:
    """The recovery's snapshot to ``peer`` is sealed: the next packages are deltas again."""
    meta = s.get(NodeMeta, RECOVER_FULL + peer)
    if meta is not None:
        s.delete(meta)
