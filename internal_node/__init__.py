"""The internal node: the credit information base database on the government's dedicated network.

Never imports ``public_node``; the transfer medium is the only path between the two.
"""

from pathlib import Path
from typing import Any

from nodekit.runtime import Node, NodeSpec


def _on_init(node: Node) -> None:
    """A new home gets the default (safe) disclosure policy, unless a policy file is already there, and
    its pseudonym key (made now, so that ``export --dry-run`` never has to write one)."""
    from internal_node.policy import write_default_policy
    from internal_node.publication import pseudonym_key

    write_default_policy(node.config.policy_file)
    with node.transaction() as s:
        pseudonym_key(s)


def _status(node: Node) -> dict[str, Any]:
    from internal_node.applications import application_status
    from internal_node.review import held_count

    with node.sessions() as s:
        out: dict[str, Any] = {"review": {"held": held_count(s)}}
    out["applications"] = application_status(node)
    return out


def _exchange_status(node: Node) -> dict[str, Any]:
    from exchange.status import exchange_status

    return exchange_status(node)


SPEC = NodeSpec(
    role="internal",
    migrations=Path(__file__).resolve().parent / "migrations",
    schema_heads=frozenset({"e0006", "i0006"}),
    on_init=_on_init,
    status_extra=_status,
    exchange_status=_exchange_status,
)
