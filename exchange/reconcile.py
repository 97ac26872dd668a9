"""Reconciliation: does every package this node sent have a receipt from its recipient saying it was
applied, and is every receipt it holds about a package it sent? (``internal-node audit reconcile``)

Statuses of a sent package:

- ``applied`` — a receipt with its digest says applied (or rebased; or duplicate, which the peer
  only says of a package it already applied);
- ``pending`` — no final receipt yet, and sealed less than the expected exchange period ago;
- ``parked`` — the peer holds it waiting for a missing predecessor, for longer than the period;
- ``damaged`` — the peer received only damaged copies (a receipt at its seq with other bytes,
  rejected), never these bytes; the copies are evidence of the medium, not a failure of the package;
- ``rejected`` — the peer rejected exactly these bytes (reason given) and never applied them;
- ``missing`` — no receipt at all, and sealed longer ago than the period.

A receipt whose digest matches no sent package is listed too: when it reports a *rejected* copy at
the sequence number of a package that was sent (a copy damaged or forged on the medium), it is
attached to that package as evidence; any other such receipt is ``unexplained`` and a failure.

The verdict (and the exit status): *complete* (0) when every package is applied and no receipt is
unexplained; *action pending* (5) when nothing failed but some package is not applied yet and is
still within its ``not_after`` — each says what to do (wait, or ``export --resend N``); *failed* (4)
when a package's own bytes were rejected, a package not applied is past its ``not_after`` (a resend
would be refused as expired: ``export --full``), or a receipt is unexplained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from nodekit.errors import ExitCode, NodeError
from nodekit.i18n import N_, _
from nodekit.models import ChannelPackageRow, ChannelRow, ReceiptRow, TransferLogRow
from transfer.errors import PackageRejected
from transfer.header import parse_prefix
from transfer.limits import DEFAULT_VALIDITY
from transfer.log import EventCode
from transfer.medium import channel_dirname, package_name
from transfer.stores import PackageStore

STATUSES = ("applied", "pending", "parked", "damaged", "rejected", "missing")

# when a package's not_after is unknown (its archived copy is gone): the default validity
NotAfter = Callable[[str, ChannelPackageRow], int | None]


class ReconcileFailed(NodeError):
    """Some package or receipt does not reconcile (the report says which)."""

    exit_code = ExitCode.VERIFICATION
    reason = "not-reconciled"


class ReconcilePending(NodeError):
    """Nothing failed, but some package is not applied yet: the report names each and what to do."""

    exit_code = ExitCode.PENDING
    reason = "action-pending"


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
    not_after: datetime | None = None
    expired: bool = False  # not applied, and past its not_after: a resend would be refused
    action: str = ""  # what the operator does about a package not applied (English: --json, logs)
    action_id: str = ""  # its message id, ``{seq}`` to fill in (shown in the operator's language)

    def shown_action(self) -> str:
        """The action in the operator's language."""
        return _(self.action_id).format(seq=self.seq) if self.action_id else self.action

    @property
    def failed(self) -> bool:
        return self.status == "rejected" or (self.status != "applied" and self.expired)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "seq": self.seq,
            "digest": self.digest,
            "sealed": self.sealed.isoformat(timespec="seconds"),
            "not_after": self.not_after.isoformat(timespec="seconds") if self.not_after else None,
            "status": self.status,
            "reason": self.reason,
            "expired": self.expired,
            "action": self.action,
            "receipts": self.receipts,
            "rejected_copies": self.rejected_copies,
        }


@dataclass
class ReconcileReport:
    period: int
    packages: list[PackageStatus]
    unexplained: list[dict[str, Any]]
    abandoned: list[dict[str, Any]] = field(default_factory=list)  # receipts for what a recovery jumped past

    @property
    def summary(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for p in self.packages:
            out[p.status] += 1
        out["expired"] = sum(1 for p in self.packages if p.status != "applied" and p.expired)
        out["unexplained_receipts"] = len(self.unexplained)
        return out

    @property
    def ok(self) -> bool:
        """Nothing failed (some package may still wait for an action: see :attr:`complete`)."""
        return not self.unexplained and not any(p.failed for p in self.packages)

    @property
    def complete(self) -> bool:
        """Every exported package applied, and every receipt explained."""
        return self.ok and all(p.status == "applied" for p in self.packages)

    @property
    def waiting(self) -> list[PackageStatus]:
        """The packages not applied yet that still can be: each with its action."""
        return [p for p in self.packages if p.status != "applied" and not p.failed]

    @property
    def verdict(self) -> str:
        return "complete" if self.complete else "action-pending" if self.ok else "failed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "complete": self.complete,
            "verdict": self.verdict,
            "period_seconds": self.period,
            "summary": self.summary,
            "packages": [p.as_dict() for p in self.packages],
            "unexplained_receipts": self.unexplained,
            "abandoned_receipts": self.abandoned,
        }


def reconcile(
    session: Session,
    me: str,
    *,
    now: datetime,
    period: int,
    peer: str | None = None,
    not_after: NotAfter | None = None,
    validity: int = DEFAULT_VALIDITY,
) -> ReconcileReport:
    """Match every package ``me`` sent with the receipts its recipients returned.

    ``not_after`` gives a sent package's ``not_after`` (read from its archived header); without it, or
    when it returns None, ``created + validity``."""
    stmt = select(ChannelRow).where(ChannelRow.outbound.is_(True), ChannelRow.sender_node == me)
    if peer is not None:
        stmt = stmt.where(ChannelRow.recipient_node == peer)
    packages: list[PackageStatus] = []
    unexplained: list[dict[str, Any]] = []
    abandoned: list[dict[str, Any]] = []
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
            limit = not_after(ch.recipient_node, p) if not_after is not None else None
            st.not_after = datetime.fromtimestamp(limit if limit is not None else p.created + validity, UTC)
            statuses[p.seq] = st
            packages.append(st)
        known = {p.digest for p in sent}
        skipped = _recovered_ranges(session, name)
        for r in receipts:
            if r.digest in known:
                continue
            target = statuses.get(r.seq) if r.seq is not None else None
            if r.outcome == "rejected" and target is not None and by_seq[r.seq].digest != r.digest:  # type: ignore[index]
                target.rejected_copies.append(_receipt(r))
            elif r.seq is not None and any(lo < r.seq < hi for lo, hi in skipped):
                # sent by this node before its database was restored from a backup: a recorded recovery
                # jumped past them (channel.recovered), so they are the abandoned log's, not unexplained
                abandoned.append({**_receipt(r), "channel": name})
            else:
                unexplained.append({**_receipt(r), "channel": name})
        for st in statuses.values():
            _judge(st, now)
    return ReconcileReport(period=period, packages=packages, unexplained=unexplained, abandoned=abandoned)


def _recovered_ranges(session: Session, channel: str) -> list[tuple[int, int]]:
    """The sequence numbers each recovery of this (outbound) channel jumped over: (old last, next seq)."""
    out: list[tuple[int, int]] = []
    for subject in session.scalars(
        select(TransferLogRow.subject).where(TransferLogRow.event == EventCode.CHANNEL_RECOVERED.value)
    ):
        doc = orjson.loads(subject)
        old, nxt = (doc.get("old") or {}).get("seq"), doc.get("next_seq")
        if (
            doc.get("channel") == channel
            and doc.get("side") == "sender"
            and isinstance(old, int)
            and isinstance(nxt, int)
        ):
            out.append((old, nxt))
    return out


def _judge(st: PackageStatus, now: datetime) -> None:
    """A damaged copy is evidence: the package itself is then waiting for its resend. Say what to do."""
    if st.status == "applied":
        return
    if st.status in ("missing", "pending") and st.rejected_copies:
        st.status = "damaged"
        st.reason = st.rejected_copies[-1]["reason"]
    st.expired = st.not_after is not None and now > st.not_after
    if st.status == "rejected":
        st.action_id = N_("see the reason: the peer refused these bytes (docs/OPERATIONS.md, reconcile)")
    elif st.expired:
        st.action_id = N_("past its not_after, a resend would be refused as expired: internal-node export --full")
    elif st.status == "pending" and not st.receipts:
        st.action_id = N_("wait for the next exchange round; if the copy was lost: internal-node export --resend {seq}")
    elif st.status in ("pending", "parked"):
        st.action_id = N_("held by the peer until the packages before it arrive (resend those)")
    else:  # damaged, missing
        st.action_id = N_("internal-node export --resend {seq}")
    st.action = st.action_id.format(seq=st.seq)


def archived_not_after(archive: Path, me: str) -> NotAfter:
    """``not_after`` of a sent package as its own archived header says (None if the copy is gone or
    unreadable: the caller falls back to the default validity). The archive is this node's own."""

    def read(recipient: str, p: ChannelPackageRow) -> int | None:
        path = PackageStore(archive).path(me, recipient, package_name(p.seq, p.digest))
        try:
            with path.open("rb") as fh:
                value = parse_prefix(fh.read(70_000)).document.get("not_after")
        except (OSError, PackageRejected):
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return read


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
