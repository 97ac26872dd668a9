"""The reader accepts a record item exactly when the plain rule does (canonical encoding of the subset,
then the record schema), although for records it checks the schema first and compares bytes only."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import canonical
from keys.errors import EncodingError
from transfer.errors import PackageRejected
from transfer.items import ALLOWED, INTERNAL_TO_PUBLIC, ItemReader, validate

MANIFEST = orjson.dumps({"content": None, "kind": "manifest", "note": "", "policy": None}, option=orjson.OPT_SORT_KEYS)

values = st.one_of(
    st.none(), st.booleans(), st.text(max_size=4), st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**60), max_value=2**60), st.sampled_from([2**53 - 1, 2**53, -(2**53 - 1), -(2**53)]),
    st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(0, 3), max_size=2),
)  # fmt: skip
names = st.one_of(st.sampled_from(["fine_amount", "note", "count", "a1"]), st.text(max_size=4))
common = {
    "subject_key": "0" * 32, "subject_name": "昆明", "subject_category": "legal_person", "uscc": None,
    "doc_no": None, "publish_until": None, "source_unit": "x",
}  # fmt: skip


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A valid record, then one change that may or may not break it."""
    item: dict[str, Any] = {
        "kind": "record", "op": "upsert", "table": "penalty", "key": "a" * 32, "version": 3,
        "row": {**common, "fine_amount": "1.5"},
    }  # fmt: skip
    if draw(st.booleans()):
        del item["row"]
        item["op"], item["reason"] = "withdraw", "expired"
    change = draw(st.sampled_from(["none", "row", "row", "version", "member"]))
    if change == "row" and "row" in item:
        item["row"][draw(names)] = draw(values)
    elif change == "version":
        item["version"] = draw(values)
    elif change == "member":
        item[draw(names)] = draw(values)
    return item


def plain_rule(body: bytes) -> bool:
    item = orjson.loads(body)
    try:
        if canonical.encode(item) != body:
            return False
        validate(item)
    except (EncodingError, PackageRejected):
        return False
    return True


def reader_accepts(body: bytes) -> bool:
    framed = len(MANIFEST).to_bytes(4, "big") + MANIFEST + len(body).to_bytes(4, "big") + body
    r = ItemReader(b"k" * 32, ALLOWED[INTERNAL_TO_PUBLIC], counts={"manifest": 1, "record": 1}, plain=10**6,
                   package_type="delta")  # fmt: skip
    try:
        list(r.feed(framed))
    except PackageRejected:
        return False
    return True


@settings(max_examples=500)
@given(records(), st.booleans())
def test_the_reader_and_the_plain_rule_agree_on_records(item: dict[str, Any], sort: bool) -> None:
    body = orjson.dumps(item, option=orjson.OPT_SORT_KEYS if sort else 0)
    assert reader_accepts(body) == plain_rule(body)
