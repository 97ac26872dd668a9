"""The error root of the shared node runtime, and the exit-code table every command follows."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of ``internal-node`` and ``public-node`` (documented in docs/OPERATIONS.md)."""

    OK = 0
    FAILURE = 1  # operational failure: I/O, database, an unexpected condition
    USAGE = 2  # bad options, or a missing or wrong node home / configuration
    REJECTED = 3  # input refused: a department file, an identity card, a policy file
    VERIFICATION = 4  # a signature, a package, a fingerprint or an audit chain did not verify
    PENDING = 5  # incomplete, action pending: nothing failed, but something waits for an operator


class NodeError(Exception):
    """Root of the errors raised by ``nodekit`` and the nodes; carries a reason code and an exit code."""

    exit_code: int = ExitCode.FAILURE
    reason: str = "failure"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        params: Mapping[str, object] | None = None,
        where: str = "",
    ) -> None:
        # ``message`` is an English message id; with ``params`` it is a ``str.format`` template, so the
        # operator can read it translated (``shown``) while logs and --json keep the English text;
        # ``where`` (a file and line, never translated) goes before it
        self.template = message
        self.params = dict(params) if params else {}
        self.where = where
        super().__init__(where + (message.format(**self.params) if self.params else message))
        if reason is not None:
            self.reason = reason

    def shown(self) -> str:
        """The message in the operator's language (nodekit.i18n); English when it has no translation."""
        from nodekit.i18n import _

        template = getattr(self, "template", None)
        if not isinstance(template, str):
            return str(self)
        # a parameter that is itself a translatable error (an InvalidValue, a NodeError) is shown translated
        params = {
            k: v.shown() if callable(getattr(v, "shown", None)) else v for k, v in getattr(self, "params", {}).items()
        }
        try:
            return getattr(self, "where", "") + (_(template).format(**params) if params else _(template))
        except (KeyError, IndexError, ValueError):  # a translation that lost a field: the English stands
            return str(self)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.reason


class HomeError(NodeError):
    """The node home is missing, incomplete, or belongs to the other role."""

    exit_code = ExitCode.USAGE
    reason = "home"


class ConfigError(NodeError):
    """``node.toml`` cannot be read or holds a bad value."""

    exit_code = ExitCode.USAGE
    reason = "config"


class DatabaseError(NodeError):
    """The node database is unreachable, not migrated, or belongs to another node."""

    exit_code = ExitCode.FAILURE
    reason = "database"


class DiskFull(NodeError):
    """No space left where the node writes (its database, or a folder of its home): nothing was applied."""

    exit_code = ExitCode.FAILURE
    reason = "disk-full"
