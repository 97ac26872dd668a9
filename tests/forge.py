"""Packages made with a node's own (stolen, expired or misused) key, outside the exchange engine, and
put on the medium the way whoever holds the key and the medium would: for the attack tests."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keys import SecretKeys
from transfer.checkpoint import sign_checkpoint
from transfer.header import ZERO_DIGEST
from transfer.items import RECORD_TABLES, Item
from transfer.medium import channel_dirname, package_name
from transfer.seal import Recipient, SealedPackage, seal

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()  # RFC 6962 hash of an empty log


def checkpoint_item(secret: SecretKeys, node: str, at: int) -> Item:
    """A signed checkpoint of an empty log of ``node``: what every package carries exactly once."""
    cp = sign_checkpoint(secret, node=node, size=0, root=EMPTY_ROOT, at=datetime.fromtimestamp(at, UTC))
    return {"kind": "checkpoint", **cp.envelope()}


def manifest(note: str = "forged") -> Item:
    return {"kind": "manifest", "policy": None, "content": None, "note": note}


def snapshot_marker(records: int = 0) -> Item:
    return {"kind": "snapshot", "tables": sorted(RECORD_TABLES), "records": records}


def forge(
    medium: Path,
    *,
    signer: SecretKeys,
    sender: str,
    sender_role: str = "internal",
    recipient: str,
    recipient_key: Any,
    seq: int,
    created: int,
    items: list[Item],
    prev: str = ZERO_DIGEST,
    package_type: str = "delta",
    validity: int = 7 * 86400,
    checkpoints: int = 1,
) -> SealedPackage:
    """Seal ``items`` (after a manifest and ``checkpoints`` checkpoint items) with ``signer`` and write the
    package into the channel folder of the medium under its proper name."""
    body = [manifest(), *(checkpoint_item(signer, sender, created) for _ in range(checkpoints)), *items]
    out = io.BytesIO()
    sealed = seal(
        body, sender_node=sender, sender_role=sender_role, signer=signer,
        recipient=Recipient(recipient, recipient_key.key_id, recipient_key.public.enc), seq=seq,
        prev=ZERO_DIGEST if seq == 1 else prev, created=created, out=out, spool=io.BytesIO(),
        package_type=package_type, validity=validity,
    )  # fmt: skip
    folder = medium / channel_dirname(sender, recipient)
    folder.mkdir(exist_ok=True)
    (folder / package_name(seq, sealed.digest)).write_bytes(out.getvalue())
    return sealed
