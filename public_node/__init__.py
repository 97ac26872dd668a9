"""The public node: verifies and applies packages, and serves the public query and publication platform.

Never imports ``internal_node``; the transfer medium is the only path between the two.
"""

from pathlib import Path

from nodekit.runtime import NodeSpec

SPEC = NodeSpec(role="public", migrations=Path(__file__).resolve().parent / "migrations")
