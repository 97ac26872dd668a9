"""The public node: verifies and applies packages, and serves the public query and publication platform.

Never imports ``internal_node``; the transfer medium is the only path between the two.
"""

from pathlib import Path
from typing import Any

from nodekit.runtime import Node, NodeSpec


def _status(node: Node) -> dict[str, Any]:
    from public_node.queries import record_counts

    with node.sessions() as s:
        return {"records": record_counts(s, today=node.today())}


def _exchange_status(node: Node) -> dict[str, Any]:
    from exchange.status import exchange_status

    return exchange_status(node)


def _web_database(node: Node) -> dict[str, str]:
    from public_node.web.config import load_web_config

    return {"web": load_web_config(node.config).web_database_url}


SPEC = NodeSpec(
    role="public",
    migrations=Path(__file__).resolve().parent / "migrations",
    schema_heads=frozenset({"e0006", "p0004"}),
    status_extra=_status,
    exchange_status=_exchange_status,
    other_databases=_web_database,
)
