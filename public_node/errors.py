"""Errors of the public node's published database: one root, each with a reason code and an exit code
of the node table (1 failure, 2 usage, 3 rejected input)."""

from __future__ import annotations


class PublicNodeError(Exception):
    """Root of every error raised by ``public_node``."""

    exit_code: int = 1
    reason: str = "public-node"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.reason


class BadItem(PublicNodeError):
    """A record change handed to the read model lacks a field it indexes, or holds a bad value there."""

    exit_code = 3
    reason = "bad-item"


class DocumentRejected(PublicNodeError):
    """A published document's bytes do not match its declared media type, or its metadata is unsafe."""

    exit_code = 3
    reason = "bad-document"


class BadQuery(PublicNodeError):
    """A query to the published database is malformed (a bad page size, an over-long search text)."""

    exit_code = 3
    reason = "bad-query"
