"""Reconciliation: does every package this node sent have a receipt from its recipient saying it was
applied, and is every receipt it holds about a package it sent? (``internal-node audit reconcile``)

Statuses of a sent package:

- ``applied`` — a receipt with its digest says applied (or rebased; or duplicate, which the peer
  only says of a package it already applied);
- ``pending`` — no final receipt yet, and sealed less than the expected exchange period ago;
- ``parked`` — the peer holds it waiting for a missing predecessor, for longer than the period;
- ``rejected`` — the peer rejected exactly these bytes (reason given) and never applied them;
- ``missing`` — no receipt at all, and sealed longer ago than the period.

A receipt whose digest matches no sent package is listed too: when it reports a *rejected* copy at
the sequence number of a package that was sent (a copy damaged or forged on the medium), it is
attached to that package as evidence; any other such receipt is ``unexplained`` and a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nodekit.errors import ExitCode, NodeError
from nodekit.models import ChannelPackageRow, ChannelRow, ReceiptRow
from transfer.medium import channel_dirname

FAILURES = frozenset({"missing", "rejected", "parked"})


class ReconcileFailed(NodeError):
    """Some package or receipt does not reconcile (the report says which)."""

    exit_code = ExitCode.VERIFICATION
    reason = "not-reconciled"


@dataclass
class PackageStatus:
    channel: str
    seq: int
    digest: str
    sealed: datetime
    status: str
    reason: str = ""
    receipts: list[dict[str, Any]] = field(default_factory=list)
    rejected_copies: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "seq": self.seq,
            "digest": self.digest,
            "sealed": self.sealed.isoformat(timespec="seconds"),
            "status": self.status,
            "reason": self.reason,
            "receipts": self.receipts,
            "rejected_copies": self.rejected_copies,
        }


@dataclass
class ReconcileReport:
    period: int
    packages: list[PackageStatus]
    unexplained: list[dict[str, Any]]

    @property
    def summary(self) -> dict[str, int]:
        out = dict.fromkeys(("applied", "pending", "parked", "rejected", "missing"), 0)
        for p in self.packages:
            out[p.status] += 1
        out["unexplained_receipts"] = len(self.unexplained)
        return out

    @property
    def ok(self) -> bool:
        return not self.unexplained and not any(p.status in FAILURES for p in self.packages)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "period_seconds": self.period,
            "summary": self.summary,
            "packages": [p.as_dict() for p in self.packages],
            "unexplained_receipts": self.unexplained,
        }


def reconcile(session: Session, me: str, *, now: datetime, period: int, peer: str | None = None) -> ReconcileReport:
    """Match every package ``me`` sent with the receipts its recipients returned."""
    stmt = select(ChannelRow).where(ChannelRow.outbound.is_(True), ChannelRow.sender_node == me)
    if peer is not None:
        stmt = stmt.where(ChannelRow.recipient_node == peer)
    packages: list[PackageStatus] = []
    unexplained: list[dict[str, Any]] = []
    for ch in session.scalars(stmt.order_by(ChannelRow.recipient_node)):
        name = channel_dirname(me, ch.recipient_node)
        sent = session.scalars(
            select(ChannelPackageRow).where(ChannelPackageRow.channel_id == ch.id).order_by(ChannelPackageRow.seq)
        ).all()
        receipts = session.scalars(
            select(ReceiptRow)
            .where(ReceiptRow.direction == "in", ReceiptRow.channel == name)
            .order_by(ReceiptRow.issued_at, ReceiptRow.id)
        ).all()
        by_digest: dict[str, list[ReceiptRow]] = {}
        for r in receipts:
            by_digest.setdefault(r.digest, []).append(r)
        by_seq = {p.seq: p for p in sent}
        statuses: dict[int, PackageStatus] = {}
        for p in sent:
            st = _status(name, p, by_digest.get(p.digest, []), now, period)
            statuses[p.seq] = st
            packages.append(st)
        known = {p.digest for p in sent}
        for r in receipts:
            if r.digest in known:
                continue
            target = statuses.get(r.seq) if r.seq is not None else None
            if r.outcome == "rejected" and target is not None and by_seq[r.seq].digest != r.digest:  # type: ignore[index]
                target.rejected_copies.append(_receipt(r))
            else:
                unexplained.append({**_receipt(r), "channel": name})
    return ReconcileReport(period=period, packages=packages, unexplained=unexplained)


def _status(channel: str, p: ChannelPackageRow, got: list[ReceiptRow], now: datetime, period: int) -> PackageStatus:
    sealed = datetime.fromtimestamp(p.created, UTC)
    st = PackageStatus(channel=channel, seq=p.seq, digest=p.digest, sealed=sealed, status="")
    st.receipts = [_receipt(r) for r in got]
    outcomes = {r.outcome for r in got}
    young = (now - sealed).total_seconds() <= period
    if outcomes & {"applied", "rebased", "duplicate"}:
        st.status = "applied"
    elif "rejected" in outcomes:
        st.status = "rejected"
        st.reason = next(r.reason for r in reversed(got) if r.outcome == "rejected")
    elif "pending" in outcomes:
        st.status = "pending" if young else "parked"
    else:
        st.status = "pending" if young else "missing"
    return st


def _receipt(r: ReceiptRow) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "digest": r.digest,
        "outcome": r.outcome,
        "reason": r.reason,
        "issued_at": r.issued_at.isoformat(timespec="seconds"),
        "issuer": r.peer_node,
        "carried_by": r.carrier_seq,
    }
