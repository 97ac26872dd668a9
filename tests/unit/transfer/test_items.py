"""Record items' schema: each rule of a row holds whatever rows came before (the checker remembers
field names it has matched, never a verdict on a value)."""

from __future__ import annotations

from typing import Any

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


def test_members_exactly() -> None:
    item = record(4)
    item["extra"] = 1
    with pytest.raises(PackageRejected, match="members"):
        validate(item)
    item = record(5)
    del item["version"]
    with pytest.raises(PackageRejected, match="members"):
        validate(item)
