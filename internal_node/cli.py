"""The ``internal-node`` program: a thin click layer over the internal node's functions."""

from __future__ import annotations

import os
import sys
import time

from exchange import cli_recover, cli_transfer
from internal_node import SPEC, cli_applications, cli_audit, cli_data, cli_exchange, cli_policy, cli_review
from nodekit.cli import add_exit_code_epilogs, last_invocation, last_language, make_root, run
from nodekit.i18n import speaking

cli = make_root(
    SPEC,
    "credgap internal node: the credit information database on the government's dedicated network.\n\n"
    "Every command works on one node home (--home DIR or CREDGAP_HOME).",
)
cli_transfer.register(cli)
cli_recover.register(cli)
cli_policy.register(cli)
cli_data.register(cli)
cli_exchange.register(cli)
cli_audit.register(cli)
cli_review.register(cli)
cli_applications.register(cli)

add_exit_code_epilogs(cli, "internal-node")  # every --help ends with the exit codes


def main() -> None:
    started = time.monotonic()
    code = run(cli, prog_name="internal-node")
    if os.environ.get("CREDGAP_METRICS_TEXTFILE"):  # imported only then: most commands start faster
        from internal_node import metrics

        command, home = last_invocation()
        with speaking(last_language()):  # a warning about the textfile in the operator's language
            metrics.after_command(SPEC, command, home, time.monotonic() - started, code)
    sys.exit(code)
