"""The ``public-node`` program: a thin click layer over the public node's functions."""

from __future__ import annotations

import sys

from nodekit.cli import make_root, run
from public_node import SPEC

cli = make_root(
    SPEC,
    "credgap public node: imports verified packages and serves the public credit platform.\n\n"
    "Every command works on one node home (--home DIR or CREDGAP_HOME).",
)


def main() -> None:
    sys.exit(run(cli, prog_name="public-node"))
