"""The inbound side of the internal node: return packages from public nodes (receipts, key
announcements, heartbeats; objections with their own workflow). No data kind may arrive this way."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from exchange.engine import Outcome
from exchange.node import open_exchange
from keys.identity_store import Identity
from nodekit.runtime import Node
from transfer.errors import PackageRejected
from transfer.items import Item
from transfer.opener import VerifiedHeader


class ReturnApplier:
    """Return packages carry only exchange-level kinds (handled by the exchange itself)."""

    def begin(self, session: Session, vh: VerifiedHeader) -> None:
        self.n = 0

    def item(self, item: Item) -> None:
        # the direction rules already refuse data kinds (belt and braces); objections are allowed on
        # this channel by FORMAT.md §10.3, but this node does not run the objection workflow yet
        kind = item["kind"]
        if kind == "objection":
            raise PackageRejected(
                "this node does not act on objection items yet (the objection workflow is not installed); "
                "the package is refused, not applied without them",
                reason="kind-not-allowed",
            )
        raise PackageRejected(f"a return package may not carry {kind} items", reason="kind-not-allowed")

    def finish(self) -> dict[str, int]:
        return {}


def import_returns(node: Node, identity: Identity, *, stop: Callable[[], bool] | None = None) -> list[Outcome]:
    """Verify and apply every return package waiting on the medium for this node."""
    return open_exchange(node, identity).receive(ReturnApplier, stop=stop)
