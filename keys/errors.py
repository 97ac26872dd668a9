"""Errors of the ``keys`` package: one root, each with a reason code and an exit code of the node table
(1 failure, 3 rejected input, 4 verification failed)."""

from __future__ import annotations


class KeyStoreError(Exception):
    """Root of every error raised by ``keys`` (deliberately not named ``KeyError``)."""

    exit_code: int = 1
    reason: str = "keys"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class EncodingError(KeyStoreError):
    """A document is not in the one canonical encoding (or not decodable at all)."""

    exit_code = 3
    reason = "encoding"


class SignatureError(KeyStoreError):
    """A signature does not verify under the key and context it was checked against."""

    exit_code = 4
    reason = "bad-signature"


class TrustError(KeyStoreError):
    """A key is unknown, revoked, expired, superseded, or of the wrong role for what it signed."""

    exit_code = 4
    reason = "untrusted"
