"""Errors of ``transfer``: one root, every verification failure a subclass with a closed reason code."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transfer.header import Header


def N_(message: str) -> str:
    """Mark an English message template for the operators' catalogue; the CLI layer translates it where
    it is shown (this package never imports nodekit: docs/adr/0016-operator-language.md)."""
    return message


class TransferError(Exception):
    """Root of every error raised by ``transfer``."""

    exit_code: int = 1
    reason: str = "transfer"

    def __init__(
        self, message: str, *, reason: str | None = None, params: Mapping[str, object] | None = None, where: str = ""
    ) -> None:
        # with ``params``, ``message`` is an English ``str.format`` template: ``str()`` is the English text
        # (node.log, the transfer log, --json); the CLI layer shows the template translated (``transfer``
        # never imports nodekit, docs/adr/0016-operator-language.md)
        self.template = message
        self.params = dict(params) if params else {}
        self.where = where
        super().__init__(where + (message.format(**self.params) if self.params else message))
        if reason is not None:
            self.reason = reason


class PackageRejected(TransferError):
    """A package failed verification or a channel rule. ``reason`` is one of docs/FORMAT.md's codes.

    ``header`` is the package's header when its signature and its signer verified before a later check
    (its size, its recipient key, its counts) failed: the sender is then known, and its receipt may name
    the seq (FORMAT.md §12). None for everything else: nobody signed it, so nobody is told."""

    exit_code = 4
    reason = "rejected"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        header: Header | None = None,
        params: Mapping[str, object] | None = None,
        where: str = "",
    ) -> None:
        super().__init__(message, reason=reason, params=params, where=where)
        self.header = header


class MediumError(TransferError):
    """The transfer medium cannot be read or written as required."""

    exit_code = 1
    reason = "medium"


class LogVerificationError(TransferError):
    """A transfer log does not verify; ``index`` names the first bad entry when known."""

    exit_code = 4
    reason = "log-verification"

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        reason: str | None = None,
        params: Mapping[str, object] | None = None,
        where: str = "",
    ) -> None:
        super().__init__(message, reason=reason, params=params, where=where)
        self.index = index


# Why a medium operation failed, by errno: one reason each, all exit 1 (docs/OPERATIONS.md, "Exit codes
# of the exchange commands", says what an operator does on each).
MEDIUM_FULL, MEDIUM_MISSING, MEDIUM_READ_ONLY, MEDIUM_UNREADABLE = (
    "medium-full", "medium-missing", "medium-read-only", "medium-unreadable",
)  # fmt: skip
_WRITE_REASONS = {
    errno.ENOSPC: MEDIUM_FULL,
    errno.EDQUOT: MEDIUM_FULL,
    errno.EROFS: MEDIUM_READ_ONLY,
    errno.EACCES: MEDIUM_READ_ONLY,
    errno.EPERM: MEDIUM_READ_ONLY,
}
_GONE = {errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.ENOTDIR, errno.ESTALE}
_SAYS = {
    MEDIUM_FULL: N_("{path}: the medium is full: {problem}"),
    MEDIUM_MISSING: N_("{path}: transfer medium not found (is the device mounted?): {problem}"),
    MEDIUM_READ_ONLY: N_("{path}: the medium is read-only or not writable: {problem}"),
    MEDIUM_UNREADABLE: N_("{path}: the medium cannot be read: {problem}"),
}


def medium_fault(exc: OSError, path: object, *, writing: bool) -> MediumError:
    """The :class:`MediumError` for an ``OSError`` on the medium at ``path``, with its reason:
    ``medium-full`` (ENOSPC, EDQUOT), ``medium-read-only`` (EROFS, EACCES, EPERM when writing),
    ``medium-missing`` (the device or folder went away), ``medium-unreadable`` (EIO, EACCES when
    reading); anything else keeps the generic reason ``medium``."""
    if exc.errno in _GONE:
        reason = MEDIUM_MISSING
    elif writing:
        reason = _WRITE_REASONS.get(exc.errno or 0, "medium")
    else:
        reason = MEDIUM_UNREADABLE if exc.errno in (errno.EIO, errno.EACCES, errno.EPERM) else "medium"
    says = _SAYS.get(
        reason,
        N_("{path}: cannot write to the medium: {problem}")
        if writing
        else N_("{path}: cannot read the medium: {problem}"),
    )
    return MediumError(says, reason=reason, params={"path": path, "problem": exc.strerror or exc})
