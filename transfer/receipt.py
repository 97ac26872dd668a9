"""Signed receipts: what a node says became of a package it received (docs/FORMAT.md §12).

A receipt names the package by its sender, ``seq`` and package digest, states the outcome and reason
code, carries the issuer's own log checkpoint (signed after the outcome was logged), and echoes the
sender's checkpoint that the package carried, so the sender holds a counter-signed copy of its own
log head. It is signed under the ``receipt`` context and travels as the ``receipt`` payload item
``{"kind": "receipt", "receipt": <document>, "sig": <hex>}``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from keys import canonical
from keys.contexts import Purpose
from keys.errors import EncodingError, SignatureError
from keys.identity import PublicKeys, SecretKeys, check_key_id
from keys.schema import fields, hex_field, int_field, node_id_field
from keys.strict import is_hex, matches, whole
from keys.times import format_time, parse_time
from transfer.checkpoint import Checkpoint, parse_checkpoint
from transfer.errors import N_, LogVerificationError

RECEIPT_TYPE = "credgap-receipt"
OUTCOMES = frozenset({"applied", "rebased", "duplicate", "pending", "rejected"})
_FIELDS = {
    "type",
    "v",
    "node",
    "key",
    "sender",
    "seq",
    "digest",
    "outcome",
    "reason",
    "at",
    "checkpoint",
    "acknowledges",
}
_REASON = whole(r"[a-z0-9-]{0,64}")


@dataclass(frozen=True)
class Receipt:
    """One signed receipt."""

    node: str  # the issuer: the node that received the package
    key: str  # key id of the issuer's signing key
    sender: str  # the node that sent the package (the receipt's addressee)
    seq: int | None  # None when the package's header could not be verified
    digest: str  # package digest (FORMAT.md §7) of the file as received
    outcome: str
    reason: str
    at: datetime
    checkpoint: Checkpoint  # the issuer's log, including the entries that record this outcome
    acknowledges: Checkpoint | None  # the sender's checkpoint the package carried, if it was applied
    sig: bytes = b""

    def document(self) -> dict[str, Any]:
        return {
            "type": RECEIPT_TYPE,
            "v": 1,
            "node": self.node,
            "key": self.key,
            "sender": self.sender,
            "seq": self.seq,
            "digest": self.digest,
            "outcome": self.outcome,
            "reason": self.reason,
            "at": format_time(self.at),
            "checkpoint": self.checkpoint.envelope(),
            "acknowledges": None if self.acknowledges is None else self.acknowledges.envelope(),
        }

    def signed_bytes(self) -> bytes:
        return canonical.encode(self.document())

    def item(self) -> dict[str, Any]:
        """The ``receipt`` payload item."""
        return {"kind": "receipt", "receipt": self.document(), "sig": self.sig.hex()}

    def verify(self, public: PublicKeys) -> None:
        """Raise :class:`LogVerificationError` (``bad-receipt``) unless ``public`` signed this receipt."""
        if public.key_id != self.key:
            raise LogVerificationError(
                N_("receipt for seq {seq} names key {key}, not the given key {key_id}"),
                params={"seq": self.seq, "key": self.key, "key_id": public.key_id},
                reason="bad-receipt",
            )
        try:
            public.verify(Purpose.RECEIPT, self.signed_bytes(), self.sig)
        except SignatureError:
            raise LogVerificationError(
                N_("receipt of node {node} for {sender} seq {seq}: the signature of key {key} does not verify"),
                params={"node": self.node, "sender": self.sender, "seq": self.seq, "key": self.key},
                reason="bad-receipt",
            ) from None


def sign_receipt(
    secret: SecretKeys,
    *,
    node: str,
    sender: str,
    seq: int | None,
    digest: str,
    outcome: str,
    reason: str,
    at: datetime,
    checkpoint: Checkpoint,
    acknowledges: Checkpoint | None,
) -> Receipt:
    """Sign a receipt with ``secret`` (the issuer's current key)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown receipt outcome {outcome!r}")
    unsigned = Receipt(
        node=node,
        key=secret.key_id,
        sender=sender,
        seq=seq,
        digest=digest,
        outcome=outcome,
        reason=reason if outcome == "rejected" else "",
        at=parse_time(format_time(at), "at"),
        checkpoint=checkpoint,
        acknowledges=acknowledges,
    )
    return replace(unsigned, sig=secret.sign(Purpose.RECEIPT, unsigned.signed_bytes()))


def parse_receipt(document: object, sig: object) -> Receipt:
    """Check the shape of a receipt (not its signatures) and return it; ``bad-receipt`` names what is wrong."""
    try:
        doc = fields(document, "receipt", _FIELDS)
        if doc["type"] != RECEIPT_TYPE or doc["v"] != 1:
            raise EncodingError(
                N_("not a receipt (type {type!r:.40}, v {v!r:.10})"), params={"type": doc["type"], "v": doc["v"]}
            )
        digest, outcome, reason = doc["digest"], doc["outcome"], doc["reason"]
        if not is_hex(digest, 64):
            raise EncodingError(N_("digest must be 64 lowercase hex digits"))
        if outcome not in OUTCOMES:
            raise EncodingError(
                N_("outcome must be one of {sorted}, found {outcome!r:.40}"),
                params={"sorted": sorted(OUTCOMES), "outcome": outcome},
            )
        if not matches(reason, _REASON) or (outcome != "rejected" and reason):
            raise EncodingError(N_("reason must be a reason code (empty unless the outcome is rejected)"))
        seq = doc["seq"]
        receipt = Receipt(
            node=node_id_field(doc["node"], "node"),
            key=check_key_id(doc["key"]),
            sender=node_id_field(doc["sender"], "sender"),
            seq=None if seq is None else int_field(seq, "seq", 1, 2**53 - 1),
            digest=digest,
            outcome=outcome,
            reason=reason,
            at=parse_time(doc["at"], "at"),
            checkpoint=_nested(doc["checkpoint"], "checkpoint"),
            acknowledges=None if doc["acknowledges"] is None else _nested(doc["acknowledges"], "acknowledges"),
            sig=hex_field(sig, "sig", 64),
        )
    except EncodingError as exc:
        raise LogVerificationError(
            N_("malformed receipt: {problem}"), params={"problem": exc}, reason="bad-receipt"
        ) from None
    if canonical.encode(receipt.document()) != canonical.encode(doc):
        raise LogVerificationError(N_("malformed receipt: not in canonical form"), reason="bad-receipt")
    if receipt.checkpoint.node != receipt.node:
        raise LogVerificationError(
            N_("receipt of node {node} carries a checkpoint of node {node2}"),
            params={"node": receipt.node, "node2": receipt.checkpoint.node},
            reason="bad-receipt",
        )
    if receipt.acknowledges is not None and receipt.acknowledges.node != receipt.sender:
        raise LogVerificationError(
            N_("receipt to {sender} acknowledges a checkpoint of node {node}"),
            params={"sender": receipt.sender, "node": receipt.acknowledges.node},
            reason="bad-receipt",
        )
    return receipt


def _nested(value: object, name: str) -> Checkpoint:
    try:
        return parse_checkpoint(value)
    except LogVerificationError as exc:
        raise EncodingError(N_("{name}: {problem}"), params={"name": name, "problem": exc}) from None
