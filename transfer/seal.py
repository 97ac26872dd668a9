"""Sealing: items in, one signed and encrypted package out, streaming in bounded memory (docs/FORMAT.md).

The header must state the payload's sizes and counts and is bound into the payload key, so sealing
takes two passes: items are framed and compressed into a spool (itself encrypted under a throwaway
key, so no plaintext lingers on disk after a crash), then the header is built and signed, and the
spool is re-encrypted into the package under the real payload key.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from keys import Purpose, SecretKeys
from transfer.crypto import (
    FILE_KEY_LEN,
    NONCE_LEN,
    Random,
    StreamEncryptor,
    decrypt_stream,
    mac_key,
    payload_key,
    wrap_file_key,
)
from transfer.errors import TransferError
from transfer.header import ZERO_DIGEST, Header, check_node_id, signed_prefix
from transfer.items import ALLOWED, Item, ItemWriter, PreparedItem, direction
from transfer.limits import CHUNK, DEFAULT_VALIDITY, MAX_NOT_AFTER_SPAN, SUITE_CG1, payload_size

ZSTD_LEVEL = 3
_BATCH = 1 << 20


@dataclass(frozen=True)
class Recipient:
    """Where a package goes: the peer node and the X25519 key it is sealed to."""

    node_id: str
    key_id: str
    enc_pub: bytes


@dataclass(frozen=True)
class SealedPackage:
    header: Header
    digest: str  # FORMAT.md §7
    size: int

    @property
    def seq(self) -> int:
        return self.header.seq


def seal(
    items: Iterable[Item | PreparedItem],
    *,
    sender_node: str,
    sender_role: str,
    signer: SecretKeys,
    recipient: Recipient,
    seq: int,
    prev: str,
    created: int,
    out: BinaryIO,
    spool: BinaryIO,
    package_type: str = "delta",
    validity: int = DEFAULT_VALIDITY,
    rng: Random = os.urandom,
    zstd_threads: int = 0,
) -> SealedPackage:
    """Seal ``items`` into ``out`` (positioned at 0, empty) using ``spool`` (an empty read/write temp file).

    ``rng`` is the OS random source in production; only the test-vector generator passes another.
    """
    check_node_id(sender_node, "sender")
    check_node_id(recipient.node_id, "recipient")
    if seq < 1 or (seq == 1) != (prev == ZERO_DIGEST):
        raise TransferError(f"sequence {seq} with previous digest {prev[:16]}… is not a valid chain position")
    if not 0 < validity <= MAX_NOT_AFTER_SPAN:
        raise TransferError(f"validity {validity}s is outside 1s..31 days")
    allowed = ALLOWED[direction(sender_role)]
    file_key = rng(FILE_KEY_LEN)
    nonce = rng(NONCE_LEN)

    # pass 1: frame, MAC and compress the items into the spool, counting everything the header states
    spool_key = os.urandom(32)  # never from ``rng``: the spool is local scratch, not part of the format
    spool_enc = StreamEncryptor(spool_key)
    writer = ItemWriter(mac_key(file_key, nonce), allowed)
    cobj = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=zstd_threads).compressobj()
    compressed = 0
    spooled = 0
    batch = bytearray()

    def push(data: bytes) -> None:
        nonlocal compressed, spooled
        if data:
            compressed += len(data)
            for chunk in spool_enc.update(data):
                spool.write(chunk)
                spooled += len(chunk)

    for item in items:
        batch += writer.frame(item)
        if len(batch) >= _BATCH:
            data = bytes(batch)
            writer.take(data)
            push(cobj.compress(data))
            batch.clear()
    writer.take(bytes(batch))
    batch += writer.trailer()
    push(cobj.compress(bytes(batch)))
    push(cobj.flush())
    last = spool_enc.finish()
    spool.write(last)
    spooled += len(last)

    # the header, now that sizes and counts are known
    share, body = wrap_file_key(file_key, recipient.enc_pub, rng)
    header = Header(
        suite=SUITE_CG1,
        type=package_type,
        sender_node=sender_node,
        sender_key=signer.key_id,
        recipient_node=recipient.node_id,
        recipient_key=recipient.key_id,
        seq=seq,
        prev=prev,
        created=created,
        not_after=created + validity,
        counts=dict(writer.counts),
        compressed=compressed,
        plain=writer.size,
        nonce=nonce.hex(),
        stanza_share=share.hex(),
        stanza_body=body.hex(),
    )
    Header.from_document(header.document())  # the writer checks what a reader will check
    signed = signed_prefix(header.encode())
    signature = signer.sign(Purpose.PACKAGE_HEADER, signed)
    digest = hashlib.sha256()

    def emit(data: bytes) -> None:
        out.write(data)
        digest.update(data)

    emit(signed)
    emit(signature)

    # pass 2: the spool, decrypted, re-encrypted under the header-bound payload key
    enc = StreamEncryptor(payload_key(file_key, nonce, hashlib.sha256(signed).digest()))
    spool.seek(0)
    for plain in decrypt_stream(spool_key, iter(lambda: spool.read(CHUNK * 16), b""), spooled):
        for chunk in enc.update(plain):
            emit(chunk)
    emit(enc.finish())
    size = len(signed) + len(signature) + payload_size(compressed)
    return SealedPackage(header=header, digest=digest.hexdigest(), size=size)
