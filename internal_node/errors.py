"""Errors of the internal node's exchange side (ingest and policy errors live with their modules)."""

from __future__ import annotations

from nodekit.errors import ExitCode, NodeError


class ExportError(NodeError):
    """An export cannot be made as asked (no peer, an unknown peer, a guard that refused)."""

    exit_code = ExitCode.FAILURE
    reason = "export"


class ContentChanged(NodeError):
    """``export --expect DIGEST``: the content is no longer what was reviewed; nothing was sealed."""

    exit_code = ExitCode.REJECTED
    reason = "content-changed"


class ReviewStale(NodeError):
    """``export --expect … --stale-heartbeat``: the reviewed digest is stale; only a heartbeat was sent,
    the new content waits for a review."""

    exit_code = ExitCode.PENDING
    reason = "review-stale"


class DocumentError(NodeError):
    """A document cannot be queued for publication (unreadable, unknown type, no approval)."""

    exit_code = ExitCode.REJECTED
    reason = "bad-document"


class ReviewError(NodeError):
    """A review decision cannot be taken (no such entry, already decided, no reason given)."""

    exit_code = ExitCode.USAGE
    reason = "review"


class ApplicationError(NodeError):
    """An application cannot be handled as asked (no such application, already decided, no reason)."""

    exit_code = ExitCode.REJECTED
    reason = "application"
