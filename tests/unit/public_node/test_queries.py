"""Lookups in the published database: by credit code, by document number, a subject's page, the red and
black list pages, record counts, and page bounds."""

from __future__ import annotations

from datetime import date

import pytest

from nodekit.runtime import Node
from public_node import store
from public_node.errors import BadQuery
from tests.unit.public_node.data import key, row, subject, upsert

pytestmark = pytest.mark.db

USCC = "91530100MA6K3XQ51A"


@pytest.fixture
def loaded(node: Node, today: date) -> Node:
    name = "昆明华兴科技有限公司"
    items = [
        subject("hx", name, uscc=USCC, legal_rep="王*"),
        upsert(
            "licence", "l1", 1, row("hx", name, uscc=USCC, doc_no="昆市监许〔2025〕7号", decision_date="2025-03-01")
        ),
        upsert(
            "licence", "l2", 1, row("hx", name, uscc=USCC, doc_no="昆市监许〔2026〕1号", decision_date="2026-01-05")
        ),
        upsert(
            "penalty", "p1", 1, row("hx", name, uscc=USCC, doc_no="昆市监罚〔2024〕12号", decision_date="2024-06-01")
        ),
        upsert("commitment", "c1", 1, row("hx", name, uscc=USCC, doc_no="53010020240601000001")),
        upsert("gov_credit", "g1", 1, row("gov", "昆明市某局", subject_category="government", doc_no="GC-1")),
        # a penalty number reused by another authority: two records, one lookup
        upsert("penalty", "p2", 1, row("other", "云南另一公司", doc_no="昆市监罚(2024)12号")),
    ]
    for i in range(7):
        items.append(
            upsert(
                "list_entry",
                f"red{i}",
                1,
                row(f"r{i}", f"守信企业{i}", list_type="red", doc_no=f"红{i}", listed_date=f"2026-0{i + 1}-15"),
            )
        )
    items.append(upsert("list_entry", "red-undated", 1, row("r9", "守信企业9", list_type="red", doc_no="红9")))
    items.append(
        upsert(
            "list_entry", "black", 1, row("hx", name, list_type="dishonest", doc_no="失信1", listed_date="2025-05-05")
        )
    )
    with node.transaction() as s:
        store.apply_changes(s, items, today=today)
    return node


def test_find_by_uscc_in_any_width_or_case(loaded: Node, today: date) -> None:
    with loaded.transaction() as s:
        for query in (USCC, USCC.lower(), " ９１５３０１００ＭＡ６Ｋ３ＸＱ５１Ａ "):
            hits = store.find_by_uscc(s, query, today=today)
            assert [(h.subject_key, h.name, h.uscc) for h in hits] == [(key("hx"), "昆明华兴科技有限公司", USCC)]
        assert store.find_by_uscc(s, "91530100MA6K3XQ51B", today=today) == []
        assert store.find_by_uscc(s, "  ", today=today) == []


def test_find_by_doc_no_ignores_bracket_style_width_and_spaces(loaded: Node, today: date) -> None:
    with loaded.transaction() as s:
        for query in ("昆市监罚〔2024〕12号", "昆市监罚[2024]12号", "昆市监罚（２０２４）１２号", "昆市监罚 2024 12号"):
            found = store.find_by_doc_no(s, query, today=today)
            assert sorted(r.key for r in found) == sorted([key("p1"), key("p2")])
        assert store.find_by_doc_no(s, "昆市监罚〔2024〕1号", today=today) == []
        assert store.find_by_doc_no(s, "〔〕", today=today) == []


def test_subject_page_groups_current_records_newest_first(loaded: Node, today: date) -> None:
    with loaded.transaction() as s:
        page = store.subject_page(s, key("hx"), today=today)
        assert store.subject_page(s, key("nobody"), today=today) is None
    assert page is not None
    assert page.subject.name == "昆明华兴科技有限公司" and page.subject.uscc == USCC
    assert page.profile is not None and page.profile.row["legal_rep"] == "王*"
    assert list(page.records) == ["licence", "penalty", "list_entry", "commitment"]
    assert [r.key for r in page.records["licence"]] == [key("l2"), key("l1")]
    assert page.records["list_entry"][0].row["list_type"] == "dishonest"


def test_list_pages_are_paginated_newest_first(loaded: Node, today: date) -> None:
    with loaded.transaction() as s:
        first = store.list_page(s, "red", today=today, limit=3)
        rest = store.list_page(s, "red", today=today, limit=3, offset=3)
        tail = store.list_page(s, "red", today=today, limit=3, offset=6)
        black = store.list_page(s, "dishonest", today=today)
    assert first.total == rest.total == tail.total == 8
    names = [r.subject_name for r in first.items + rest.items + tail.items]
    # dated entries newest first, the undated one last
    assert names == [f"守信企业{i}" for i in (6, 5, 4, 3, 2, 1, 0, 9)]
    assert [r.subject_name for r in black.items] == ["昆明华兴科技有限公司"]


def test_record_counts_per_kind(loaded: Node, today: date) -> None:
    with loaded.transaction() as s:
        assert store.record_counts(s, today=today) == {
            "subject": 1,
            "licence": 2,
            "penalty": 2,
            "list_entry": 9,
            "commitment": 1,
            "gov_credit": 1,
        }


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (101, 0), (10, -1)])
def test_page_bounds_are_checked(loaded: Node, today: date, limit: int, offset: int) -> None:
    with loaded.transaction() as s, pytest.raises(BadQuery) as err:
        store.list_page(s, "red", today=today, limit=limit, offset=offset)
    assert err.value.reason == "bad-query"
    with loaded.transaction() as s, pytest.raises(BadQuery):
        store.search(s, "华兴", today=today, limit=limit, offset=offset)
    with loaded.transaction() as s, pytest.raises(BadQuery):
        store.list_page(s, "grey", today=today)
