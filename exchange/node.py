"""Binding the exchange to a node's own identity and trust store: the glue both node programs use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from exchange import alarms, receipts
from exchange.engine import Exchange, Outcome
from keys import Role, SecretKeys
from keys.errors import TrustError
from keys.identity_store import Identity
from keys.statements import statement_from_object
from nodekit import trust_store
from nodekit.auditlog import own_public_keys, sign_log_checkpoint
from nodekit.home import NodeConfig
from nodekit.i18n import N_
from nodekit.runtime import Node
from transfer.items import Item
from transfer.limits import Limits
from transfer.opener import VerifiedHeader


class ExchangeIdentity:
    """The node's :class:`~keys.identity_store.Identity` as the exchange needs it."""

    def __init__(self, identity: Identity) -> None:
        self._identity = identity

    @property
    def node_id(self) -> str:
        return self._identity.node_id

    @property
    def role(self) -> Role:
        return self._identity.role

    def signer_for(self, recipient_node_id: str, seq: int) -> SecretKeys:
        return self._identity.signer_for(recipient_node_id, seq)

    def secret_for(self, key_id: str) -> SecretKeys:
        return self._identity.secret_for(key_id)

    def announcements_for(self, recipient_node_id: str, seq: int) -> list[dict[str, Any]]:
        """Succession statements whose old key still signs this position, and every revocation.

        Applying a statement twice is harmless, so they are repeated until the channel moves past them.
        """
        out = [st.envelope() for st in self._identity.statements_for(recipient_node_id, seq)]
        out.extend(st.envelope() for st in self._identity.revocations())
        return out


class TrustHooks:
    """Exchange-level items: key announcements change the trust store in the package's transaction;
    receipts and checkpoints are verified with the sender's trusted key and recorded; this node's own
    checkpoints and receipts are signed with its current key (``exchange.receipts``)."""

    def __init__(self, node: Node, identity: Identity) -> None:
        self.node = node
        self.identity = identity

    def key_announcement(self, session: Session, vh: VerifiedHeader, statement: dict[str, Any]) -> None:
        st = statement_from_object(statement)
        if st.node_id != vh.header.sender_node:
            raise TrustError(
                N_("package from node {sender_node} carries a key statement of node {node_id}"),
                params={"sender_node": vh.header.sender_node, "node_id": st.node_id},
                reason="foreign-statement",
            )
        trust_store.apply_statement(session, st, self.node.clock(), actor=f"package:{vh.header.seq}")

    def receipt(self, session: Session, vh: VerifiedHeader, item: Item) -> None:
        """Verify a receipt from the package's sender and record it (a bad one rejects the package)."""
        receipts.record_receipt(
            session, trust_store.load_trust_state(session), own_public_keys(self.identity), item,
            me=self.identity.node_id, sender=vh.header.sender_node, package_seq=vh.header.seq, at=self.node.clock(),
        )  # fmt: skip

    def checkpoint(self, session: Session, vh: VerifiedHeader, item: Item) -> None:
        """Verify the sender's log checkpoint and record it (a bad one rejects the package)."""
        receipts.record_peer_checkpoint(
            session, trust_store.load_trust_state(session), item,
            sender=vh.header.sender_node, package_seq=vh.header.seq, at=self.node.clock(),
        )  # fmt: skip

    def outgoing(self, session: Session, peer_node: str, seq: int) -> Iterator[Item]:
        yield from receipts.outgoing_items(
            session, self.identity.current_secret(), self.identity.node_id, peer_node, seq, self.node.clock()
        )

    def sealed(self, session: Session, peer_node: str, seq: int, digest: str) -> None:
        """Overdue receipts from this peer, and a clock far behind, raise an alarm; a checkpoint then covers
        the sealed entry."""
        alarms.check_receipts(session, self.node, peer_node)
        alarms.check_clock(session, self.node)
        sign_log_checkpoint(session, self.identity.current_secret(), self.identity.node_id, self.node.clock())

    def on_outcome(self, session: Session, outcome: Outcome, sender: str | None) -> None:
        """Sign a checkpoint over the outcome's entries and, for a package from a trusted peer, queue a
        signed receipt for the next package to it."""
        secret, me, at = self.identity.current_secret(), self.identity.node_id, self.node.clock()
        kind = _RECEIPT_OUTCOMES.get(outcome.result)
        if kind is None or sender is None or not outcome.digest or outcome.digest == "0" * 64:
            sign_log_checkpoint(session, secret, me, at)
            return
        peers = {k.node_id for k in trust_store.load_trust_state(session) if k.role != self.identity.role}
        if sender not in peers:  # a header naming a node we do not exchange with: nobody to tell
            sign_log_checkpoint(session, secret, me, at)
            return
        receipts.issue_receipt(
            session, secret, me=me, sender=sender, seq=outcome.seq, digest=outcome.digest,
            outcome=kind, reason=_reason_code(outcome.reason) if kind == "rejected" else "", at=at,
        )  # fmt: skip


_RECEIPT_OUTCOMES = {r: r for r in ("applied", "rebased", "duplicate", "pending", "rejected")}


def _reason_code(reason: str) -> str:
    """A reason code as a receipt may carry it (``[a-z0-9-]``, at most 64), whatever an applier raised."""
    return re.sub(r"[^a-z0-9-]", "-", reason.lower())[:64] or "rejected"


def limits_for(config: NodeConfig) -> Limits:
    """The reader's limits as ``node.toml`` sets them (``[exchange] rebase_bound``)."""
    return Limits(rebase_bound=config.rebase_bound)


def open_exchange(
    node: Node, identity: Identity, *, limits: Limits | None = None, validity: int | None = None
) -> Exchange:
    """The exchange of a node home, with its identity and trust store."""
    kwargs: dict[str, Any] = {}
    if validity is not None:
        kwargs["validity"] = validity
    return Exchange(
        node,
        ExchangeIdentity(identity),
        trust_store.load_trust_state,
        hooks=TrustHooks(node, identity),
        limits=limits or limits_for(node.config),
        **kwargs,
    )
