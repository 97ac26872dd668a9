"""The internal node: the credit information base database on the government's dedicated network.

Never imports ``public_node``; the transfer medium is the only path between the two.
"""

from pathlib import Path

from nodekit.runtime import NodeSpec

SPEC = NodeSpec(role="internal", migrations=Path(__file__).resolve().parent / "migrations")
