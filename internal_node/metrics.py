"""The internal node's metrics for Prometheus: after each command, when ``CREDGAP_METRICS_TEXTFILE``
names a file (in node_exporter's textfile-collector directory), the node's exchange metrics and that
command's duration and exit code are written there (exchange/metrics.py, docs/OPERATIONS.md "Metrics")."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.metrics import TEXTFILE_ENV, write_textfile
from internal_node.publication import STATE_PUBLISH
from internal_node.pubmodels import PUBLICATION
from nodekit.errors import NodeError, shown
from nodekit.i18n import _
from nodekit.runtime import Node, NodeSpec


def published_records(session: Session, _node: Node) -> dict[str, int]:
    """Items currently published, per kind (what the public side holds once it is current)."""
    p = PUBLICATION.c
    rows = session.execute(select(p.table_name, func.count()).where(p.state == STATE_PUBLISH).group_by(p.table_name))
    return {str(t): int(n) for t, n in rows}


def after_command(spec: NodeSpec, command: str | None, home: Path | None, seconds: float, exit_code: int) -> None:
    """Write the textfile, if one is configured and the command opened a node; a failure to write it
    is one line on stderr and never changes the command's exit code."""
    target = os.environ.get(TEXTFILE_ENV)
    if not target or command is None or home is None:
        return
    try:
        node = Node.open(home, spec)
    except (NodeError, OSError):
        return  # a home or database the command itself could not use: its own error said so
    try:
        write_textfile(Path(target), node, published_records, command=command, seconds=seconds, exit_code=exit_code)
    except Exception as exc:  # metrics must never turn a command's success into a failure
        message = _("metrics not written to {target}: {problem}").format(target=target, problem=shown(exc))
        print(_("{program}: warning: {message}").format(program=spec.program, message=message), file=sys.stderr)
    finally:
        node.close()
