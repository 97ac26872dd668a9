"""The inbound side of the internal node: return packages from public nodes (receipts, key
announcements, heartbeats; binding requests and applications, format 2, for the credit office).
No data kind may arrive this way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from exchange.engine import Outcome
from exchange.node import open_exchange
from internal_node.applications import receive_application, receive_binding
from internal_node.workflow import Workflow, load_workflow
from keys.identity_store import Identity
from nodekit.runtime import Node
from transfer.errors import PackageRejected
from transfer.items import Item
from transfer.opener import VerifiedHeader


class ReturnApplier:
    """Return packages carry exchange-level kinds (handled by the exchange itself) and, in format 2,
    binding requests and applications, stored in the package's transaction."""

    def __init__(self, node: Node | None = None) -> None:
        self.node = node  # None: the default deadlines and the system clock (tests of the exchange alone)
        self.counts: dict[str, int] = {}

    def begin(self, session: Session, vh: VerifiedHeader) -> None:
        self.session, self.peer = session, vh.header.sender_node
        self.now = self.node.clock() if self.node is not None else datetime.now(UTC)
        self.workflow = load_workflow(self.node.config.home) if self.node is not None else Workflow()
        self.counts = {}

    def item(self, item: Item) -> None:
        # the direction rules already refuse data kinds (belt and braces); format-1 objections are allowed
        # on this channel by FORMAT.md §10.3, but this node runs the format-2 applications workflow only
        kind = item["kind"]
        if kind in ("binding-request", "application"):
            receive = receive_binding if kind == "binding-request" else receive_application
            new = receive(self.session, self.peer, item, self.workflow, self.now)
            name = f"{kind}.{'received' if new else 'duplicate'}"
            self.counts[name] = self.counts.get(name, 0) + 1
            return
        if kind == "objection":
            raise PackageRejected(
                "this node does not act on objection items yet (the objection workflow is not installed); "
                "the package is refused, not applied without them",
                reason="kind-not-allowed",
            )
        raise PackageRejected(f"a return package may not carry {kind} items", reason="kind-not-allowed")

    def finish(self) -> dict[str, int]:
        return dict(self.counts)


def import_returns(node: Node, identity: Identity, *, stop: Callable[[], bool] | None = None) -> list[Outcome]:
    """Verify and apply every return package waiting on the medium for this node."""
    return open_exchange(node, identity).receive(lambda: ReturnApplier(node), stop=stop)
