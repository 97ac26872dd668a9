"""The masking rules: each field class, and the behaviour on short, empty and odd values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from internal_node.masking import (
    HIDDEN,
    RULES,
    mask_address,
    mask_bank_account,
    mask_full,
    mask_id_number,
    mask_name,
    mask_phone,
)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("11010519491231002X", "110105********002X"),
        ("11010519491231002x", "110105********002X"),  # check character folded to upper case
        (" 110105 19491231 002X ", "110105********002X"),  # spaces inside removed first
        ("１１０１０５１９４９１２３１００２Ｘ", "110105********002X"),  # full-width folded
        ("110105491231002", "110105*****1002"),  # legacy 15 digits: 6 + 4 kept, 5 hidden
        ("E12345678", "E1*****78"),  # passport: 2 + 2 kept
        ("H1234567", "H1****67"),
        ("1234567", HIDDEN),  # too short to show partly
        ("", ""),
        (None, None),
    ],
)
def test_id_number(raw: str | None, masked: str | None) -> None:
    assert mask_id_number(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("张三", "张*"),
        ("张三丰", "张**"),
        ("欧阳修", "欧阳*"),
        ("欧阳娜娜", "欧阳**"),
        ("司马相如", "司马**"),
        ("诸葛亮", "诸葛*"),
        ("欧阳", "欧*"),  # two characters: surname 欧 + given name 阳
        ("爱新觉罗溥仪", "爱新觉罗**"),
        ("买买提·艾力", "买**·**"),
        ("John Smith", "J*** *****"),
        ("  李四  ", "李*"),
        ("张", "*"),
        ("", ""),
        (None, None),
    ],
)
def test_name(raw: str | None, masked: str | None) -> None:
    assert mask_name(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138-1234-5678", "138-****-5678"),
        ("+86 138 1234 5678", "+86 138 **** 5678"),
        ("0871-64123456", "087*-****3456"),
        (13812345678, "138****5678"),  # a number stored as an integer
        ("12345", HIDDEN),
        ("", ""),
        (None, None),
    ],
)
def test_phone(raw: object, masked: str | None) -> None:
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("云南省昆明市五华区护国路88号", "云南省昆明市五华区"),
        ("北京市朝阳区建国路1号院", "北京市朝阳区"),
        ("上海市浦东新区张江路100号", "上海市浦东新区"),
        ("广西壮族自治区南宁市青秀区民族大道1号", "广西壮族自治区南宁市青秀区"),
        ("云南省昆明市安宁市连然街道金方路12号", "云南省昆明市安宁市"),
        ("云南省昆明市安宁市某某小区5栋", "云南省昆明市安宁市"),  # never cut after 小区
        ("湖北省恩施土家族苗族自治州恩施市舞阳坝街道", "湖北省恩施土家族苗族自治州恩施市"),
        ("五华区护国路", "五华区"),
        ("护国路88号", HIDDEN),  # no division at all
        ("某某小区3栋", HIDDEN),
        ("", ""),
        (None, None),
    ],
)
def test_address(raw: str | None, masked: str | None) -> None:
    assert mask_address(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("6222021234567890123", "****0123"),
        ("6222 0212 3456 7890", "****7890"),
        ("1234567", HIDDEN),
        ("", ""),
        (None, None),
    ],
)
def test_bank_account(raw: str | None, masked: str | None) -> None:
    assert mask_bank_account(raw) == masked


def test_full_hides_everything_with_a_fixed_length() -> None:
    assert mask_full("a") == mask_full("a much longer value") == HIDDEN
    assert mask_full("") == ""
    assert mask_full(None) is None


ODD_VALUES: list[object] = [
    "",
    " ",
    "\x00",
    "\u200b",
    "★",
    "-" * 40,
    "X" * 1000,
    0,
    -1,
    10**30,
    1.5,
    float("nan"),
    Decimal("1E+5"),
    True,
    date(2026, 1, 1),
    b"bytes",
    ["a", "b"],
    {"a": 1},
    object(),
]


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("value", ODD_VALUES, ids=lambda v: type(v).__name__)
def test_rules_are_total(rule: str, value: object) -> None:
    masked = RULES[rule](value)
    assert masked is None or isinstance(masked, str)


@pytest.mark.parametrize("rule", ["id_number", "phone", "bank_account", "full"])
def test_masked_values_never_hold_the_raw_value(rule: str) -> None:
    for raw in ("11010519491231002X", "13812345678", "6222021234567890123"):
        assert raw not in (RULES[rule](raw) or "")


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("A1234567890123", "A1**********23"),  # 14 characters: still a document number, 2 + 2 kept
        ("A12345678901234", "A12345*****1234"),  # 15: the ID-number rule, 6 + 4 kept
        ("A123456789012", "A1*********12"),  # 13
        ("A1234567890123456", "A12345*******3456"),  # 17
    ],
)
def test_id_number_masking_switches_rule_between_14_and_15_characters(raw: str, masked: str) -> None:
    """Issue 13, case 25: the boundary between the two rules, from both sides (a 15-character legacy
    ID pinned it from above only, so ``>= 14`` would have passed)."""
    assert mask_id_number(raw) == masked


@pytest.mark.parametrize(
    ("rule", "raw", "masked"),
    [
        (mask_phone, "12345678", "123*5678"),  # 8 digits: the shortest shown partly
        (mask_phone, "1234567", HIDDEN),
        (mask_bank_account, "12345678", "****5678"),  # 8 characters: the shortest shown partly
        (mask_bank_account, "1234567", HIDDEN),
        (mask_address, "人民路", HIDDEN),  # no division at all
        (mask_address, "市中区人民路", HIDDEN),  # starts with a division word: no name before it
        (mask_address, "一二三四五六七八市九区十路", "一二三四五六七八市九区"),  # a name of 8 characters
        (mask_address, "一二三四五六七八九市十区", HIDDEN),  # 9: street text, not a division name
        (mask_address, "云南省昆明市五华区华山西路市场", "云南省昆明市五华区"),  # the county level ends it
        (mask_address, "云南省大理州宾川县金牛镇市场", "云南省大理州宾川县"),
        (mask_address, "内蒙古自治区阿拉善盟阿拉善左旗巴彦浩特镇市场", "内蒙古自治区阿拉善盟阿拉善左旗"),
        (mask_address, "云南省玉溪市峨山彝族自治县双江街道市场", "云南省玉溪市峨山彝族自治县"),
        (mask_address, "内蒙古自治区呼伦贝尔市鄂温克族自治旗巴彦托海镇市场", "内蒙古自治区呼伦贝尔市鄂温克族自治旗"),
        (
            mask_address,
            "一二三四五省一二三四五市一二三四五州一二三四五区路",
            "一二三四五省一二三四五市一二三四五州一二三四五区",
        ),
        (mask_address, "一二三四五六省一二三四五市一二三四五州一二三四五区路", HIDDEN),  # 25 characters kept
        (mask_address, "云南省昆明市第3区", HIDDEN),  # a digit in the kept part
    ],
)
def test_masking_rules_at_their_boundaries(rule: Any, raw: str, masked: str) -> None:
    """The disclosure rules at each edge ``make mutate`` found unpinned (docs/SECURITY.md, "Mutation
    testing"): the shortest value shown partly, the county level that ends an address, the longest
    division name and kept part."""
    assert rule(raw) == masked
