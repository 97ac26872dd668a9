"""Every rule of the header's fields and of its length-bounded prefix, each with its reason code and
the words an operator reads (what was expected, which field), as FORMAT.md §3 and §14 state them.

Written after ``make mutate`` (docs/SECURITY.md, "Mutation testing"): the vectors hold most of these
decisions by their reason code only, and several branches (an unexpected or missing field, the
stanza type, a count of zero) were run by no test at all.
"""

from __future__ import annotations

from typing import Any

import pytest

from keys import canonical
from tests.unit.transfer.conftest import Pair, manifest, record
from transfer.errors import PackageRejected
from transfer.header import Header, check_node_id, needed_prefix, parse_prefix, signed_prefix
from transfer.limits import MAGIC, MAX_HEADER, SIG_LEN

PAIR = Pair()
DATA, SEALED = PAIR.seal([manifest(), record(1)], seq=2, prev="ab" * 32)
DOC: dict[str, Any] = parse_prefix(DATA).document


def _with(path: str, value: object) -> dict[str, Any]:
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in DOC.items()}
    *outer, last = path.split(".")
    target = doc
    for part in outer:
        target = target[part]
    if value is _DROP:
        del target[last]
    else:
        target[last] = value
    return doc


_DROP = object()

BAD = [
    ("format", 3, "unknown-version", "format version 3 is not one this node reads [1, 2]"),
    ("format", "1", "unknown-version", "format version '1' is not one this node reads [1, 2]"),
    ("format", True, "unknown-version", "format version True is not one this node reads [1, 2]"),
    ("extra", "x", "bad-header", "header fields: unexpected ['extra'], missing []"),
    ("counts", _DROP, "bad-header", "header fields: unexpected [], missing ['counts']"),
    ("sender", {"node": "int-a"}, "bad-header", "header field sender: expected an object with ['key', 'node']"),
    ("recipient", ["pub-b"], "bad-header", "header field recipient: expected an object with ['key', 'node']"),
    ("sizes", {"compressed": 1, "plain": 4, "x": 1}, "bad-header", "header field sizes: expected an object with"),
    ("stanza", {"type": "X25519", "share": "00"}, "bad-header", "header field stanza: expected an object with"),
    ("stanza.type", "X448", "bad-header", "header field stanza.type: expected X25519"),
    ("type", "full", "bad-header", "header field type: expected one of ('delta', 'snapshot')"),
    ("counts", [], "bad-header", "header field counts: expected kind -> positive integer"),
    ("counts", {"Record": 1}, "bad-header", "header field counts: expected kind -> positive integer"),
    ("counts", {"record": 0}, "bad-header", "header field counts: expected kind -> positive integer"),
    ("counts", {"record": True}, "bad-header", "header field counts: expected kind -> positive integer"),
    ("counts", {"record": 1.0}, "bad-header", "header field counts: expected kind -> positive integer"),
    ("created", -1, "bad-header", "header field created: expected an integer >= 0"),
    ("created", True, "bad-header", "header field created: expected an integer >= 0"),
    ("not_after", "1", "bad-header", "header field not_after: expected an integer >= 0"),
    ("seq", 0, "bad-header", "header field seq: expected an integer >= 1"),
    ("prev", "AB" * 32, "bad-header", "header field prev: expected 64 lowercase hex digits"),
    ("prev", "ab" * 31, "bad-header", "header field prev: expected 64 lowercase hex digits"),
    ("suite", -1, "bad-header", "header field suite: expected an integer >= 0"),
    ("sender.node", "Int-A", "bad-header", "header field sender.node: not a node id"),
    ("sender.key", "ab" * 15, "bad-header", "header field sender.key: expected 32 lowercase hex digits"),
    ("recipient.node", "p", "bad-header", "header field recipient.node: not a node id"),
    ("recipient.key", 7, "bad-header", "header field recipient.key: expected 32 lowercase hex digits"),
    ("sizes.compressed", 0, "bad-header", "header field sizes.compressed: expected an integer >= 1"),
    ("sizes.plain", 3, "bad-header", "header field sizes.plain: expected an integer >= 4"),
    ("nonce", "00" * 15, "bad-header", "header field nonce: expected 32 lowercase hex digits"),
    ("stanza.share", "00" * 31, "bad-header", "header field stanza.share: expected 64 lowercase hex digits"),
    ("stanza.body", "00" * 47, "bad-header", "header field stanza.body: expected 96 lowercase hex digits"),
]


@pytest.mark.parametrize(("path", "value", "reason", "message"), BAD, ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD)])
def test_each_header_field_rule(path: str, value: object, reason: str, message: str) -> None:
    with pytest.raises(PackageRejected) as err:
        Header.from_document(_with(path, value))
    assert err.value.reason == reason
    assert message in str(err.value)


def test_the_first_package_of_a_channel_has_a_zero_prev() -> None:
    with pytest.raises(PackageRejected, match="header field prev: must be zeros for seq 1") as err:
        Header.from_document({**_with("seq", 1)})
    assert err.value.reason == "bad-header"
    assert Header.from_document(_with("prev", "0" * 64)).seq == 2, "zeros are fine after seq 1 too"


def test_a_valid_document_round_trips_field_by_field() -> None:
    h = Header.from_document(DOC)
    assert h == SEALED.header
    assert h.document() == DOC
    assert canonical.decode(h.encode()) == DOC
    assert (h.seq, h.prev, h.sender_node, h.recipient_node) == (2, "ab" * 32, "int-a", "pub-b")
    assert (h.compressed, h.plain, h.suite, h.type) == (DOC["sizes"]["compressed"], DOC["sizes"]["plain"], 1, "delta")
    assert h.sender_key == PAIR.internal.key_id and h.recipient_key == PAIR.public.key_id
    assert (h.nonce, h.stanza_share, h.stanza_body) == (DOC["nonce"], DOC["stanza"]["share"], DOC["stanza"]["body"])


def test_check_node_id_names_its_field() -> None:
    assert check_node_id("int-a") == "int-a"
    with pytest.raises(PackageRejected) as err:
        check_node_id("-a-", "sender.node")
    assert (err.value.reason, str(err.value)) == ("bad-header", "header field sender.node: not a node id")
    with pytest.raises(PackageRejected) as err:
        check_node_id(None)
    assert str(err.value) == "header field node: not a node id"


# --- the length-bounded prefix -----------------------------------------------------------------


def _reason(data: bytes) -> tuple[str, str]:
    with pytest.raises(PackageRejected) as err:
        parse_prefix(data)
    return err.value.reason, str(err.value)


def test_the_prefix_rules() -> None:
    raw = parse_prefix(DATA)
    header_len = int.from_bytes(DATA[len(MAGIC) : len(MAGIC) + 4], "big")
    assert raw.prefix_len == len(MAGIC) + 4 + header_len + SIG_LEN == len(raw.signed) + SIG_LEN
    assert raw.signature == DATA[raw.prefix_len - SIG_LEN : raw.prefix_len]
    assert parse_prefix(DATA[: raw.prefix_len]).document == raw.document, "nothing beyond the signature is read"
    assert _reason(b"credgap.package/v3\n" + DATA[len(MAGIC) :]) == (
        "unknown-version",
        "a credgap package of another format version",
    )
    assert _reason(b"credgap.package/v2\n" + DATA[len(MAGIC) :]) == (
        "bad-header",
        "the magic line names format 2, the header's format field 1",
    ), "a format-1 header under the format-2 magic line"
    assert _reason(MAGIC[:5]) == ("truncated", "file ends inside the magic")
    assert _reason(b"") == ("truncated", "file ends inside the magic")
    assert _reason(b"PK\x03\x04" + DATA[4:]) == ("bad-magic", "not a credgap package (bad magic)")
    assert _reason(b"credgap.package/v") == ("truncated", "file ends inside the magic")
    assert _reason(DATA[: raw.prefix_len - 1]) == (
        "truncated",
        "file ends before the end of the header and signature",
    )
    assert _reason(MAGIC + DATA[len(MAGIC) : len(MAGIC) + 2]) == (
        "truncated",
        "file ends before the end of the header and signature",
    )
    body = b'{"a": 1}'  # JSON, but not the canonical encoding
    signed = MAGIC + len(body).to_bytes(4, "big") + body
    reason, message = _reason(signed + bytes(SIG_LEN))
    assert reason == "bad-header" and message.startswith("header is not canonical JSON")


@pytest.mark.parametrize("declared", [0, MAX_HEADER + 1, 2**32 - 1])
def test_a_declared_header_length_outside_its_bounds_is_refused_before_reading_it(declared: int) -> None:
    data = MAGIC + declared.to_bytes(4, "big")
    with pytest.raises(PackageRejected) as err:
        needed_prefix(data)
    assert err.value.reason == "bad-header"
    assert str(err.value) == f"declared header length {declared} is outside 1..{MAX_HEADER}"


def test_needed_prefix_waits_for_the_length_then_counts_exactly() -> None:
    assert needed_prefix(MAGIC) is None
    assert needed_prefix(MAGIC + b"\x00\x00\x00") is None
    assert needed_prefix(b"x" * (len(MAGIC) + 4)) is None, "bad magic: parse_prefix names it"
    assert needed_prefix(MAGIC + (1).to_bytes(4, "big")) == len(MAGIC) + 4 + 1 + SIG_LEN
    assert needed_prefix(MAGIC + MAX_HEADER.to_bytes(4, "big")) == len(MAGIC) + 4 + MAX_HEADER + SIG_LEN


def test_signed_prefix_bounds_the_header() -> None:
    assert signed_prefix(b"{}") == MAGIC + (2).to_bytes(4, "big") + b"{}"
    assert signed_prefix(b"x") == MAGIC + (1).to_bytes(4, "big") + b"x", "one byte is the lower bound"
    assert len(signed_prefix(b"x" * MAX_HEADER)) == len(MAGIC) + 4 + MAX_HEADER
    for size in (0, MAX_HEADER + 1):
        with pytest.raises(PackageRejected) as err:
            signed_prefix(b"x" * size)
        assert err.value.reason == "bad-header"
        assert str(err.value) == f"header of {size} bytes is outside 1..{MAX_HEADER}"
