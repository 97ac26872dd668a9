"""Signed transfer-log checkpoints (tree heads): the document, its canonical encoding, signing and pure
verification (docs/FORMAT.md §13.3).

A checkpoint says "node N's log had ``size`` entries whose RFC 6962 tree hash is ``root``", signed by
one of N's keys under the ``log-checkpoint`` context. It travels as an envelope
``{"checkpoint": <document>, "sig": <hex>}`` (the ``checkpoint`` payload item adds ``"kind"``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from keys import canonical
from keys.contexts import Purpose
from keys.errors import EncodingError, SignatureError
from keys.identity import PublicKeys, SecretKeys, check_key_id
from keys.schema import fields, hex_field, int_field, node_id_field
from keys.strict import is_hex
from keys.times import format_time, parse_time
from transfer.errors import N_, LogVerificationError

CHECKPOINT_TYPE = "credgap-log-checkpoint"
MAX_TREE_SIZE = 2**53 - 1
_FIELDS = {"type", "v", "node", "key", "size", "root", "at"}


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head of one node's transfer log."""

    node: str
    key: str  # key id of the signing key
    size: int
    root: str  # hex of the RFC 6962 tree hash of entries 0 … size-1
    at: datetime
    sig: bytes = b""

    def document(self) -> dict[str, Any]:
        return {
            "type": CHECKPOINT_TYPE,
            "v": 1,
            "node": self.node,
            "key": self.key,
            "size": self.size,
            "root": self.root,
            "at": format_time(self.at),
        }

    def signed_bytes(self) -> bytes:
        return canonical.encode(self.document())

    def envelope(self) -> dict[str, Any]:
        """``{"checkpoint": document, "sig": hex}``: how a checkpoint is stored, carried and exported."""
        return {"checkpoint": self.document(), "sig": self.sig.hex()}

    def verify(self, public: PublicKeys) -> None:
        """Raise :class:`LogVerificationError` unless ``public`` (the key named by ``key``) signed it."""
        if public.key_id != self.key:
            raise LogVerificationError(
                N_("checkpoint of size {size} names key {key}, not the given key {key_id}"),
                params={"size": self.size, "key": self.key, "key_id": public.key_id},
                reason="bad-checkpoint",
            )
        try:
            public.verify(Purpose.CHECKPOINT, self.signed_bytes(), self.sig)
        except SignatureError:
            raise LogVerificationError(
                N_("checkpoint of size {size} of node {node}: the signature of key {key} does not verify"),
                params={"size": self.size, "node": self.node, "key": self.key},
                reason="bad-checkpoint",
            ) from None


def sign_checkpoint(secret: SecretKeys, *, node: str, size: int, root: str, at: datetime) -> Checkpoint:
    """Sign a tree head with ``secret`` (the node's current key)."""
    unsigned = Checkpoint(node=node, key=secret.key_id, size=size, root=root, at=parse_time(format_time(at), "at"))
    return replace(unsigned, sig=secret.sign(Purpose.CHECKPOINT, unsigned.signed_bytes()))


def parse_checkpoint(envelope: object) -> Checkpoint:
    """Check the shape of a checkpoint envelope (not its signature) and return it.

    Raises :class:`LogVerificationError` (``bad-checkpoint``) naming the field that is wrong.
    """
    try:
        env = fields(envelope, "checkpoint envelope", {"checkpoint", "sig"})
        doc = fields(env["checkpoint"], "checkpoint", _FIELDS)
        if doc["type"] != CHECKPOINT_TYPE or doc["v"] != 1:
            raise EncodingError(
                N_("not a log checkpoint (type {type!r:.40}, v {v!r:.10})"), params={"type": doc["type"], "v": doc["v"]}
            )
        root = doc["root"]
        if not is_hex(root, 64):
            raise EncodingError(N_("root must be 64 lowercase hex digits"))
        cp = Checkpoint(
            node=node_id_field(doc["node"], "node"),
            key=check_key_id(doc["key"]),
            size=int_field(doc["size"], "size", 0, MAX_TREE_SIZE),
            root=root,
            at=parse_time(doc["at"], "at"),
            sig=hex_field(env["sig"], "sig", 64),
        )
    except EncodingError as exc:
        raise LogVerificationError(
            N_("malformed checkpoint: {problem}"), params={"problem": exc}, reason="bad-checkpoint"
        ) from None
    if canonical.encode(cp.document()) != canonical.encode(doc):
        raise LogVerificationError(N_("malformed checkpoint: not in canonical form"), reason="bad-checkpoint")
    return cp


def read_checkpoint(data: bytes) -> Checkpoint:
    """A checkpoint envelope from a file's bytes (canonical JSON, an optional final newline)."""
    body = data[:-1] if data.endswith(b"\n") else data
    try:
        return parse_checkpoint(canonical.decode(body))
    except EncodingError as exc:
        raise LogVerificationError(
            N_("not a checkpoint file: {problem}"), params={"problem": exc}, reason="bad-checkpoint"
        ) from None


def encode_checkpoint(cp: Checkpoint) -> bytes:
    """The checkpoint file format: the canonical envelope and a newline."""
    return canonical.encode(cp.envelope()) + b"\n"
