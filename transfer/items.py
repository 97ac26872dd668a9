"""Payload items: the closed list of kinds, their schemas, the directions that may carry them, and the
framed, MAC-trailed item stream (docs/FORMAT.md §10)."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import orjson

from keys import canonical
from keys.errors import EncodingError
from keys.strict import calendar_date, matches, whole
from keys.times import parse_time
from transfer.appitems import FORMAT2_KINDS, VALIDATORS
from transfer.appitems import RECORD_TABLES as RECORD_TABLES  # one list of the record kinds, re-exported
from transfer.crypto import new_mac
from transfer.errors import PackageRejected
from transfer.limits import MAX_DOCUMENT, MAX_ITEM

Item = dict[str, Any]

INTERNAL_TO_PUBLIC = "internal-to-public"
PUBLIC_TO_INTERNAL = "public-to-internal"
KINDS = frozenset(
    {"manifest", "record", "document", "snapshot", "heartbeat", "key-announcement", "receipt", "checkpoint",
     "objection", "objection-resolution"}
) | FORMAT2_KINDS  # fmt: skip
ALLOWED: dict[str, frozenset[str]] = {
    INTERNAL_TO_PUBLIC: frozenset(
        {"manifest", "record", "document", "snapshot", "heartbeat", "key-announcement", "receipt", "checkpoint",
         "objection-resolution", "binding-decision", "application-status", "application-decision"}
    ),
    PUBLIC_TO_INTERNAL: frozenset(
        {"manifest", "heartbeat", "key-announcement", "receipt", "checkpoint", "objection", "binding-request",
         "application"}
    ),
}  # fmt: skip
# Kinds that are a delta package's content: without one, the package carries a heartbeat (§10.2).
CONTENT_KINDS = frozenset({"record", "document", "objection", "objection-resolution"}) | FORMAT2_KINDS


def allowed_kinds(direction: str, fmt: int) -> frozenset[str]:
    """The kinds a package of format ``fmt`` may carry in ``direction`` (FORMAT.md §10.2)."""
    allowed = ALLOWED[direction]
    return allowed if fmt >= 2 else allowed - FORMAT2_KINDS


def _format_check(kind: str, allowed: frozenset[str]) -> None:
    if kind in FORMAT2_KINDS and kind not in allowed and not (allowed & FORMAT2_KINDS):
        raise PackageRejected(
            f"item kind {kind!r} exists in format 2 only; this is a format-1 package", reason="unknown-kind"
        )


WITHDRAW_REASONS = frozenset(
    {"expired", "revoked", "repaired", "objection-upheld", "deleted", "removed", "not-public", "minor",
     "needs-review", "held", "incomplete", "policy"}
)  # fmt: skip
MEDIA_TYPES = frozenset({"application/pdf", "application/ofd", "image/png", "image/jpeg"})
# 信用异议 (objections) and 信用修复 (repair requests) from the public side, and their outcomes (DOMAIN.md)
OBJECTION_CATEGORIES = frozenset({"inaccurate", "wrong-subject", "overdue", "repair", "other"})
OBJECTION_DECISIONS = frozenset({"upheld", "partially-upheld", "rejected", "not-accepted"})
MAX_OBJECTION_TEXT = 16384  # bytes of UTF-8: an objector's statement, a resolution's reason
MAX_CONTACT = 64  # bytes of UTF-8: a masked contact hint
MAX_STRING = 65536  # bytes of UTF-8, not characters (FORMAT.md §10.3)
MAX_NOTE = 1000  # bytes of UTF-8: a manifest's note
MAX_ROW_FIELDS = 200
_KEY = whole(r"[0-9a-f]{32}")
_HEX32 = whole(r"[0-9a-f]{64}")
_HEX64 = whole(r"[0-9a-f]{128}")
_FIELD = whole(r"[a-z][a-z0-9_]{0,63}")
# More than 6 digits in a row: an unmasked phone or ID number. Digits of every script count here (no
# re.ASCII, on purpose): a number written in full-width or Arabic-Indic digits is still unmasked.
_DIGIT_RUN = re.compile(r"\d{7}")
COMMON_ROW_FIELDS = (
    "subject_key",
    "subject_name",
    "subject_category",
    "uscc",
    "doc_no",
    "publish_until",
    "source_unit",
)
_LEN = 4


def direction(sender_role: str) -> str:
    return INTERNAL_TO_PUBLIC if sender_role == "internal" else PUBLIC_TO_INTERNAL


def _bad(kind: str, what: str) -> PackageRejected:
    return PackageRejected(f"{kind} item: {what}", reason="bad-schema")


def _members(
    item: Item, kind: str, required: set[str] | frozenset[str], optional: frozenset[str] = frozenset()
) -> None:
    if not optional and item.keys() == required:
        return
    keys = set(item)
    if not required <= keys or not keys <= required | optional:
        raise _bad(kind, f"members {sorted(keys)}; expected {sorted(required)} (+ optional {sorted(optional)})")


def _too_long(v: str, limit: int) -> bool:
    """Whether ``v`` is more than ``limit`` bytes in UTF-8."""
    # A character is at most 4 bytes, so only a string of more than limit/4 characters is encoded to
    # be measured. A lone surrogate counts as 3 bytes here; canonical encoding refuses it anyway.
    n = len(v)
    return n > limit // 4 and (n > limit or len(v.encode("utf-8", "surrogatepass")) > limit)


def _str(item: Item, key: str, kind: str, *, limit: int = MAX_STRING, nullable: bool = False) -> None:
    v = item[key]
    if v is None and nullable:
        return
    if not isinstance(v, str) or _too_long(v, limit):
        raise _bad(kind, f"{key} must be a string of at most {limit} bytes of UTF-8")


def _one_of(item: Item, key: str, kind: str, allowed: frozenset[str], what: str) -> None:
    v = item[key]
    if not isinstance(v, str) or v not in allowed:  # (a list or an object is not hashable)
        raise _bad(kind, f"{what} {repr(v)[:60]} is not one of {sorted(allowed)}")


def _hexfield(item: Item, key: str, kind: str, pattern: re.Pattern[str], *, nullable: bool = False) -> None:
    v = item[key]
    if v is None and nullable:
        return
    if not matches(v, pattern):
        raise _bad(kind, f"{key} must be lowercase hex of the right length")


def _posint(item: Item, key: str, kind: str) -> None:
    v = item[key]
    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= canonical.MAX_SAFE_INT:
        raise _bad(kind, f"{key} must be an integer from 1 to 2^53-1")


_FIELD_NAMES: set[str] = set()  # row member names already matched against _FIELD (a policy has few)
_FIELD_NAMES_MAX = 10_000


def _check_row(row: object) -> None:
    if not isinstance(row, dict) or len(row) > MAX_ROW_FIELDS:
        raise _bad("record", f"row must be an object of at most {MAX_ROW_FIELDS} members")
    names = _FIELD_NAMES
    for k, v in row.items():
        if k not in names:
            if not matches(k, _FIELD):
                raise _bad("record", f"row member {k!r} is not a field name")
            if len(names) < _FIELD_NAMES_MAX:
                names.add(k)
        t = type(v)
        if t is str:
            if _too_long(v, MAX_STRING):
                raise _bad("record", f"row.{k} is longer than {MAX_STRING} bytes of UTF-8")
        elif v is None:
            continue
        elif t is int:
            if not -canonical.MAX_SAFE_INT <= v <= canonical.MAX_SAFE_INT:
                raise _bad("record", f"row.{k} is an integer outside ±(2^53-1)")
        elif isinstance(v, bool) or not isinstance(v, (str, int)):
            raise _bad("record", f"row.{k} must be a string, an integer or null")
        elif isinstance(v, str) and _too_long(v, MAX_STRING):
            raise _bad("record", f"row.{k} is longer than {MAX_STRING} bytes of UTF-8")
    for k in COMMON_ROW_FIELDS:
        if k not in row:
            raise _bad("record", f"row lacks the common field {k}")
    if not matches(row["subject_key"], _KEY):
        raise _bad("record", "row.subject_key must be 32 lowercase hex digits")
    pu = row["publish_until"]
    if pu is not None and calendar_date(pu) is None:
        raise _bad("record", "row.publish_until must be YYYY-MM-DD (a calendar date) or null")


_UPSERT_MEMBERS = frozenset({"kind", "op", "table", "key", "version", "row"})
_WITHDRAW_MEMBERS = frozenset({"kind", "op", "table", "key", "version", "reason"})


def _record(item: Item) -> None:
    op = item.get("op")
    if op == "upsert":
        _members(item, "record", _UPSERT_MEMBERS)
        _check_row(item["row"])
    elif op == "withdraw":
        _members(item, "record", _WITHDRAW_MEMBERS)
        _one_of(item, "reason", "record", WITHDRAW_REASONS, "withdrawal reason")
    else:
        raise _bad("record", "op must be upsert or withdraw")
    _one_of(item, "table", "record", RECORD_TABLES, "table")
    _hexfield(item, "key", "record", _KEY)
    _posint(item, "version", "record")


def _document(item: Item) -> None:
    if item.get("op") == "withdraw":
        _members(item, "document", {"kind", "op", "key", "version", "reason"})
        _hexfield(item, "key", "document", _KEY)
        _posint(item, "version", "document")
        _one_of(item, "reason", "document", WITHDRAW_REASONS, "withdrawal reason")
        return
    _members(
        item,
        "document",
        {"kind", "op", "key", "version", "name", "media_type", "title", "subject_key", "publish_until", "data"},
    )
    if item["op"] != "upsert":
        raise _bad("document", "op must be upsert or withdraw")
    _hexfield(item, "key", "document", _KEY)
    _hexfield(item, "subject_key", "document", _KEY, nullable=True)
    _posint(item, "version", "document")
    _str(item, "title", "document")
    pu = item["publish_until"]
    if pu is not None and calendar_date(pu) is None:
        raise _bad("document", "publish_until must be YYYY-MM-DD (a calendar date) or null")
    name = item["name"]
    if (
        not isinstance(name, str)
        or not 1 <= len(name.encode()) <= 255
        or name.startswith(".")
        or any(c in name for c in "/\\\x00")
    ):
        raise _bad("document", "name must be a plain file name (no path, no leading dot)")
    _one_of(item, "media_type", "document", MEDIA_TYPES, "media_type")
    data = item["data"]
    if not isinstance(data, str) or len(data) > (MAX_DOCUMENT // 3 + 1) * 4:
        raise _bad("document", f"data must be base64 of at most {MAX_DOCUMENT} bytes")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad("document", "data is not valid base64") from exc


def _time(item: Item, key: str, kind: str) -> None:
    try:
        parse_time(item[key], key)
    except EncodingError as exc:
        raise _bad(kind, str(exc)) from exc


def _text(item: Item, key: str, kind: str, limit: int) -> None:
    v = item[key]
    if not isinstance(v, str) or not v.strip() or _too_long(v, limit):
        raise _bad(kind, f"{key} must be a non-blank string of at most {limit} bytes of UTF-8")


def _disputed(item: Item, kind: str) -> None:
    """The objection id and the record it is about: common to an objection and its resolution."""
    _hexfield(item, "id", kind, _KEY)
    _one_of(item, "table", kind, RECORD_TABLES, "table")
    _hexfield(item, "key", kind, _KEY)


_OBJECTION_MEMBERS = frozenset(
    {"kind", "id", "table", "key", "version", "submitted", "category", "statement", "contact"}
)
_RESOLUTION_MEMBERS = frozenset({"kind", "id", "table", "key", "decision", "decided", "reason"})


def _objection(item: Item) -> None:
    kind = "objection"
    _members(item, kind, _OBJECTION_MEMBERS)
    _disputed(item, kind)
    _posint(item, "version", kind)
    _time(item, "submitted", kind)
    _one_of(item, "category", kind, OBJECTION_CATEGORIES, "category")
    _text(item, "statement", kind, MAX_OBJECTION_TEXT)
    contact = item["contact"]
    # the public node keeps the objector's contact details; only a masked hint crosses (DOMAIN.md masking)
    if contact is not None and (
        not isinstance(contact, str)
        or _too_long(contact, MAX_CONTACT)
        or "*" not in contact
        or _DIGIT_RUN.search(contact)
    ):
        raise _bad(kind, f"contact must be null or a masked hint (with '*', at most 6 digits in a row, "
                         f"at most {MAX_CONTACT} bytes)")  # fmt: skip


def _objection_resolution(item: Item) -> None:
    kind = "objection-resolution"
    _members(item, kind, _RESOLUTION_MEMBERS)
    _disputed(item, kind)
    _one_of(item, "decision", kind, OBJECTION_DECISIONS, "decision")
    _time(item, "decided", kind)
    _text(item, "reason", kind, MAX_OBJECTION_TEXT)


def _signed(item: Item, kind: str, field: str) -> None:
    _members(item, kind, {"kind", field, "sig"})
    if not isinstance(item[field], dict):
        raise _bad(kind, f"{field} must be an object")
    _hexfield(item, "sig", kind, _HEX64)


def validate(item: Item) -> None:
    """Raise ``bad-schema`` unless ``item`` matches the schema of its kind (``unknown-kind`` for others)."""
    kind = item.get("kind")
    if not isinstance(kind, str):
        raise PackageRejected(f"item kind {kind!r} is not a string", reason="unknown-kind")
    if kind == "record":
        _record(item)
    elif kind == "manifest":
        _members(item, kind, {"kind", "policy", "content", "note"})
        _hexfield(item, "policy", kind, _HEX32, nullable=True)
        _hexfield(item, "content", kind, _HEX32, nullable=True)
        _str(item, "note", kind, limit=MAX_NOTE)
    elif kind == "document":
        _document(item)
    elif kind == "heartbeat":
        _members(item, kind, {"kind"})
    elif kind == "snapshot":
        _members(item, kind, {"kind", "tables", "records"})
        if item["tables"] != sorted(RECORD_TABLES):
            raise _bad(kind, f"tables must list every record table, sorted: {sorted(RECORD_TABLES)}")
        rec = item["records"]
        if not isinstance(rec, int) or isinstance(rec, bool) or rec < 0:
            raise _bad(kind, "records must be an integer >= 0")
    elif kind == "key-announcement":
        _members(item, kind, {"kind", "statement"})
        if not isinstance(item["statement"], dict):
            raise _bad(kind, "statement must be an object")
    elif kind == "receipt":
        _signed(item, kind, "receipt")
    elif kind == "checkpoint":
        _signed(item, kind, "checkpoint")
    elif kind == "objection":
        _objection(item)
    elif kind == "objection-resolution":
        _objection_resolution(item)
    elif kind in VALIDATORS:
        VALIDATORS[kind](item)
    else:
        raise PackageRejected(f"unknown item kind {kind!r}", reason="unknown-kind")


class PreparedItem(NamedTuple):
    """An item already validated and encoded canonically by its producer (e.g. the internal node's
    publication, which validates every item when it prepares it): framed as is, without a second
    encoding. ``body`` MUST be the canonical encoding of a valid item of ``kind``."""

    kind: str
    body: bytes


class PreparedBatch(NamedTuple):
    """Prepared items of one kind, in order, framed together: what a producer streaming many prepared
    items passes so that framing costs one call per batch. Each body is held to what a
    :class:`PreparedItem`'s is."""

    kind: str
    bodies: Sequence[bytes]


Sealable = Item | PreparedItem | PreparedBatch


class ItemWriter:
    """Frames items into the item stream, counting them per kind; the MAC is taken over each batch of
    framed bytes (:meth:`take`), which is the same as over the whole stream."""

    def __init__(self, key: bytes, allowed: frozenset[str]) -> None:
        self._mac = new_mac(key)
        self._allowed = allowed
        self.counts: dict[str, int] = {}
        self.size = 0

    def frame(self, item: Sealable) -> bytes:
        """Validate and encode ``item`` (a prepared one is taken as it is) and return it framed."""
        if isinstance(item, PreparedBatch):
            return self._frame_batch(item)
        if isinstance(item, PreparedItem):
            kind, body = item
        else:
            kind = str(item.get("kind"))
            if kind in self._allowed:
                validate(item)
            try:
                body = canonical.encode(item)
            except EncodingError as exc:
                raise _bad(str(kind), str(exc)) from exc
        if kind not in self._allowed:
            _format_check(kind, self._allowed)
            raise PackageRejected(f"item kind {kind!r} may not be sent in this direction", reason="kind-not-allowed")
        if len(body) > MAX_ITEM:
            raise _bad(str(kind), f"item of {len(body)} bytes exceeds {MAX_ITEM}")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return len(body).to_bytes(_LEN, "big") + body

    def _frame_batch(self, batch: PreparedBatch) -> bytes:
        kind, bodies = batch
        if kind not in self._allowed:
            raise PackageRejected(f"item kind {kind!r} may not be sent in this direction", reason="kind-not-allowed")
        if not bodies:
            return b""
        longest = max(map(len, bodies))
        if longest > MAX_ITEM:
            raise _bad(kind, f"item of {longest} bytes exceeds {MAX_ITEM}")
        parts: list[bytes] = []
        add = parts.append
        for body in bodies:
            add(len(body).to_bytes(_LEN, "big"))
            add(body)
        self.counts[kind] = self.counts.get(kind, 0) + len(bodies)
        return b"".join(parts)

    def take(self, framed: bytes) -> None:
        """Account for framed bytes about to be compressed (MAC and size)."""
        self._mac.update(framed)
        self.size += len(framed)

    def trailer(self) -> bytes:
        end = (0).to_bytes(_LEN, "big")
        self._mac.update(end)  # the MAC covers the end marker too: "every preceding byte"
        out = end + self._mac.digest()
        self.size += len(out)
        return out


class ItemReader:
    """Splits the decompressed item stream, validates each item, and checks structure, counts and MAC."""

    def __init__(
        self, key: bytes, allowed: frozenset[str], *, counts: dict[str, int], plain: int, package_type: str
    ) -> None:
        self._mac = new_mac(key)
        self._allowed = allowed
        self._declared = counts
        self._plain = plain
        self._type = package_type
        self._pending = bytearray()
        self._seen = 0
        self._done = False
        self.counts: dict[str, int] = {}
        self._index = 0
        self._snapshot_seen = False
        self._snapshot_records = -1

    def feed(self, data: bytes) -> Iterator[Item]:
        if self._done:
            if data:
                raise PackageRejected("bytes after the item stream trailer", reason="bad-payload")
            return
        self._seen += len(data)
        if self._seen > self._plain:
            raise PackageRejected(
                f"decompressed payload exceeds the declared {self._plain} bytes", reason="decompression-bomb"
            )
        if self._pending:
            # an item (or its length) began in an earlier piece: gather until it is complete, so a large
            # item costs one copy, not one per piece
            self._pending += data
            if len(self._pending) < self._needed(self._pending):
                return
            buf = bytes(self._pending)
            self._pending.clear()
        else:
            buf = bytes(data)
        # The MAC is taken over the bytes each call consumes, in one update (the same as item by item).
        pos = done = 0
        size = len(buf)
        view = memoryview(buf)
        while True:
            avail = size - pos
            if avail < _LEN:
                break
            n = int.from_bytes(buf[pos : pos + _LEN], "big")
            if n == 0:
                if avail < _LEN + 32:
                    break
                self._mac.update(view[done : pos + _LEN])
                tag = buf[pos + _LEN : pos + _LEN + 32]
                if not hmac.compare_digest(tag, self._mac.digest()):
                    raise PackageRejected("item stream trailer MAC does not verify", reason="bad-payload")
                self._done = True
                if pos + _LEN + 32 != size:
                    raise PackageRejected("bytes after the item stream trailer", reason="bad-payload")
                return
            if n > MAX_ITEM:
                raise PackageRejected(f"item length {n} exceeds {MAX_ITEM}", reason="bad-payload")
            if avail < _LEN + n:
                break
            body = buf[pos + _LEN : pos + _LEN + n]
            pos += _LEN + n
            yield self._item(body)
        self._mac.update(view[done:pos])
        if pos < size:
            self._pending += view[pos:]
            self._needed(self._pending)  # an oversized length is refused as soon as it is seen

    def _needed(self, pending: bytearray) -> int:
        """How many bytes the item (or trailer) at the start of ``pending`` takes, once its length is known."""
        if len(pending) < _LEN:
            return _LEN
        n = int.from_bytes(pending[:_LEN], "big")
        if n > MAX_ITEM:
            raise PackageRejected(f"item length {n} exceeds {MAX_ITEM}", reason="bad-payload")
        return _LEN + (32 if n == 0 else n)

    def _item(self, body: bytes) -> Item:
        try:
            item = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise PackageRejected(f"item {self._index} is not JSON", reason="bad-schema") from exc
        if not isinstance(item, dict):
            raise PackageRejected(f"item {self._index} is not an object", reason="bad-schema")
        kind = item.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:  # (a list or an object is not hashable)
            raise PackageRejected(f"unknown item kind {repr(kind)[:60]}", reason="unknown-kind")
        if kind not in self._allowed:
            _format_check(kind, self._allowed)
            raise PackageRejected(f"item kind {kind!r} is not allowed in this direction", reason="kind-not-allowed")
        if kind == "record":
            # A record's schema admits only values of the canonical subset (ASCII field names, strings,
            # integers within ±(2^53-1), null, one nested object), so once it holds, equal bytes on
            # re-encoding prove the canonical form: the subset walk would find nothing more.
            validate(item)
            if orjson.dumps(item, option=orjson.OPT_SORT_KEYS) != body:
                raise PackageRejected(f"item {self._index} is not in canonical form", reason="bad-schema")
        else:
            try:
                if canonical.encode(item) != body:
                    raise PackageRejected(f"item {self._index} is not in canonical form", reason="bad-schema")
            except EncodingError as exc:
                raise PackageRejected(f"item {self._index}: {exc}", reason="bad-schema") from exc
            validate(item)
        self._structure(kind)
        if kind == "snapshot":
            self._snapshot_records = item["records"]
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] > self._declared.get(kind, 0):
            raise PackageRejected(f"more {kind} items than the header declares", reason="bad-payload")
        self._index += 1
        return item

    def _structure(self, kind: str) -> None:
        if (kind == "manifest") != (self._index == 0):
            raise PackageRejected("the manifest must be the first item, and only the first", reason="bad-payload")
        if self._snapshot_seen:
            raise PackageRejected("items after the snapshot item", reason="bad-payload")
        if kind == "snapshot":
            if self._type != "snapshot":
                raise PackageRejected("a snapshot item in a delta package", reason="bad-payload")
            self._snapshot_seen = True

    def finish(self) -> None:
        """Confirm the whole stream: trailer seen, sizes and counts equal to the header's."""
        if not self._done:
            raise PackageRejected("item stream ends without its trailer", reason="bad-payload")
        if self._seen != self._plain:
            raise PackageRejected(
                f"item stream is {self._seen} bytes; header declares {self._plain}", reason="bad-payload"
            )
        if self.counts != self._declared:
            raise PackageRejected(
                f"item counts {self.counts} differ from the header's {self._declared}", reason="bad-payload"
            )
        if self._type == "snapshot" and not self._snapshot_seen:
            raise PackageRejected("a snapshot package without its snapshot item", reason="bad-payload")
        if self._snapshot_seen and self._snapshot_records != self.counts.get("record", 0):
            raise PackageRejected(
                "the snapshot item's record count differs from the records carried", reason="bad-payload"
            )
        if self._type == "delta" and not ((CONTENT_KINDS | {"heartbeat"}) & self.counts.keys()):
            raise PackageRejected("a delta package with no data item and no heartbeat", reason="bad-payload")
