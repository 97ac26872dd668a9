"""The package header: its fields, its one canonical encoding, and parsing the length-bounded prefix."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from keys import canonical
from keys.errors import EncodingError
from keys.strict import KEY_ID as KEY_ID  # re-exported: the opener and the medium check ids with them
from keys.strict import NODE_ID as NODE_ID
from keys.strict import is_hex, matches, whole
from transfer.errors import PackageRejected
from transfer.limits import FORMAT_VERSION, FORMATS, MAGIC, MAGICS, MAX_HEADER, MAX_NOT_AFTER_SPAN, MAX_SEQ, SIG_LEN

ZERO_DIGEST = "0" * 64
VERSION_PREFIX = b"credgap.package/v"
PACKAGE_TYPES = ("delta", "snapshot")
_FIELDS = {"format", "suite", "type", "sender", "recipient", "seq", "prev", "created", "not_after", "counts",
           "sizes", "nonce", "stanza"}  # fmt: skip
_KIND_NAME = whole(r"[a-z][a-z-]{0,31}")


def _hex(value: object, nbytes: int, field: str) -> str:
    if not is_hex(value, 2 * nbytes):
        raise PackageRejected(f"header field {field}: expected {2 * nbytes} lowercase hex digits", reason="bad-header")
    return value


def _int(value: object, field: str, lo: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise PackageRejected(f"header field {field}: expected an integer >= {lo}", reason="bad-header")
    return value


def _obj(value: object, field: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != keys:
        raise PackageRejected(f"header field {field}: expected an object with {sorted(keys)}", reason="bad-header")
    return value


def check_node_id(value: object, field: str = "node") -> str:
    if not matches(value, NODE_ID):
        raise PackageRejected(f"header field {field}: not a node id", reason="bad-header")
    return value


@dataclass(frozen=True)
class Header:
    """A package header's fields (FORMAT.md §3.2)."""

    suite: int
    type: str
    sender_node: str
    sender_key: str
    recipient_node: str
    recipient_key: str
    seq: int
    prev: str
    created: int
    not_after: int
    counts: dict[str, int]
    compressed: int
    plain: int
    nonce: str
    stanza_share: str
    stanza_body: str
    format: int = FORMAT_VERSION

    def document(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "suite": self.suite,
            "type": self.type,
            "sender": {"node": self.sender_node, "key": self.sender_key},
            "recipient": {"node": self.recipient_node, "key": self.recipient_key},
            "seq": self.seq,
            "prev": self.prev,
            "created": self.created,
            "not_after": self.not_after,
            "counts": dict(self.counts),
            "sizes": {"compressed": self.compressed, "plain": self.plain},
            "nonce": self.nonce,
            "stanza": {"type": "X25519", "share": self.stanza_share, "body": self.stanza_body},
        }

    def encode(self) -> bytes:
        return canonical.encode(self.document())

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Header:
        """Validate every field of a decoded header; raises ``bad-header`` / ``unknown-version``."""
        fmt = doc.get("format")
        if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt not in FORMATS:
            raise PackageRejected(
                f"format version {repr(fmt)[:20]} is not one this node reads {list(FORMATS)}", reason="unknown-version"
            )
        if set(doc) != _FIELDS:
            extra, missing = sorted(set(doc) - _FIELDS), sorted(_FIELDS - set(doc))
            raise PackageRejected(f"header fields: unexpected {extra}, missing {missing}", reason="bad-header")
        sender = _obj(doc["sender"], "sender", {"node", "key"})
        recipient = _obj(doc["recipient"], "recipient", {"node", "key"})
        sizes = _obj(doc["sizes"], "sizes", {"compressed", "plain"})
        stanza = _obj(doc["stanza"], "stanza", {"type", "share", "body"})
        if stanza["type"] != "X25519":
            raise PackageRejected("header field stanza.type: expected X25519", reason="bad-header")
        if doc["type"] not in PACKAGE_TYPES:
            raise PackageRejected(f"header field type: expected one of {PACKAGE_TYPES}", reason="bad-header")
        counts = doc["counts"]
        if not isinstance(counts, dict) or not all(
            matches(k, _KIND_NAME) and isinstance(v, int) and not isinstance(v, bool) and v > 0
            for k, v in counts.items()
        ):
            raise PackageRejected("header field counts: expected kind -> positive integer", reason="bad-header")
        created = _int(doc["created"], "created")
        not_after = _int(doc["not_after"], "not_after")
        if not created < not_after <= created + MAX_NOT_AFTER_SPAN:
            raise PackageRejected(
                "header field not_after: must be after created, by at most 31 days", reason="bad-header"
            )
        seq = _int(doc["seq"], "seq", 1)
        if seq > MAX_SEQ:
            raise PackageRejected(
                f"header field seq: expected at most {MAX_SEQ} (the 12 digits of a package file name)",
                reason="bad-header",
            )
        prev = _hex(doc["prev"], 32, "prev")
        if seq == 1 and prev != ZERO_DIGEST:
            raise PackageRejected("header field prev: must be zeros for seq 1", reason="bad-header")
        return cls(
            suite=_int(doc["suite"], "suite"),
            type=doc["type"],
            sender_node=check_node_id(sender["node"], "sender.node"),
            sender_key=_hex(sender["key"], 16, "sender.key"),
            recipient_node=check_node_id(recipient["node"], "recipient.node"),
            recipient_key=_hex(recipient["key"], 16, "recipient.key"),
            seq=seq,
            prev=prev,
            created=created,
            not_after=not_after,
            counts=dict(counts),
            compressed=_int(sizes["compressed"], "sizes.compressed", 1),
            plain=_int(sizes["plain"], "sizes.plain", 4),
            nonce=_hex(doc["nonce"], 16, "nonce"),
            stanza_share=_hex(stanza["share"], 32, "stanza.share"),
            stanza_body=_hex(stanza["body"], 48, "stanza.body"),
            format=fmt,
        )


@dataclass(frozen=True)
class RawHeader:
    """The length-bounded prefix of a package: signed bytes, decoded (not yet trusted) document, signature."""

    signed: bytes  # magic || header-len || header
    document: dict[str, Any]
    signature: bytes
    format: int = FORMAT_VERSION  # the format its magic line names (the header's must be the same)

    @property
    def prefix_len(self) -> int:
        return len(self.signed) + SIG_LEN

    @property
    def header_hash(self) -> bytes:
        return hashlib.sha256(self.signed).digest()


def signed_prefix(header: bytes, fmt: int = FORMAT_VERSION) -> bytes:
    """``magic || header-len || header`` for package format ``fmt``: the bytes the signature covers."""
    if not 1 <= len(header) <= MAX_HEADER:
        raise PackageRejected(f"header of {len(header)} bytes is outside 1..{MAX_HEADER}", reason="bad-header")
    return MAGICS[fmt] + len(header).to_bytes(4, "big") + header


def _magic_format(data: bytes) -> int | None:
    """The format whose magic line ``data`` starts with (None: none this node reads)."""
    head = data[: len(MAGIC)]
    for fmt, line in MAGICS.items():
        if head == line:
            return fmt
    return None


def needed_prefix(data: bytes) -> int | None:
    """How many bytes the whole prefix (through the signature) takes, once the length field is readable."""
    if len(data) < len(MAGIC) + 4:
        return None
    if _magic_format(data) is None:
        return None  # parse_prefix names the problem
    n = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 4], "big")
    if not 1 <= n <= MAX_HEADER:
        raise PackageRejected(f"declared header length {n} is outside 1..{MAX_HEADER}", reason="bad-header")
    return len(MAGIC) + 4 + n + SIG_LEN


def parse_prefix(data: bytes) -> RawHeader:
    """Parse magic, length, header and signature from the start of a package. Reads nothing beyond them."""
    fmt = _magic_format(data)
    if fmt is None:
        if data.startswith(VERSION_PREFIX) and len(data) >= len(MAGIC):
            raise PackageRejected("a credgap package of another format version", reason="unknown-version")
        if len(data) < len(MAGIC) and any(line.startswith(data) for line in MAGICS.values()):
            raise PackageRejected("file ends inside the magic", reason="truncated")
        raise PackageRejected("not a credgap package (bad magic)", reason="bad-magic")
    total = needed_prefix(data)
    if total is None or len(data) < total:
        raise PackageRejected("file ends before the end of the header and signature", reason="truncated")
    signed = data[: total - SIG_LEN]
    try:
        document = canonical.decode(signed[len(MAGIC) + 4 :])
    except EncodingError as exc:
        raise PackageRejected(f"header is not canonical JSON: {exc}", reason="bad-header") from exc
    declared = document.get("format")
    if isinstance(declared, int) and not isinstance(declared, bool) and declared in FORMATS and declared != fmt:
        # the magic line is signed too, but a header that contradicts it is malformed, whoever signed it
        raise PackageRejected(
            f"the magic line names format {fmt}, the header's format field {declared}",
            reason="bad-header",
        )
    return RawHeader(signed=signed, document=document, signature=data[total - SIG_LEN : total], format=fmt)
