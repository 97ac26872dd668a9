"""The projection's per-kind field plan gives the row the plain field-by-field rule gives: for every kind
and subject category, under the default policy and under one that masks, drops and publishes otherwise;
with values of every type, empty party fields filled from the subject, and a policy change."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from internal_node.policy import (
    CATEGORIES,
    DEFAULT_POLICY_TOML,
    FIELDS,
    KINDS,
    PARTY_KINDS,
    default_policy,
    parse_policy,
)
from internal_node.projection import PARTY_TO_SUBJECT, RENAMED, _subject_view, apply, build_row, field_plan
from tests.unit.internal_node.disclosure_samples import ADDRESS, record, subject


def reference_fields(
    kind: str, record: dict[str, Any], view: dict[str, Any], category: str, policy: Any
) -> dict[str, Any]:
    """The plain rule: each field's action looked up and applied, one field at a time."""
    row: dict[str, Any] = dict.fromkeys(
        ("subject_key", "subject_name", "subject_category", "uscc", "doc_no", "publish_until", "source_unit")
    )
    for field in FIELDS[kind]:
        name = RENAMED.get((kind, field), field)
        if name in row:
            continue
        action = policy.action(kind, field, category)
        if action.op == "drop":
            continue
        value = record.get(field)
        if value is None and kind in PARTY_KINDS and field in PARTY_TO_SUBJECT:
            value = view.get(PARTY_TO_SUBJECT[field])
        row[name] = apply(action, field, value)
    return row


OTHER_POLICY = DEFAULT_POLICY_TOML.replace('legal_rep = "publish"', 'legal_rep = "mask:name"').replace(
    'content = "publish"', 'content = "mask:full"'
)

ODD_VALUES: dict[str, Any] = {
    "fine_amount": Decimal("12.3400"), "decision_date": datetime(2026, 3, 4, 5, 6), "valid_to": " 2027-01-02 ",
    "penalty_types": "罚款、 警告", "valid_from": ["2026-01-01"], "amount": 3.25, "listed_date": date(2026, 1, 1), "address": ADDRESS,
}  # fmt: skip


@pytest.mark.parametrize("policy_text", [DEFAULT_POLICY_TOML, OTHER_POLICY])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("category", sorted(CATEGORIES))
@pytest.mark.parametrize("odd", [False, True])
def test_the_plan_gives_the_plain_rules_row(policy_text: str, kind: str, category: str, odd: bool) -> None:
    policy = parse_policy(policy_text)
    cat = "legal_person" if category == "government" else category
    rec = record(kind, cat)
    if odd:
        rec.update({k: v for k, v in ODD_VALUES.items() if k in FIELDS[kind]})
        for party_field in ("party_name", "party_uscc", "legal_rep"):
            if party_field in rec:
                rec[party_field] = None  # taken from the subject instead
    subj = None if kind == "subject" else subject(cat)
    view = _subject_view(kind, rec, subj)
    row = build_row(kind, rec, view, category, policy, date(2027, 1, 1), "0" * 32)
    expected = reference_fields(kind, rec, view, category, policy)
    assert {k: v for k, v in row.items() if k in expected and k not in _COMMON} == {
        k: v for k, v in expected.items() if k not in _COMMON
    }
    assert list(row)[7:] == [k for k in expected if k not in _COMMON], "same fields, same order"


_COMMON = {"subject_key", "subject_name", "subject_category", "uscc", "doc_no", "publish_until", "source_unit"}


def test_a_changed_policy_gets_its_own_plan() -> None:
    before = field_plan(default_policy(), "penalty", "legal_person")
    after = field_plan(parse_policy(OTHER_POLICY), "penalty", "legal_person")
    content = {s.field: s for s in before}["content"], {s.field: s for s in after}["content"]
    assert content[0].mask is None and content[1].mask is not None
