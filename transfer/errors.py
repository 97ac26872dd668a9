"""Errors of ``transfer``: one root, every verification failure a subclass with a closed reason code."""

from __future__ import annotations


class TransferError(Exception):
    """Root of every error raised by ``transfer``."""

    exit_code: int = 1
    reason: str = "transfer"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class PackageRejected(TransferError):
    """A package failed verification or a channel rule. ``reason`` is one of docs/FORMAT.md's codes."""

    exit_code = 4
    reason = "rejected"


class MediumError(TransferError):
    """The transfer medium cannot be read or written as required."""

    exit_code = 1
    reason = "medium"


class LogVerificationError(TransferError):
    """A transfer log does not verify; ``index`` names the first bad entry when known."""

    exit_code = 4
    reason = "log-verification"

    def __init__(self, message: str, *, index: int | None = None, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)
        self.index = index
