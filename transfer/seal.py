"""Sealing: items in, one signed and encrypted package out, streaming in bounded memory (docs/FORMAT.md).

The header must state the payload's sizes and counts and is bound into the payload key, so sealing
takes two passes: items are framed and compressed into a spool (itself encrypted under a throwaway
key, so no plaintext lingers on disk after a crash), then the header is built and signed, and the
spool is re-encrypted into the package under the real payload key.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

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
from transfer.errors import N_, TransferError
from transfer.header import ZERO_DIGEST, Header, check_node_id, signed_prefix
from transfer.items import ItemWriter, Sealable, allowed_kinds, direction
from transfer.limits import (
    CHUNK,
    DEFAULT_VALIDITY,
    FORMAT_VERSION,
    FORMATS,
    MAX_NOT_AFTER_SPAN,
    SUITE_CG1,
    payload_size,
)

ZSTD_LEVEL = 3
_BATCH = 1 << 20
_QUEUED = 4  # framed batches waiting for the worker: bounds the memory pass 1 holds
_LAST = object()


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
    items: Iterable[Sealable],
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
    fmt: int = FORMAT_VERSION,
) -> SealedPackage:
    """Seal ``items`` into ``out`` (positioned at 0, empty) using ``spool`` (an empty read/write temp file).

    ``rng`` is the OS random source in production; only the test-vector generator passes another.
    ``fmt`` is the package format: 2 only on a channel whose reader advertised it (FORMAT.md §2.1).
    """
    if fmt not in FORMATS:
        raise TransferError(
            N_("package format {fmt} is not one this node writes {list}"), params={"fmt": fmt, "list": list(FORMATS)}
        )
    check_node_id(sender_node, "sender")
    check_node_id(recipient.node_id, "recipient")
    if seq < 1 or (seq == 1) != (prev == ZERO_DIGEST):
        raise TransferError(
            N_("sequence {seq} with previous digest {prev}… is not a valid chain position"),
            params={"seq": seq, "prev": prev[:16]},
        )
    if not 0 < validity <= MAX_NOT_AFTER_SPAN:
        raise TransferError(N_("validity {validity}s is outside 1s..31 days"), params={"validity": validity})
    allowed = allowed_kinds(direction(sender_role), fmt)
    file_key = rng(FILE_KEY_LEN)
    nonce = rng(NONCE_LEN)

    # pass 1: frame the items here; MAC, compress and spool them in a worker thread
    spool_key = os.urandom(32)  # never from ``rng``: the spool is local scratch, not part of the format
    writer = ItemWriter(mac_key(file_key, nonce), allowed)
    cobj = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=zstd_threads).compressobj()
    worker = _Spooler(writer, cobj, StreamEncryptor(spool_key), spool)
    try:
        pieces: list[bytes] = []  # framed items, joined once per batch (a PreparedBatch is one piece)
        size = 0
        for item in items:
            framed = writer.frame(item)
            pieces.append(framed)
            size += len(framed)
            if size >= _BATCH:
                worker.put(b"".join(pieces))
                pieces.clear()
                size = 0
        worker.finish(b"".join(pieces))
    finally:
        worker.close()
    compressed, spooled = worker.compressed, worker.spooled

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
        format=fmt,
    )
    Header.from_document(header.document())  # the writer checks what a reader will check
    signed = signed_prefix(header.encode(), fmt)
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


class _Spooler:
    """Pass 1's second half, in a worker thread: the MAC over the framed bytes, zstd, and the spool's
    throwaway encryption. hashlib, zstd and file writes release the GIL, so this runs on the other
    core while the caller's thread reads and frames the next items; the queue keeps memory bounded.
    The worker makes exactly the calls a single thread would, in the same order (same bytes out)."""

    def __init__(self, writer: ItemWriter, cobj: Any, spool_enc: StreamEncryptor, spool: BinaryIO) -> None:
        self._writer = writer
        self._cobj = cobj
        self._enc = spool_enc
        self._spool = spool
        self._queue: queue.Queue[tuple[object, bytes] | None] = queue.Queue(maxsize=_QUEUED)
        self._error: BaseException | None = None
        self._done = False
        self.compressed = 0
        self.spooled = 0
        self._thread = threading.Thread(target=self._run, name="seal-spool", daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> None:
        self._raise()
        self._queue.put((None, data))

    def finish(self, last: bytes) -> None:
        """Hand over the last framed bytes; return when the spool is complete (or raise its error)."""
        self._raise()
        self._queue.put((_LAST, last))
        self._thread.join()
        self._done = True
        self._raise()

    def close(self) -> None:
        """After an error in the caller's thread: stop the worker (what it spooled is discarded)."""
        if not self._done:
            self._done = True
            self._queue.put(None)
            self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _push(self, data: bytes) -> None:
        if data:
            self.compressed += len(data)
            for chunk in self._enc.update(data):
                self._spool.write(chunk)
                self.spooled += len(chunk)

    def _run(self) -> None:
        failed = False
        while (job := self._queue.get()) is not None:
            tag, data = job
            if not failed:  # after a failure: keep taking what is queued, so the caller never blocks
                try:
                    self._writer.take(data)
                    if tag is _LAST:
                        self._push(self._cobj.compress(data + self._writer.trailer()))
                        self._push(self._cobj.flush())
                        last = self._enc.finish()
                        self._spool.write(last)
                        self.spooled += len(last)
                    else:
                        self._push(self._cobj.compress(data))
                except BaseException as exc:  # re-raised in the caller's thread
                    self._error = exc
                    failed = True
            if tag is _LAST:
                return
