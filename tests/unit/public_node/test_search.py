"""Search by name or credit code: Chinese queries of 1 to 4+ characters, Latin and digits, full-width
and case folding, fail-safe expiry, ranking and pages. The expected results are written out, so the
same fixture data gives the same answers on SQLite and on PostgreSQL (this file runs on both)."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest

from nodekit.runtime import Node
from public_node import store
from public_node.errors import BadQuery
from public_node.search import normalise, pg_tsquery, search_code, sqlite_match, subject_tokens, text_tokens
from tests.unit.public_node.data import key, row, subject, upsert

pytestmark = pytest.mark.db

SUBJECTS: list[tuple[str, str, str, str | None]] = [
    # label, name, category, uscc
    ("hx", "昆明华兴科技有限公司", "legal_person", "91530100MA6K3XQ51A"),
    ("hx2", "华兴", "legal_person", None),
    ("hx3", "云南华兴商贸有限责任公司", "legal_person", "91530000MA6N2QK67X"),
    ("xh", "昆明兴华建筑工程有限公司", "legal_person", "91530100216512345B"),
    ("hw", "华为技术有限公司", "legal_person", "914403001922038216"),
    ("bd", "北京字节跳动科技有限公司", "legal_person", "91110108MA01F37T6R"),
    ("zh", "张*", "natural_person", None),  # a masked natural person
    ("zsf", "张三丰餐饮店", "individual_business", "92530102MA6L1Y2P3K"),
    ("abc", "ＡＢＣ（昆明）科技有限公司", "legal_person", "91530100MA6P9ABC1X"),
    ("abc2", "abc Technology Co., Ltd.", "legal_person", None),
    ("apple", "Apple Inc.", "legal_person", None),
    ("biang", "𰻝𰻝面馆", "individual_business", None),  # CJK Extension G (Unicode 13)
    ("haha", "哈哈哈食品店", "individual_business", None),
    ("gov", "昆明市五华区人民政府", "government", "11530102015190231T"),
    ("gone", "昆明华兴物流有限公司", "legal_person", None),  # only an expired record
    ("last", "华兴最后一天公司", "legal_person", None),  # publish_until is today
]


def names(hits: Any) -> list[str]:
    return [h.name for h in hits.items]


@pytest.fixture
def searchable(node: Node, today: date) -> Node:
    earlier = date(2024, 1, 1)
    items: list[dict[str, Any]] = []
    for label, name, category, uscc in SUBJECTS:
        if label in ("gone", "last"):
            continue
        items.append(subject(label, name, subject_category=category, uscc=uscc))
    # "gone" is published only through a penalty whose period ended yesterday; applied on an
    # earlier day, it is still in the database, and must be hidden by the query itself.
    items.append(upsert("penalty", "gone-p", 1, row("gone", "昆明华兴物流有限公司", publish_until="2026-11-25")))
    items.append(upsert("penalty", "last-p", 1, row("last", "华兴最后一天公司", publish_until="2026-11-26")))
    with node.transaction() as s:
        store.apply_changes(s, items, today=earlier)
    return node


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # 2 characters: the exact name first, then by length; not 兴华 (reversed), not the expired one
        ("华兴", ["华兴", "华兴最后一天公司", "昆明华兴科技有限公司", "云南华兴商贸有限责任公司"]),
        ("兴华", ["昆明兴华建筑工程有限公司"]),
        ("字节", ["北京字节跳动科技有限公司"]),
        ("政府", ["昆明市五华区人民政府"]),
        # 3 and 4 characters
        ("华兴科", ["昆明华兴科技有限公司"]),
        ("华兴科技", ["昆明华兴科技有限公司"]),
        ("字节跳动", ["北京字节跳动科技有限公司"]),
        ("科技有限", ["昆明华兴科技有限公司", "ＡＢＣ（昆明）科技有限公司", "北京字节跳动科技有限公司"]),
        ("技术有限公司", ["华为技术有限公司"]),
        ("昆明华兴科技有限公司", ["昆明华兴科技有限公司"]),
        ("华兴科技有限公司昆明", []),
        # 1 character: every name containing it, the exact name first, then names starting with it
        ("张", ["张*", "张三丰餐饮店"]),
        (
            "兴",
            [
                "华兴",
                "华兴最后一天公司",
                "昆明华兴科技有限公司",
                "云南华兴商贸有限责任公司",
                "昆明兴华建筑工程有限公司",
            ],
        ),
        ("店", ["哈哈哈食品店", "张三丰餐饮店"]),  # same length: code point order
        # a masked name does not give away more than it shows
        ("张三", ["张三丰餐饮店"]),
        # repeated bigrams
        ("哈哈", ["哈哈哈食品店"]),
        ("哈哈哈", ["哈哈哈食品店"]),
        ("哈哈哈哈", []),
        # characters added to Unicode after 6.1 are letters like any other
        ("𰻝𰻝", ["𰻝𰻝面馆"]),
        ("𰻝面", ["𰻝𰻝面馆"]),
        # Latin: case, width and punctuation do not matter
        ("abc", ["ＡＢＣ（昆明）科技有限公司", "abc Technology Co., Ltd."]),
        ("ABC", ["ＡＢＣ（昆明）科技有限公司", "abc Technology Co., Ltd."]),
        ("ａｂｃ", ["ＡＢＣ（昆明）科技有限公司", "abc Technology Co., Ltd."]),
        ("technology", ["abc Technology Co., Ltd."]),
        ("Co., Ltd", ["abc Technology Co., Ltd."]),
        ("apple", ["Apple Inc."]),
        ("APPLE INC", ["Apple Inc."]),
        ("c昆明", ["ＡＢＣ（昆明）科技有限公司"]),
        (
            "(昆明)",
            ["昆明华兴科技有限公司", "昆明市五华区人民政府", "昆明兴华建筑工程有限公司", "ＡＢＣ（昆明）科技有限公司"],
        ),
        # credit codes, whole (exact match first) or in part, any case or width
        ("91530100MA6K3XQ51A", ["昆明华兴科技有限公司"]),
        ("91530100ma6k3xq51a", ["昆明华兴科技有限公司"]),
        ("９１５３０１００ＭＡ６Ｋ３ＸＱ５１Ａ", ["昆明华兴科技有限公司"]),
        ("91530100", ["昆明华兴科技有限公司", "ＡＢＣ（昆明）科技有限公司", "昆明兴华建筑工程有限公司"]),
        ("9111", ["北京字节跳动科技有限公司"]),
        ("0108", []),  # a code is searched from its start
        ("3xq51a", []),
        # nothing searchable
        ("", []),
        ("（ ）*", []),
    ],
)
def test_search_results(searchable: Node, today: date, query: str, expected: list[str]) -> None:
    with searchable.transaction() as s:
        page = store.search(s, query, today=today, limit=50)
    assert names(page) == expected
    assert page.total == len(expected)


def test_expired_subjects_come_back_only_on_earlier_days(searchable: Node) -> None:
    with searchable.transaction() as s:
        assert "昆明华兴物流有限公司" in names(store.search(s, "物流", today=date(2026, 11, 25)))
        assert names(store.search(s, "物流", today=date(2026, 11, 26))) == []
        assert names(store.search(s, "最后一天", today=date(2026, 11, 27))) == []


def test_pages_of_a_search(searchable: Node, today: date) -> None:
    with searchable.transaction() as s:
        full = names(store.search(s, "有限", today=today, limit=50))
        pages = [store.search(s, "有限", today=today, limit=4, offset=o) for o in (0, 4)]
        beyond = store.search(s, "有限", today=today, limit=4, offset=30)
    assert len(full) == 6
    assert [len(p.items) for p in pages] == [4, 2]
    assert [n for p in pages for n in names(p)] == full
    assert {p.total for p in pages} == {6}
    assert beyond.items == [] and beyond.total == 6


def test_over_long_queries_are_refused(searchable: Node, today: date) -> None:
    with searchable.transaction() as s, pytest.raises(BadQuery):
        store.search(s, "华" * 65, today=today)
    with searchable.transaction() as s:
        assert store.search(s, "华" * 64, today=today).total == 0


def test_query_syntax_of_each_engine() -> None:
    assert normalise("ＡＢＣ（昆明）Co., Ltd.") == "abc昆明coltd"
    assert text_tokens("华兴科技") == ["华兴", "兴科", "科技", "技"]
    assert subject_tokens("华兴", "91530100") == ("华兴", "兴", "91530100")
    assert sqlite_match("华兴科技") == '"华兴 兴科 科技"'
    assert sqlite_match("9153ab") == '"91 15 53 3a ab" OR "9153ab"*'
    assert sqlite_match("华") == '"华"*'
    assert pg_tsquery("华兴科技") == "'华兴' <-> '兴科' <-> '科技'"
    assert pg_tsquery("9153ab") == "('91' <-> '15' <-> '53' <-> '3a' <-> 'ab') | '9153ab':*"
    assert pg_tsquery("华") == "'华':*"


def _reference(rows: list[tuple[str, str, str | None]], query: str) -> list[str]:
    """What search must return, computed in Python: the normalised name contains the query, or the
    normalised code starts with it."""
    q = normalise(query)
    if not q:
        return []
    hits = []
    for subject_key, name, code in rows:
        n, c = normalise(name), search_code(code)
        if q in n or (c and c.startswith(q)):
            rank = 0 if q in (n, c) else 1 if n.startswith(q) or c.startswith(q) else 2
            hits.append(((rank, len(n), n, subject_key), name))
    return [name for _, name in sorted(hits)]


def test_search_agrees_with_a_reference_on_random_names(node: Node, today: date) -> None:
    """Many overlapping names over a small alphabet, queries of 1 to 5 characters: the index answers
    exactly what a containment test over every name (and a prefix test over every code) answers,
    in the same order."""
    rnd = random.Random(20261126)
    alphabet = "华兴昆明云南科技商贸有限公司中国ＡBｃ1２"
    rows = []
    items = []
    for i in range(400):
        name = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 9)))
        code = None if i % 3 else f"9153{i:014d}"
        rows.append((key(f"r{i}"), name, code))
        items.append(subject(f"r{i}", name, uscc=code))
    with node.transaction() as s:
        store.apply_changes(s, items, today=today)
    queries = [rnd.choice(alphabet) for _ in range(10)]
    queries += ["".join(rnd.choice(alphabet) for _ in range(n)) for n in (2, 2, 2, 3, 3, 3, 4, 4, 5) for _ in range(4)]
    queries += [name[1:4] for _, name, _ in rows[:20]] + ["1", "9", "91", "9153000", "00000", "153000"]
    with node.transaction() as s:
        for query in queries:
            expected = _reference(rows, query)
            got: list[str] = []
            offset = 0
            while True:
                page = store.search(s, query, today=today, limit=100, offset=offset)
                got += names(page)
                offset += 100
                if offset >= page.total:
                    break
            assert got == expected, query
