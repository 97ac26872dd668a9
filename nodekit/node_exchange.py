"""Binding the exchange to a node's own identity and trust store: the glue both node programs use."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from keys import Role, SecretKeys
from keys.errors import TrustError
from keys.identity_store import Identity
from keys.statements import statement_from_object
from nodekit import trust_store
from nodekit.exchange import Exchange
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
    """Exchange-level items: key announcements change the trust store in the package's transaction."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def key_announcement(self, session: Session, vh: VerifiedHeader, statement: dict[str, Any]) -> None:
        st = statement_from_object(statement)
        if st.node_id != vh.header.sender_node:
            raise TrustError(
                f"package from node {vh.header.sender_node} carries a key statement of node {st.node_id}",
                reason="foreign-statement",
            )
        trust_store.apply_statement(session, st, self.node.clock(), actor=f"package:{vh.header.seq}")

    def receipt(self, session: Session, vh: VerifiedHeader, item: Item) -> None:
        """Receipts are recorded by the transfer log (see nodekit.receipts once it exists)."""

    def checkpoint(self, session: Session, vh: VerifiedHeader, item: Item) -> None:
        """Checkpoints are recorded by the transfer log (see nodekit.receipts once it exists)."""


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
        hooks=TrustHooks(node),
        limits=limits,
        **kwargs,
    )
