"""Domain separation: every signature made with a node key covers a context string naming the object type.

A signature over one kind of object can therefore never be replayed as another kind. The signed
message is ``b"credgap/v1 " + purpose + b"\\x00" + data`` (docs/FORMAT.md, "Signatures").
"""

from __future__ import annotations

from enum import StrEnum


class Purpose(StrEnum):
    """The closed list of objects a node key signs."""

    IDENTITY_CARD = "identity-card"
    SUCCESSION = "key-succession"
    REVOCATION = "key-revocation"
    PACKAGE_HEADER = "package-header"
    RECEIPT = "receipt"
    CHECKPOINT = "log-checkpoint"
    KEY_FILE = "key-file"  # associated data of an encrypted private-key file, never signed


def signed_message(purpose: Purpose, data: bytes) -> bytes:
    """The exact bytes an Ed25519 signature of ``purpose`` covers."""
    return b"credgap/v1 " + purpose.value.encode("ascii") + b"\x00" + data
