"""The leak guard's fast pre-check never hides a finding: whenever the full per-field guard finds
something in a row, the pre-check over the row's serialised form says "look"."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from internal_node import leakguard
from internal_node.leak_table import TABLE, generate

EXAMPLES = int(os.environ.get("CREDGAP_HYPOTHESIS_EXAMPLES", "300"))

# characters that matter to the guard, their full-width and compatibility forms, separators,
# format characters, and ordinary CJK text around them
pieces = st.sampled_from(
    list("0123456789Xx -｜|") + list("０１２３４５６７８９Ｘ－　") + ["①", "²", "𝟏", "\u200b", "\u200d", "\ufeff", "\u00ad"]
    + ["密", "部", "内部", "绝密★", "机密★一年", "秘密", "商业秘密", "【内部】", "（内部）", "（机密）", "内部控制", "身份证号"]
    + ["昆明", "有限公司", "，", "（", "）", "\n", "仅供内部使用", "密级：", "内部资料", "企业", "★", "\u3000"]
    + ["110105", "19491231", "002X", "11010519491231002X", "110105491231002", "91350100M000100Y43"]
    + ["990105194912310023", "990105", "0023", "00000020991231000X"]
)  # fmt: skip
texts = st.lists(pieces, max_size=12).map("".join)
fields = st.sampled_from(["content", "violation_facts", "uscc", "party_reg_no", "subject_name", "remarks", "doc_no"])
rows = st.dictionaries(fields, st.one_of(texts, st.integers(0, 10**18), st.none()), max_size=5)


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(rows)
def test_precheck_is_a_superset_of_the_full_guard(row: dict[str, object]) -> None:
    full = [
        f for field, value in row.items() for f in leakguard.scan_value(field, value)
    ]  # the per-field guard, without the pre-check scan_row applies
    joined = "\n".join(str(v) for v in row.values() if v is not None)
    if full:
        assert leakguard.text_may_leak(joined), (row, full)
        assert leakguard.scan_row("penalty", "k", row), "scan_row must not lose what the fields hold"


def test_precheck_table_matches_this_pythons_unicode_database() -> None:
    assert generate() == TABLE, "regenerate with: python -m internal_node.leak_table"
