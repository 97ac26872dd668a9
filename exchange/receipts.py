"""Receipts and checkpoints crossing the gap: issuing signed receipts for the packages a node received
(the outbox), putting them and the node's latest checkpoint into its next package, and verifying and
recording the receipts and checkpoints a peer sends. Everything runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keys import KeyStatus, PublicKeys, SecretKeys, TrustState, canonical
from nodekit.auditlog import sign_log_checkpoint
from nodekit.events import record_event
from nodekit.i18n import N_
from nodekit.models import PeerCheckpointRow, ReceiptRow
from transfer.checkpoint import Checkpoint, parse_checkpoint
from transfer.errors import LogVerificationError, PackageRejected
from transfer.items import Item
from transfer.log import EventCode
from transfer.medium import channel_dirname
from transfer.receipt import Receipt, parse_receipt, sign_receipt

# receipts one package carries at most; the rest wait for the next package (a junk flood cannot
# make one package grow without bound)
MAX_RECEIPTS_PER_PACKAGE = 5000


def outgoing_items(session: Session, secret: SecretKeys, me: str, peer: str, seq: int, at: datetime) -> Iterator[Item]:
    """The exchange items of the next package to ``peer``: this node's checkpoint as of now (just before
    the package's own ``package.sealed`` entry), then the receipts waiting for ``peer``, marked as
    carried by package ``seq``."""
    cp = sign_log_checkpoint(session, secret, me, at)
    yield {"kind": "checkpoint", **cp.envelope()}
    rows = session.scalars(
        select(ReceiptRow)
        .where(ReceiptRow.direction == "out", ReceiptRow.peer_node == peer, ReceiptRow.carrier_seq.is_(None))
        .order_by(ReceiptRow.id)
        .limit(MAX_RECEIPTS_PER_PACKAGE)
    ).all()
    if rows:
        session.execute(update(ReceiptRow).where(ReceiptRow.id.in_([r.id for r in rows])).values(carrier_seq=seq))
    for r in rows:
        yield {"kind": "receipt", "receipt": orjson.loads(r.document), "sig": r.sig}


def issue_receipt(
    session: Session,
    secret: SecretKeys,
    *,
    me: str,
    sender: str,
    seq: int | None,
    digest: str,
    outcome: str,
    reason: str,
    at: datetime,
) -> Receipt:
    """Sign a receipt for a package from ``sender`` and put it in the outbox, with this node's checkpoint
    over the log as it now stands (the entries recording the outcome included)."""
    own = sign_log_checkpoint(session, secret, me, at)
    acknowledges = _carried_checkpoint(session, sender, seq, digest) if outcome in ("applied", "rebased") else None
    receipt = sign_receipt(
        secret, node=me, sender=sender, seq=seq, digest=digest, outcome=outcome, reason=reason, at=at,
        checkpoint=own, acknowledges=acknowledges,
    )  # fmt: skip
    session.add(
        ReceiptRow(
            direction="out",
            peer_node=sender,
            channel=channel_dirname(sender, me),
            seq=seq,
            digest=digest,
            outcome=outcome,
            reason=receipt.reason,
            issued_at=receipt.at,
            document=canonical.encode(receipt.document()).decode(),
            sig=receipt.sig.hex(),
            carrier_seq=None,
            recorded_at=at,
        )
    )
    session.flush()
    return receipt


def _carried_checkpoint(session: Session, sender: str, seq: int | None, digest: str) -> Checkpoint | None:
    """The sender's checkpoint that package ``seq`` carried (recorded moments ago in this transaction)."""
    if seq is None:
        return None
    row = session.scalars(
        select(PeerCheckpointRow)
        .where(
            PeerCheckpointRow.peer_node == sender,
            PeerCheckpointRow.package_seq == seq,
            PeerCheckpointRow.source == "package",
            PeerCheckpointRow.package_digest.is_(None),
        )
        .order_by(PeerCheckpointRow.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    row.package_digest = digest
    return Checkpoint(node=sender, key=row.key_id, size=row.size, root=row.root, at=row.at, sig=bytes.fromhex(row.sig))


def peer_key(trust: TrustState, node: str, key_id: str, what: str, reason: str) -> PublicKeys:
    """The public keys of ``key_id`` if the trust store binds it to ``node`` and it was never revoked."""
    key = trust.get(key_id)
    if key is None or key.node_id != node:
        raise PackageRejected(
            f"{what} is signed by key {key_id}, which is not a trusted key of node {node}", reason=reason
        )
    if key.status in (KeyStatus.REVOKED, KeyStatus.DISTRUSTED):
        raise PackageRejected(
            f"{what} is signed by key {key_id} of node {node}, which is {key.status.value}", reason=reason
        )
    return key.public


def record_peer_checkpoint(
    session: Session,
    trust: TrustState,
    item: Item,
    *,
    sender: str,
    package_seq: int,
    at: datetime,
    source: str = "package",
) -> Checkpoint:
    """Verify a checkpoint of ``sender``'s log with its trusted key and record it (``bad-checkpoint`` if not)."""
    try:
        cp = parse_checkpoint({"checkpoint": item["checkpoint"], "sig": item["sig"]})
    except LogVerificationError as exc:
        raise PackageRejected(str(exc), reason="bad-checkpoint") from None
    _store_peer_checkpoint(session, trust, cp, sender=sender, package_seq=package_seq, at=at, source=source)
    return cp


def _store_peer_checkpoint(
    session: Session, trust: TrustState, cp: Checkpoint, *, sender: str, package_seq: int, at: datetime, source: str
) -> None:
    if cp.node != sender:
        raise PackageRejected(
            f"package from node {sender} carries a checkpoint of node {cp.node}", reason="bad-checkpoint"
        )
    public = peer_key(trust, sender, cp.key, f"the checkpoint of size {cp.size}", "bad-checkpoint")
    try:
        cp.verify(public)
    except LogVerificationError as exc:
        raise PackageRejected(str(exc), reason="bad-checkpoint") from None
    same = session.scalars(
        select(PeerCheckpointRow).where(
            PeerCheckpointRow.peer_node == sender,
            PeerCheckpointRow.size == cp.size,
            # set aside by channel recover: the peer's log restored from a backup, or a forged head
            PeerCheckpointRow.source != "abandoned",
        )
    ).all()
    if any(r.root != cp.root for r in same):
        # two signed heads of one size: the peer's log was rewritten. Evidence, not the package's fault.
        record_event(
            session, EventCode.ALARM_FORK, at=at, result="alarm", reason="log-fork",
            subject={"peer": sender, "size": cp.size, "root": cp.root, "known_root": same[0].root},
        )  # fmt: skip
    if any(r.root == cp.root for r in same) and source == "receipt":
        return  # already held: the same head travels in every receipt of a batch
    session.add(
        PeerCheckpointRow(
            peer_node=sender,
            size=cp.size,
            root=cp.root,
            key_id=cp.key,
            at=cp.at,
            sig=cp.sig.hex(),
            source=source,
            package_seq=package_seq,
            package_digest=None,
            received_at=at,
        )
    )


def record_receipt(
    session: Session,
    trust: TrustState,
    own_keys: Mapping[str, PublicKeys],
    item: Item,
    *,
    me: str,
    sender: str,
    package_seq: int,
    at: datetime,
) -> Receipt:
    """Verify a receipt that arrived in package ``package_seq`` from ``sender`` and record it.

    The receipt must be issued by ``sender``, be about a package ``me`` sent, and verify with
    ``sender``'s trusted key; its checkpoint must verify too, and the checkpoint of ``me``'s log it
    acknowledges must verify with one of ``me``'s own keys. Anything else rejects the package
    (``bad-receipt``).
    """
    try:
        receipt = parse_receipt(item["receipt"], item["sig"])
    except LogVerificationError as exc:
        raise PackageRejected(str(exc), reason="bad-receipt") from None
    if receipt.node != sender or receipt.sender != me:
        raise PackageRejected(
            f"package from node {sender} carries a receipt issued by {receipt.node} to {receipt.sender}",
            reason="bad-receipt",
        )
    public = peer_key(trust, sender, receipt.key, f"the receipt for seq {receipt.seq}", "bad-receipt")
    try:
        receipt.verify(public)
        if receipt.acknowledges is not None:
            own = own_keys.get(receipt.acknowledges.key)
            if own is None:
                raise LogVerificationError(
                    N_(
                        "the receipt for seq {seq} acknowledges a checkpoint signed by key {key}, which is not one of this node's keys"
                    ),
                    params={"seq": receipt.seq, "key": receipt.acknowledges.key},
                    reason="bad-receipt",
                )
            receipt.acknowledges.verify(own)
    except LogVerificationError as exc:
        raise PackageRejected(str(exc), reason="bad-receipt") from None
    try:
        _store_peer_checkpoint(
            session, trust, receipt.checkpoint, sender=sender, package_seq=package_seq, at=at, source="receipt"
        )
    except PackageRejected as exc:
        raise PackageRejected(f"receipt for seq {receipt.seq}: {exc}", reason="bad-receipt") from None
    channel = channel_dirname(me, sender)
    session.add(
        ReceiptRow(
            direction="in",
            peer_node=sender,
            channel=channel,
            seq=receipt.seq,
            digest=receipt.digest,
            outcome=receipt.outcome,
            reason=receipt.reason,
            issued_at=receipt.at,
            document=canonical.encode(receipt.document()).decode(),
            sig=receipt.sig.hex(),
            carrier_seq=package_seq,
            recorded_at=at,
        )
    )
    record_event(
        session, EventCode.RECEIPT_RECORDED, at=at, actor=f"package:{package_seq}",
        result=receipt.outcome, reason=receipt.reason,
        subject={"channel": channel, "seq": receipt.seq, "digest": receipt.digest, "issuer": sender},
    )  # fmt: skip
    return receipt


def receipt_summary(row: ReceiptRow) -> dict[str, Any]:
    return {
        "direction": row.direction,
        "peer": row.peer_node,
        "channel": row.channel,
        "seq": row.seq,
        "digest": row.digest,
        "outcome": row.outcome,
        "reason": row.reason,
        "issued_at": row.issued_at.isoformat(),
        "carrier_seq": row.carrier_seq,
    }
