"""The internal node: the credit information base database on the government's dedicated network.

Never imports ``public_node``; the transfer medium is the only path between the two.
"""

from pathlib import Path
from typing import Any

from nodekit.runtime import Node, NodeSpec


def _on_init(node: Node) -> None:
    """A new home gets the default (safe) disclosure policy, unless a policy file is already there."""
    from internal_node.policy import write_default_policy

    write_default_policy(node.config.policy_file)


def _exchange_status(node: Node) -> dict[str, Any]:
    from exchange.status import exchange_status

    return exchange_status(node)


SPEC = NodeSpec(
    role="internal",
    migrations=Path(__file__).resolve().parent / "migrations",
    schema_heads=frozenset({"e0005", "i0003"}),
    on_init=_on_init,
    exchange_status=_exchange_status,
)
