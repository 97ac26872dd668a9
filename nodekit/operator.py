"""Who is acting at the keyboard: the one place an operator's name is resolved (``--operator NAME``,
else ``CREDGAP_OPERATOR``, else the OS user), for the transfer log's ``actor`` and every entry of
``node.log``."""

from __future__ import annotations

import getpass
import os

from nodekit.errors import ExitCode, NodeError
from nodekit.i18n import N_

OPERATOR_ENV = "CREDGAP_OPERATOR"
MAX_NAME = 100

# The program-wide ``--operator`` of this invocation (the root group sets it; None: not given).
_given: str | None = None


def set_operator(name: str | None) -> None:
    """Record the program-wide ``--operator`` of this invocation (validated; None clears it)."""
    global _given
    _given = None
    if name is not None:
        _given = resolve_operator(name)


class OperatorError(NodeError):
    """The operator's name is unusable (empty, too long, or with control characters)."""

    exit_code = ExitCode.USAGE
    reason = "operator"


def resolve_operator(given: str | None = None) -> str:
    """The deciding operator's name: ``given``, else the program's ``--operator``, else
    ``$CREDGAP_OPERATOR``, else the OS user."""
    if given is None:
        given = _given
    name = given if given is not None else os.environ.get(OPERATOR_ENV)
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = f"uid{os.getuid()}"
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(not ch.isprintable() for ch in name):
        raise OperatorError(
            N_("--operator / {operator_env}: a name of 1 to {max_name} printable characters is needed"),
            params={"operator_env": OPERATOR_ENV, "max_name": MAX_NAME},
        )
    return name


def operator_actor(given: str | None = None) -> str:
    """The transfer log's ``actor`` for the resolved operator: ``operator:NAME``."""
    if given is not None:  # a command's own --operator: its log entries name the same person from here on
        set_operator(given)
    return f"operator:{resolve_operator(given)}"
