"""Opening a package: verify the length-bounded header, then decrypt, decompress and validate the payload
in one streaming pass. Pure: bytes, a trust state, the channel state and the time in; verified items or
a raised ``PackageRejected`` out. No I/O, no clock of its own (docs/FORMAT.md §14)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import zstandard

from keys import KeyStatus, Purpose, Role, SecretKeys, TrustedKey, TrustState
from keys.errors import KeyStoreError, SignatureError, TrustError
from transfer.crypto import decrypt_stream, mac_key, payload_key, unwrap_file_key
from transfer.errors import PackageRejected
from transfer.header import KEY_ID, Header, RawHeader, needed_prefix, parse_prefix
from transfer.items import Item, ItemReader, allowed_kinds, direction
from transfer.limits import CHUNK, MAGIC, MAX_WINDOW_LOG, Limits, package_size


@dataclass(frozen=True)
class OpenContext:
    """Who is opening, and against what: the reader's identity, trust store snapshot, time and limits."""

    own_node: str
    own_role: Role
    trust: TrustState
    own_keys: Callable[[str], SecretKeys]  # key id -> our secret keys; raises KeyStoreError if not ours
    now: int
    limits: Limits = field(default_factory=Limits)
    # digests that parked packages, vouched for by a currently valid key, commit to through ``prev``
    # (transfer.channel.gap_anchors): an expired signer's package is accepted only to fill one of them
    gap_anchors: frozenset[str] = frozenset()
    # for a public reader: the one internal node it already publishes (its inbound channel has applied
    # packages), when the trust store holds keys of more than one (FORMAT.md §9.5)
    publisher: str | None = None

    @property
    def sender_role(self) -> Role:
        return "public" if self.own_role == "internal" else "internal"


@dataclass(frozen=True)
class VerifiedHeader:
    """A header whose signature verified under a trusted key of the expected role."""

    header: Header
    raw: RawHeader
    signer: TrustedKey
    size: int

    @property
    def header_json(self) -> str:
        return self.raw.signed[len(MAGIC) + 4 :].decode()


def _reject_trust(exc: TrustError) -> PackageRejected:
    return PackageRejected(str(exc), reason=exc.reason)


def verify_header(prefix: bytes, file_size: int, ctx: OpenContext, digest: str | None = None) -> VerifiedHeader:
    """Steps 2–4 of FORMAT.md §14 on the first bytes of a package (at least the whole prefix).

    ``digest`` is the package digest staging measured (the opener confirms it at the end); without it
    an expired signer is never accepted, not even to fill a gap."""
    raw = parse_prefix(prefix)
    sender = raw.document.get("sender")
    key_id = sender.get("key") if isinstance(sender, dict) else None
    if not isinstance(key_id, str):
        raise PackageRejected("header has no sender key id", reason="bad-header")
    key = ctx.trust.get(key_id)
    if key is None:
        if not KEY_ID.match(key_id):  # never quoted: an unauthenticated string may hold terminal escapes
            raise PackageRejected(
                "header field sender.key is not a key id (32 hex digits): no such signer in the trust store",
                reason="unknown-signer",
            )
        raise PackageRejected(f"signer key {key_id} is not in the trust store", reason="unknown-signer")
    if key.status in (KeyStatus.REVOKED, KeyStatus.DISTRUSTED):
        raise PackageRejected(f"signer key {key_id} is {key.status.value}", reason="revoked-signer")
    if key.role != ctx.sender_role:
        raise PackageRejected(
            f"signer key {key_id} belongs to {key.role} node {key.node_id}; a {ctx.own_role} node accepts "
            f"packages from {ctx.sender_role} nodes only",
            reason="wrong-role",
        )
    try:
        key.public.verify(Purpose.PACKAGE_HEADER, raw.signed, raw.signature)
    except SignatureError as exc:
        raise PackageRejected(f"header signature does not verify under key {key_id}", reason="bad-signature") from exc
    # signed by a trusted key: now the header's fields may be interpreted
    header = Header.from_document(raw.document)
    if header.sender_node != key.node_id:
        raise PackageRejected(
            f"header names sender {header.sender_node} but key {key_id} belongs to node {key.node_id}",
            reason="wrong-sender",
        )
    _check_one_internal_node(header, ctx)
    try:
        ctx.trust.signer(key_id, role=ctx.sender_role, seq=header.seq, at=datetime.fromtimestamp(header.created, UTC))
    except TrustError as exc:
        raise _reject_trust(exc) from exc
    _check_signer_now(key, header, ctx, digest)
    if header.recipient_node != ctx.own_node:
        raise PackageRejected(
            f"package is for node {header.recipient_node}, not for this node ({ctx.own_node})", reason="wrong-recipient"
        )
    try:
        expected = _check_verified(raw, header, file_size, ctx)
    except PackageRejected as exc:
        # the header is authentic: the receipt for this rejection may name its sender and seq (§12)
        exc.header = header
        raise
    return VerifiedHeader(header=header, raw=raw, signer=key, size=expected)


def _check_verified(raw: RawHeader, header: Header, file_size: int, ctx: OpenContext) -> int:
    """The checks of an authentic header's promises (recipient key, counts, sizes); the package's size."""
    try:
        ctx.own_keys(header.recipient_key)
    except KeyStoreError as exc:
        if exc.reason != "unknown-recipient-key":
            # a wrong or missing passphrase, an unreadable key file: this node's fault, not the
            # package's, so nothing is quarantined and the whole run stops with that error
            raise
        raise PackageRejected(
            f"package is sealed to key {header.recipient_key}, which this node does not hold",
            reason="unknown-recipient-key",
        ) from exc
    checkpoints = header.counts.get("checkpoint", 0)
    if checkpoints != 1:
        # §13.4: the sender's log head, exactly once; the signed counts say so before anything is decrypted
        # (the item reader then holds the payload to those counts)
        raise PackageRejected(
            f"header counts declare {checkpoints} checkpoint items; a package carries exactly one",
            reason="bad-checkpoint",
        )
    if header.plain > ctx.limits.max_plain:
        raise PackageRejected(
            f"declared payload of {header.plain} bytes exceeds the limit {ctx.limits.max_plain}", reason="oversized"
        )
    expected = package_size(len(raw.signed) - len(MAGIC) - 4, header.compressed)
    if file_size < expected:
        raise PackageRejected(f"file is {file_size} bytes; the header declares {expected}", reason="truncated")
    if file_size > expected:
        raise PackageRejected(f"file is {file_size} bytes; the header declares {expected}", reason="extended")
    return expected


def _check_one_internal_node(header: Header, ctx: OpenContext) -> None:
    """A public node publishes exactly one internal node, across that node's successive keys (§9.5): with
    usable keys of another internal node in the trust store (written there by hand: ``keys trust`` refuses
    it), only the node already published goes on, and with none published yet, neither does."""
    if ctx.own_role != "public":
        return
    usable = (KeyStatus.TRUSTED, KeyStatus.SUPERSEDED)
    others = sorted(
        {k.node_id for k in ctx.trust if k.role == "internal" and k.status in usable} - {header.sender_node}
    )
    if others and ctx.publisher != header.sender_node:
        raise PackageRejected(
            f"this public node trusts internal nodes {header.sender_node} and {', '.join(others)}, and publishes "
            f"{ctx.publisher or 'none of them yet'}: a public node publishes exactly one internal node (bureaus "
            f"feed the city's one credit database through `internal-node ingest FILE --kind KIND --source UNIT`); distrust the keys of "
            f"the one it must not publish",
            reason="wrong-sender",
        )


def _check_signer_now(key: TrustedKey, header: Header, ctx: OpenContext, digest: str | None) -> None:
    """The signer key must be valid at the reader's clock, within the grace: ``created`` is the signer's
    choice and proves nothing about now (FORMAT.md §9.1). The one exception: an expired (never a revoked)
    key's package whose digest a parked package vouched for by a valid key commits to (a resend across
    a rotation); the hash chain makes it the package the valid key's holder meant."""
    now = datetime.fromtimestamp(ctx.now, UTC)
    if key.valid_at(now, timedelta(seconds=ctx.limits.key_grace)):
        return
    if now > key.expires and digest is not None and digest in ctx.gap_anchors:
        return
    raise PackageRejected(
        f"signer key {key.key_id} is valid {key.created.isoformat()} to {key.expires.isoformat()}: not at the "
        f"reader's clock {now.isoformat()} (grace {ctx.limits.key_grace}s), and no parked package commits to "
        f"this one",
        reason="expired-signer",
    )


def open_payload(vh: VerifiedHeader, payload: Iterable[bytes], ctx: OpenContext) -> Iterator[Item]:
    """Step 6 of FORMAT.md §14: yield validated items; raises at the end unless everything checked.

    The caller must apply the items inside an uncommitted unit of work and commit only after this
    generator is exhausted without raising.
    """
    h = vh.header
    secret = ctx.own_keys(h.recipient_key)
    file_key = unwrap_file_key(bytes.fromhex(h.stanza_share), bytes.fromhex(h.stanza_body), secret)
    nonce = bytes.fromhex(h.nonce)
    reader = ItemReader(
        mac_key(file_key, nonce),
        allowed_kinds(direction(vh.signer.role), h.format),
        counts=h.counts,
        plain=h.plain,
        package_type=h.type,
    )
    plain_chunks = decrypt_stream(
        payload_key(file_key, nonce, vh.raw.header_hash), payload, vh.size - vh.raw.prefix_len
    )
    dctx = zstandard.ZstdDecompressor(max_window_size=1 << MAX_WINDOW_LOG)
    source = _ChunkReader(plain_chunks)
    try:
        for piece in dctx.read_to_iter(source, read_size=CHUNK, write_size=CHUNK):  # type: ignore[arg-type]
            yield from reader.feed(piece)
        if source.remaining():
            raise PackageRejected("bytes after the end of the compressed stream", reason="bad-payload")
    except zstandard.ZstdError as exc:
        raise PackageRejected(f"payload does not decompress: {exc}", reason="bad-payload") from exc
    reader.finish()


class _ChunkReader:
    """A minimal file-like ``read`` over an iterator of byte chunks, for zstandard's streaming reader."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._buf) < size):
            try:
                self._buf += next(self._chunks)
            except StopIteration:
                self._eof = True
        if size < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out

    def remaining(self) -> bool:
        return bool(self.read(1))


class PackageOpener:
    """Open a whole package from an iterator of its bytes: ``header()`` first, then ``items()``.

    Tracks the package digest over every byte it consumes; ``items()`` raises ``digest-mismatch`` at
    the end if it differs from ``expected_digest`` (computed when the file was staged).
    """

    def __init__(
        self, chunks: Iterable[bytes], ctx: OpenContext, *, file_size: int, expected_digest: str | None = None
    ):
        self._it = iter(chunks)
        self._ctx = ctx
        self._size = file_size
        self._expected = expected_digest
        self._hash = hashlib.sha256()
        self._buf = b""
        self._vh: VerifiedHeader | None = None

    def _next(self) -> bytes | None:
        try:
            chunk = next(self._it)
        except StopIteration:
            return None
        self._hash.update(chunk)
        return chunk

    def header(self) -> VerifiedHeader:
        if self._vh is None:
            while True:
                if len(self._buf) >= len(MAGIC) + 4:
                    need = needed_prefix(self._buf)  # None: bad magic, which parse_prefix reports
                    if need is None or len(self._buf) >= need:
                        break
                chunk = self._next()
                if chunk is None:
                    break
                self._buf += chunk
            self._vh = verify_header(self._buf, self._size, self._ctx, self._expected)
        return self._vh

    def items(self) -> Iterator[Item]:
        vh = self.header()
        rest = self._buf[vh.raw.prefix_len :]
        self._buf = b""

        def payload() -> Iterator[bytes]:
            if rest:
                yield rest
            while (chunk := self._next()) is not None:
                yield chunk

        yield from open_payload(vh, payload(), self._ctx)
        if self._expected is not None and self._hash.hexdigest() != self._expected:
            raise PackageRejected("package bytes changed after staging (digest mismatch)", reason="digest-mismatch")

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()
