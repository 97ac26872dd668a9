"""The error root of the shared node runtime, and the exit-code table every command follows."""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from enum import IntEnum

from nodekit.i18n import N_, _


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
        return _from_template(self)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.reason


def shown(exc: BaseException) -> str:
    """An error's message in the operator's language: a NodeError (its ``shown``), or an error of
    ``keys`` or ``transfer`` (which never import nodekit) raised with an English template and its
    ``params``, an OS error's text; ``str(exc)`` for anything else, or when the translation lost a field."""
    if isinstance(exc, NodeError):
        return exc.shown()
    if isinstance(exc, OSError) and getattr(exc, "template", None) is None:
        return _os_error(exc)
    return _from_template(exc)


def _from_template(exc: object) -> str:
    template = getattr(exc, "template", None)
    if not isinstance(template, str):
        return str(exc)
    # a parameter that is itself a translatable error (an InvalidValue, a NodeError) is shown translated
    params = {k: shown_value(v) for k, v in getattr(exc, "params", {}).items()}
    try:
        return getattr(exc, "where", "") + (_(template).format(**params) if params else _(template))
    except (KeyError, IndexError, ValueError):  # a translation that lost a field: the English stands
        return str(exc)


def shown_value(value: object) -> object:
    """A value (a parameter of an error, a warning) as the operator reads it: one that can be shown (``shown()``), an error
    or a message carrying its own template (``keys.errors.Said``) in their language, an OS error's
    text (``strerror``) translated when the catalogue knows it, anything else as it is."""
    if callable(getattr(value, "shown", None)):
        return value.shown()  # type: ignore[attr-defined]
    if isinstance(value, OSError) and getattr(value, "template", None) is None:
        return _os_error(value)
    if isinstance(value, BaseException) or isinstance(getattr(value, "template", None), str):
        return _from_template(value)
    if isinstance(value, str) and value in _STRERRORS:
        return _(_STRERRORS[value])
    return value


def _os_error(exc: OSError) -> str:
    """An OS error for the operator: its text translated when the catalogue knows it, and its file."""
    text = _(_STRERRORS[exc.strerror]) if exc.strerror in _STRERRORS else (exc.strerror or str(exc))
    return _("{problem}: {file}").format(problem=text, file=exc.filename) if exc.filename else text


# the C library's English texts of the errors an operator meets (os.strerror), translated where shown
_STRERRORS = {
    os.strerror(errno.ENOENT): N_("No such file or directory"),
    os.strerror(errno.EACCES): N_("Permission denied"),
    os.strerror(errno.EPERM): N_("Operation not permitted"),
    os.strerror(errno.ENOTDIR): N_("Not a directory"),
    os.strerror(errno.EISDIR): N_("Is a directory"),
    os.strerror(errno.EEXIST): N_("File exists"),
    os.strerror(errno.ENOSPC): N_("No space left on device"),
    os.strerror(errno.EROFS): N_("Read-only file system"),
    os.strerror(errno.EIO): N_("Input/output error"),
    os.strerror(errno.ENODEV): N_("No such device"),
    os.strerror(errno.ENXIO): N_("No such device or address"),
    os.strerror(errno.ESTALE): N_("Stale file handle"),
    os.strerror(errno.EDQUOT): N_("Disk quota exceeded"),
    os.strerror(errno.ELOOP): N_("Too many levels of symbolic links"),
    os.strerror(errno.ENAMETOOLONG): N_("File name too long"),
}


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
