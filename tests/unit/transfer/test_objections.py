"""Objections (public → internal) and their resolutions (internal → public): schemas and directions
(docs/FORMAT.md §10.2, §10.3). Nodes do not act on them yet; the format fixes them now."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.transfer.conftest import Pair, open_all, record
from transfer.errors import PackageRejected
from transfer.items import (
    ALLOWED,
    INTERNAL_TO_PUBLIC,
    MAX_OBJECTION_TEXT,
    PUBLIC_TO_INTERNAL,
    ItemWriter,
    validate,
)

MANIFEST = {"kind": "manifest", "policy": None, "content": None, "note": ""}


def objection(**changes: Any) -> dict[str, Any]:
    item = {
        "kind": "objection", "id": "0b" * 16, "table": "penalty", "key": "1" * 32, "version": 3,
        "submitted": "2026-11-20T09:30:00Z", "category": "inaccurate",
        "statement": "处罚决定已被复议撤销，请更正。", "contact": "138****5678",
    }  # fmt: skip
    item.update(changes)
    return item


def resolution(**changes: Any) -> dict[str, Any]:
    item = {
        "kind": "objection-resolution", "id": "0b" * 16, "table": "penalty", "key": "1" * 32,
        "decision": "upheld", "decided": "2026-11-24T16:00:00Z", "reason": "经核实，原处罚决定已撤销，记录已撤下。",
    }  # fmt: skip
    item.update(changes)
    return item


def test_good_objections_and_resolutions_pass() -> None:
    validate(objection())
    validate(objection(contact=None, category="repair", statement="x" * MAX_OBJECTION_TEXT))
    validate(objection(contact="张*", table="gov_credit"))
    for decision in ("upheld", "partially-upheld", "rejected", "not-accepted"):
        validate(resolution(decision=decision))


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (objection(id="0B" * 16), "id must be lowercase hex"),
        (objection(table="users"), "table 'users' is not one of"),
        (objection(table=["penalty"]), "table"),  # unhashable: refused, not a TypeError
        (objection(key="1" * 31), "key must be lowercase hex"),
        (objection(version=0), "version must be an integer"),
        (objection(submitted="2026-11-20 09:30:00"), "submitted must be a UTC time"),
        (objection(submitted="2026-02-30T09:30:00Z"), "submitted is not a valid time"),
        (objection(category="angry"), "category 'angry' is not one of"),
        (objection(category={}), "category"),
        (objection(statement="   "), "statement must be a non-blank string"),
        (objection(statement="异" * (MAX_OBJECTION_TEXT // 3 + 1)), "at most 16384 bytes"),
        (objection(contact="13812345678"), "contact must be null or a masked hint"),  # not masked at all
        (objection(contact="138****5678 13812345678"), "masked hint"),  # a full number beside a masked one
        (objection(contact="530102199001011234*"), "masked hint"),  # a full ID number
        (objection(contact="*" * 65), "masked hint"),
        (objection(contact=5), "masked hint"),
        ({**objection(), "phone": "13812345678"}, "members"),
        ({k: v for k, v in objection().items() if k != "contact"}, "members"),
        (resolution(decision="maybe"), "decision 'maybe' is not one of"),
        (resolution(decided=1795680000), "decided must be a UTC time"),
        (resolution(reason=""), "reason must be a non-blank string"),
        (resolution(table="document"), "table"),
        ({**resolution(), "version": 2}, "members"),
    ],
)
def test_bad_objection_items_are_bad_schema(item: dict[str, Any], message: str) -> None:
    with pytest.raises(PackageRejected, match=message) as err:
        validate(item)
    assert err.value.reason == "bad-schema"


def test_each_kind_travels_in_one_direction_only() -> None:
    to_internal = ItemWriter(b"k" * 32, ALLOWED[PUBLIC_TO_INTERNAL])
    to_public = ItemWriter(b"k" * 32, ALLOWED[INTERNAL_TO_PUBLIC])
    assert to_internal.frame(objection())
    assert to_public.frame(resolution())
    for writer, item in ((to_public, objection()), (to_internal, resolution())):
        with pytest.raises(PackageRejected) as err:
            writer.frame(item)
        assert err.value.reason == "kind-not-allowed"


def test_an_objection_round_trips_to_the_internal_node(pair: Pair) -> None:
    # objections are a return package's content: no heartbeat is needed beside them
    items = [MANIFEST, objection(), objection(id="0c" * 16, category="repair", contact=None)]
    data, sealed = pair.seal(items, from_public=True)
    assert sealed.header.counts == {"manifest": 1, "checkpoint": 1, "objection": 2}
    assert open_all(data, pair.internal_ctx()) == items


def test_a_resolution_round_trips_to_the_public_node(pair: Pair) -> None:
    withdrawn = {**record(1), "op": "withdraw", "reason": "objection-upheld"}
    del withdrawn["row"]
    items = [MANIFEST, resolution(key=withdrawn["key"]), withdrawn]
    data, _ = pair.seal(items)
    assert open_all(data, pair.public_ctx()) == items
