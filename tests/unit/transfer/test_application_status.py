"""The ``application-status`` kind (FORMAT.md §10.6): the internal node's acknowledgement of a binding request
or an application, with the time it was received and its due date. One good shape, each bad one refused
``bad-schema``; a public node may not send it, a format-1 package may not carry it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.vectors.format2 import application_status
from transfer.errors import PackageRejected
from transfer.items import ALLOWED, INTERNAL_TO_PUBLIC, PUBLIC_TO_INTERNAL, ItemWriter, allowed_kinds, validate


@pytest.mark.parametrize("typ", ["binding", "objection", "repair", "complaint"])
def test_an_acknowledgement_of_each_type_is_accepted(typ: str) -> None:
    validate(application_status(type=typ))


def test_due_on_the_day_received_is_accepted() -> None:
    validate(application_status(received="2026-11-26T23:59:59Z", due="2026-11-26"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "0D" * 16}, "id must be 32 lowercase hex digits"),
        ({"id": "0d" * 15}, "id must be 32 lowercase hex digits"),
        ({"id": None}, "id must be 32 lowercase hex digits"),
        ({"type": "appeal"}, "type 'appeal' is not one of"),
        ({"type": None}, "type None is not one of"),
        ({"received": "2026-11-26 06:00:00"}, "received"),
        ({"received": "2026-11-26T06:00:00+08:00"}, "received"),
        ({"received": 1_795_680_000}, "received"),
        ({"due": "2026-12-9"}, "due must be a YYYY-MM-DD calendar date"),
        ({"due": "2026-02-30"}, "due must be a YYYY-MM-DD calendar date"),
        ({"due": "2026-12-09\n"}, "due must be a YYYY-MM-DD calendar date"),
        ({"due": "２026-12-09"}, "due must be a YYYY-MM-DD calendar date"),
        ({"due": "2026-12-09T00:00:00Z"}, "due must be a YYYY-MM-DD calendar date"),
        ({"due": None}, "due must be a YYYY-MM-DD calendar date"),
        ({"due": "2026-11-25"}, "due is before the day the application was received"),
    ],
)
def test_a_bad_acknowledgement_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(PackageRejected, match=message) as err:
        validate(application_status(**changes))
    assert err.value.reason == "bad-schema"


@pytest.mark.parametrize(
    "members",
    [
        {"note": "x"},  # an extra member
        {"decided": "2026-11-26T06:00:00Z"},
    ],
)
def test_members_exactly(members: dict[str, Any]) -> None:
    with pytest.raises(PackageRejected, match="members") as err:
        validate({**application_status(), **members})
    assert err.value.reason == "bad-schema"


def test_a_missing_member_is_refused() -> None:
    item = application_status()
    del item["due"]
    with pytest.raises(PackageRejected, match="members") as err:
        validate(item)
    assert err.value.reason == "bad-schema"


def test_only_the_internal_node_sends_it_and_only_in_format_2() -> None:
    assert "application-status" in allowed_kinds(INTERNAL_TO_PUBLIC, 2)
    assert "application-status" not in allowed_kinds(INTERNAL_TO_PUBLIC, 1)
    assert "application-status" not in allowed_kinds(PUBLIC_TO_INTERNAL, 2)
    with pytest.raises(PackageRejected) as err:
        ItemWriter(b"k" * 32, ALLOWED[PUBLIC_TO_INTERNAL]).frame(application_status())
    assert err.value.reason == "kind-not-allowed"
    with pytest.raises(PackageRejected) as err:
        ItemWriter(b"k" * 32, allowed_kinds(INTERNAL_TO_PUBLIC, 1)).frame(application_status())
    assert err.value.reason == "unknown-kind"
    assert ItemWriter(b"k" * 32, allowed_kinds(INTERNAL_TO_PUBLIC, 2)).frame(application_status())
