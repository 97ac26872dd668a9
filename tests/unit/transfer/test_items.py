"""Record items' schema: each rule of a row holds whatever rows came before (the checker remembers
field names it has matched, never a verdict on a value)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from tests.unit.transfer.conftest import record
from transfer.errors import PackageRejected
from transfer.items import MAX_STRING, validate


def with_row(**changes: Any) -> dict[str, Any]:
    item = record(1)
    item["row"] = {**item["row"], **changes}
    return item


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Fine": "1"}, "is not a field name"),
        ({"9fine": "1"}, "is not a field name"),
        ({"fine-amount": "1"}, "is not a field name"),
        ({"fine_amount": 1.5}, "must be a string, an integer or null"),
        ({"fine_amount": True}, "must be a string, an integer or null"),
        ({"fine_amount": ["1"]}, "must be a string, an integer or null"),
        ({"note": "x" * (MAX_STRING + 1)}, "longer than"),
        ({"publish_until": "2027/06/30"}, "publish_until must be YYYY-MM-DD"),
    ],
)
def test_bad_rows_are_refused_before_and_after_good_ones(changes: dict[str, Any], message: str) -> None:
    for _ in range(2):
        validate(record(2))  # a good row first: its names are remembered
        with pytest.raises(PackageRejected, match=message) as err:
            validate(with_row(**changes))
        assert err.value.reason == "bad-schema"


def test_a_row_missing_a_common_field_is_refused() -> None:
    item = record(3)
    del item["row"]["doc_no"]
    with pytest.raises(PackageRejected, match="lacks the common field doc_no"):
        validate(item)


def test_good_values_of_every_type_pass() -> None:
    validate(with_row(fine_amount=None, count=3, note="x" * MAX_STRING))


def test_string_limits_count_utf8_bytes_not_characters() -> None:
    # 30,000 characters is well under 65,536, but each of these is 3 bytes: 90,000 bytes of UTF-8
    long_chinese = "昆明市市场监督管理局" * 3000
    assert len(long_chinese) < MAX_STRING < len(long_chinese.encode())
    with pytest.raises(PackageRejected, match="longer than 65536 bytes") as err:
        validate(with_row(note=long_chinese))
    assert err.value.reason == "bad-schema"
    at_limit = "长" * (MAX_STRING // 3) + "x"  # 65,535 + 1 bytes
    assert len(at_limit.encode()) == MAX_STRING
    validate(with_row(note=at_limit))
    with pytest.raises(PackageRejected, match="longer than"):
        validate(with_row(note=at_limit + "x"))


def test_the_manifest_note_is_at_most_1000_bytes() -> None:
    note = "长" * 333 + "x"  # 1000 bytes, 334 characters
    validate({**MANIFEST, "note": note})
    with pytest.raises(PackageRejected, match="at most 1000 bytes") as err:
        validate({**MANIFEST, "note": "长" * 334})  # 334 characters, 1002 bytes
    assert err.value.reason == "bad-schema"


DOCUMENT = {
    "kind": "document", "op": "upsert", "key": "d" * 32, "version": 1, "name": "决定书.png", "media_type": "image/png",
    "title": "", "subject_key": None, "publish_until": None, "data": base64.b64encode(b"\x89PNG\r\n\x1a\n").decode(),
}  # fmt: skip


def test_a_document_title_is_limited_in_bytes() -> None:
    validate({**DOCUMENT, "title": "长" * (MAX_STRING // 3)})
    with pytest.raises(PackageRejected, match="title must be a string of at most 65536 bytes"):
        validate({**DOCUMENT, "title": "长" * (MAX_STRING // 3 + 1)})


def test_members_exactly() -> None:
    item = record(4)
    item["extra"] = 1
    with pytest.raises(PackageRejected, match="members"):
        validate(item)
    item = record(5)
    del item["version"]
    with pytest.raises(PackageRejected, match="members"):
        validate(item)


def stream(items: list[dict[str, Any]], key: bytes = b"k" * 32) -> tuple[bytes, dict[str, int]]:
    from transfer.items import ALLOWED, INTERNAL_TO_PUBLIC, ItemWriter

    w = ItemWriter(key, ALLOWED[INTERNAL_TO_PUBLIC])
    framed = b"".join(w.frame(i) for i in items)
    w.take(framed)
    return framed + w.trailer(), w.counts


def read(data: bytes, counts: dict[str, int], pieces: list[int], key: bytes = b"k" * 32) -> list[dict[str, Any]]:
    from transfer.items import ALLOWED, INTERNAL_TO_PUBLIC, ItemReader

    r = ItemReader(key, ALLOWED[INTERNAL_TO_PUBLIC], counts=counts, plain=len(data), package_type="delta")
    out: list[dict[str, Any]] = []
    pos = 0
    sizes = iter(pieces)
    while pos < len(data):
        n = next(sizes, 65536)
        out.extend(r.feed(data[pos : pos + n]))
        pos += n
    r.finish()
    return out


MANIFEST = {"kind": "manifest", "policy": None, "content": None, "note": ""}


@pytest.mark.parametrize("piece", [1, 3, 4, 5, 36, 1000, 65536])
def test_the_reader_takes_the_stream_in_pieces_of_any_size(piece: int) -> None:
    big = with_row(note="长" * 21_000)  # one item spanning many pieces (63,000 bytes of UTF-8)
    items = [MANIFEST, record(1), big, *(record(i) for i in range(2, 40))]
    data, counts = stream(items)
    assert read(data, counts, [piece] * (len(data) // piece + 1)) == items


def test_the_reader_checks_the_mac_over_every_byte() -> None:
    items = [MANIFEST, *(record(i) for i in range(50))]
    data, counts = stream(items)
    with pytest.raises(PackageRejected, match="MAC"):
        read(data, counts, [777] * 1000, key=b"x" * 32)
    # a changed digit in a value: still a valid, canonical item, so only the MAC sees it
    for at in (data.index(b'"1.5"'), data.rindex(b'"1.5"')):  # the first item's and the last one's
        tampered = data[:at] + b'"1.6"' + data[at + 5 :]
        with pytest.raises(PackageRejected, match="MAC"):
            read(tampered, counts, [500] * 1000)


def test_the_reader_refuses_an_oversized_length_as_soon_as_it_is_seen() -> None:
    from transfer.items import ALLOWED, INTERNAL_TO_PUBLIC, ItemReader
    from transfer.limits import MAX_ITEM

    r = ItemReader(b"k" * 32, ALLOWED[INTERNAL_TO_PUBLIC], counts={}, plain=10**9, package_type="delta")
    length = (MAX_ITEM + 1).to_bytes(4, "big")
    assert list(r.feed(length[:2])) == []  # half a length: wait for the rest
    with pytest.raises(PackageRejected, match="exceeds"):
        list(r.feed(length[2:]))


@pytest.mark.parametrize("kind", [[], {}, 1, None])
def test_a_kind_that_is_not_a_string_is_refused_not_a_crash(kind: Any) -> None:
    with pytest.raises(PackageRejected) as err:
        validate({"kind": kind})
    assert err.value.reason == "unknown-kind"
    body = orjson.dumps({"kind": kind})
    data = len(body).to_bytes(4, "big") + body
    with pytest.raises(PackageRejected) as err:
        read(data, {}, [len(data)])
    assert err.value.reason == "unknown-kind"
