"""What ``status`` reports about the exchange: channels, gaps, unsent packages, quarantine, keys, freshness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange import alarms
from keys.errors import KeyStoreError
from keys.identity_store import Identity
from nodekit import trust_store
from nodekit.auditlog import log_segments
from nodekit.models import (
    ChannelPackageRow,
    ChannelRow,
    LogCheckpointRow,
    PeerCheckpointRow,
    ReceiptRow,
    TransferLogRow,
)
from nodekit.runtime import Node
from transfer.medium import Quarantine

KEY_WARNING = timedelta(days=30)  # warn this long before a key expires


def exchange_status(node: Node) -> dict[str, Any]:
    now = node.clock()
    period = node.config.exchange_period
    channels: list[dict[str, Any]] = []
    overdue = False
    with node.sessions() as s:
        for row in s.scalars(select(ChannelRow).order_by(ChannelRow.id)):
            pkgs = s.execute(
                select(ChannelPackageRow.seq, ChannelPackageRow.status, ChannelPackageRow.recorded_at).where(
                    ChannelPackageRow.channel_id == row.id
                )
            ).all()
            pending = sorted(q for q, st, _ in pkgs if st == "pending")
            last_at = (
                datetime.fromtimestamp(row.last_created, UTC).isoformat(timespec="seconds")
                if row.last_created
                else None
            )
            age = int(now.timestamp()) - row.last_created if row.last_created else None
            entry: dict[str, Any] = {
                "direction": "out" if row.outbound else "in",
                "sender": row.sender_node,
                "recipient": row.recipient_node,
                "last_seq": row.last_seq,
                "last_digest": row.last_digest,
                "last_created": last_at,
                "recent": _recent(s, row),
                "suite": row.suite,
            }
            if row.outbound:
                entry["unwritten"] = sorted(q for q, st, _ in pkgs if st == "sealed")
            else:
                # the sender's time is last_created; ours is when the package at last_seq was applied
                applied_at = [at for q, st, at in pkgs if q == row.last_seq and st == "applied"]
                entry["last_applied_at"] = applied_at[0].isoformat(timespec="seconds") if applied_at else None
                entry["pending"] = pending
                if pending:
                    entry["missing"] = [q for q in range(row.last_seq + 1, max(pending)) if q not in pending]
                entry["freshness"] = "overdue" if age is None or age > period else "ok"
                overdue = overdue or entry["freshness"] == "overdue"
            channels.append(entry)
        applied = s.scalar(
            select(func.count()).select_from(ChannelPackageRow).where(ChannelPackageRow.status == "applied")
        )
        keys = trust_store.trusted_rows(s)
        overdue_now = [
            o.as_dict() for o in alarms.inbound_overdue(s, node, now) + alarms.receipts_overdue(s, node, now)
        ]
        log_info = _log_status(s)
        me = trust_store.own_node_id(s)
        peer_heads = _peer_heads(s)
        newest = alarms.newest_created(s)
        behind = alarms.clock_behind(s, now)
        trusted = [
            {
                "key_id": k.key_id, "node_id": k.node_id, "node_name": k.node_name, "role": k.role,
                "status": k.status, "expires": k.expires.isoformat(timespec="seconds"),
                "expires_soon": k.status == "trusted" and k.expires - now < KEY_WARNING,
            }
            for k in keys
        ]  # fmt: skip
    own: dict[str, Any] | None = None
    if Identity.exists(node.config.keys_dir):
        try:
            current = Identity.load(node.config.keys_dir).current  # public part only: no passphrase
            own = {
                "key_id": current.key_id,
                "expires": current.expires.isoformat(timespec="seconds"),
                "expires_soon": current.expires - now < KEY_WARNING,
            }
        except KeyStoreError as exc:
            own = {"error": str(exc)}
    q = Quarantine(node.config.quarantine_dir).entries()
    return {
        "node": me,
        "channels": channels,
        "peer_checkpoints": peer_heads,
        "packages_applied": applied or 0,
        "quarantine": {"count": len(q), "latest": q[-1] if q else None},
        "own_key": own,
        "trusted_keys": trusted,
        "freshness": "overdue"
        if overdue or overdue_now
        else ("ok" if any(c["direction"] == "in" for c in channels) else "no-inbound-channel"),
        "expected_period_seconds": period,
        "alarms": overdue_now,
        "log": log_info,
        "clock": _clock_status(now, newest, behind),
    }


def _clock_status(now: datetime, newest: int | None, behind: alarms.ClockBehind | None) -> dict[str, Any]:
    """This node's clock against the newest package time it has seen: ``behind`` more than a day, else ``ok``
    (a clock far ahead cannot be told from a quiet channel, docs/OPERATIONS.md "Clocks")."""
    out: dict[str, Any] = {
        "status": "behind" if behind is not None else "ok",
        "now": now.isoformat(timespec="seconds"),
        "newest_created": datetime.fromtimestamp(newest, UTC).isoformat(timespec="seconds") if newest else None,
    }
    if behind is not None:
        out["behind_seconds"] = behind.behind
    return out


def _log_status(s: Session) -> dict[str, Any]:
    """The transfer log's size, its last checkpoint, and the receipts waiting or received."""
    entries = s.scalar(select(func.count()).select_from(TransferLogRow)) or 0
    last = s.scalars(select(LogCheckpointRow).order_by(LogCheckpointRow.size.desc()).limit(1)).first()
    outbox = s.scalar(
        select(func.count())
        .select_from(ReceiptRow)
        .where(ReceiptRow.direction == "out", ReceiptRow.carrier_seq.is_(None))
    )
    received = s.scalar(select(func.count()).select_from(ReceiptRow).where(ReceiptRow.direction == "in"))
    return {
        "entries": entries,
        "segments": log_segments(s),  # each channel recover starts one (FORMAT.md §13.6)
        "last_checkpoint": None
        if last is None
        else {"size": last.size, "root": last.root, "at": last.at.isoformat(timespec="seconds")},
        "unsigned_tail": entries - (last.size if last is not None else 0),
        "receipts_to_send": outbox or 0,
        "receipts_received": received or 0,
    }


RECENT = 64  # packages per channel whose digests status lists (what channel recover compares)


def _recent(s: Session, row: ChannelRow) -> list[list[Any]]:
    """[seq, digest] of the channel's latest packages, sent or applied: the peer's `channel recover` sets
    aside what it holds at one of these positions with another digest (one side of a fork)."""
    kept = ("sealed", "written") if row.outbound else ("applied",)
    rows = s.execute(
        select(ChannelPackageRow.seq, ChannelPackageRow.digest)
        .where(ChannelPackageRow.channel_id == row.id, ChannelPackageRow.status.in_(kept))
        .order_by(ChannelPackageRow.seq.desc())
        .limit(RECENT)
    ).all()
    return [[q, d] for q, d in reversed(rows)]


def _peer_heads(s: Session) -> dict[str, dict[str, Any]]:
    """The latest checkpoint held of each peer's log (what `channel recover` on that peer reads)."""
    out: dict[str, dict[str, Any]] = {}
    for peer, size, root in s.execute(
        select(PeerCheckpointRow.peer_node, PeerCheckpointRow.size, PeerCheckpointRow.root)
        .where(PeerCheckpointRow.source != "abandoned")
        .order_by(PeerCheckpointRow.size)
    ):
        out[peer] = {"size": size, "root": root}
    return out
