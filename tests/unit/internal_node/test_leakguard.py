"""The leak guard: what it catches, what it must not catch, and how it reports a finding."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from internal_node.leakguard import (
    FORMAT_RANGES,
    id15_birth_date,
    id18_birth_date,
    is_valid_uscc,
    normalise,
    scan_row,
    scan_text,
    scan_value,
)
from internal_node.validate import InvalidValue, check_resident_id
from tests.unit.internal_node.disclosure_samples import COMPANY_USCC, resident_id, uscc

ID = "11010519491231002X"  # the GB 11643 example
ID_LOWER_X = "11010519491231002x"
ID_DIGIT_CHECK = resident_id("530102", date(1985, 7, 14), "123")
ID_LEAP = resident_id("440301", date(2000, 2, 29), "017")

# (text, the rule that must fire)
CATCHES = [
    (ID, "resident-id"),
    (ID_LOWER_X, "resident-id"),
    (ID_DIGIT_CHECK, "resident-id"),
    (ID_LEAP, "resident-id"),
    (f"当事人张三（身份证号{ID}）于2026年", "resident-id"),
    (f"身份证号:{ID_DIGIT_CHECK}。", "resident-id"),
    ("１１０１０５１９４９１２３１００２Ｘ", "resident-id"),  # full-width digits
    ("110105 19491231 002X", "resident-id"),  # written in groups
    ("110105-19491231-002X", "resident-id"),
    ("1101\u200b0519491231002X", "resident-id"),  # a zero-width space does not hide it
    (f"ABC{ID}DEF", "resident-id"),  # letters around are not digits
    ("990105194912310023", "resident-id"),  # no such province, but the ingest accepts it
    ("当事人身份证号990105194912310023在现场", "resident-id"),
    (resident_id("000000", date(2099, 12, 31), "000"), "resident-id"),
    ("110105491231002", "resident-id-15"),  # legacy 15 digits, born 1949-12-31
    ("110105-491231-002", "resident-id-15"),
    ("证号530102850714123号", "resident-id-15"),
    ("机密★一年", "classification-marking"),
    ("绝密★启用前", "classification-marking"),
    ("秘密★长期", "classification-marking"),
    ("秘 密 ★ 10年", "classification-marking"),
    ("机密☆", "classification-marking"),
    ("密级：机密", "classification-marking"),
    ("密级: 内部", "classification-marking"),
    ("【内部】关于开展专项检查的通知", "classification-marking"),
    ("（内部）检查方案", "classification-marking"),
    ("〔秘密〕", "classification-marking"),
    ("〔秘密★一年〕", "classification-marking"),
    ("内部 关于印发检查方案的通知", "classification-marking"),
    ("内部\n关于印发检查方案的通知", "classification-marking"),
    ("处罚决定\n机密\n正文", "classification-marking"),  # a level standing alone on a line
    ("内部资料，注意保存", "classification-marking"),
    ("内部文件 请勿外传", "classification-marking"),
    ("仅供内部使用", "classification-marking"),
    ("本件为内部资料，请勿外传", "classification-marking"),
]

NON_CATCHES = [
    "侵犯商业秘密",  # a routine violation type
    "当事人侵犯他人商业秘密，违反《反不正当竞争法》第九条",
    "泄露国家秘密的行为",
    "违规复制绝密档案",  # a level named in a description, no marking form
    "内部控制制度不健全",
    "内部管理混乱",
    "企业内部管理制度不落实",
    "伪造企业内部文件",  # 内部文件 as a description, not standing as a marking
    "2024年度内部审计报告",
    "侵犯商业秘密（情节严重）",
    "公司内部人员",
    "秘密录音取证",
    "数据机密性保护不足",
    "五星★级酒店",
    "11010519491231002Y",  # wrong check character
    "110105194912310021",  # wrong check character
    "11010519491331002X",  # 13th month
    "110105194902300022",  # 30 February
    "99010519491231002X",  # wrong check character for region 990105
    "990105491231002",  # legacy 15 digits without a province code (the ingest refuses it too)
    "订单号000000491231002",  # no check digit, no province: an order number, not a legacy ID
    "110105194912310021X2",  # part of a longer number
    "6222021234567890123",  # a 19-digit bank card
    "13812345678",  # a phone number
    "110105********002X",  # already masked
    "530100000012345",  # 15 digits whose month would be 00
    "91350100M000100Y43",  # a USCC in free text
    "罚款金额 123456.78 万元",
    "",
]


@pytest.mark.parametrize(("text", "rule"), CATCHES)
def test_catches(text: str, rule: str) -> None:
    hits = scan_text(text)
    assert [h.rule for h in hits] == [rule], hits


@pytest.mark.parametrize("text", NON_CATCHES)
def test_non_catches(text: str) -> None:
    assert scan_text(text) == []


def test_the_table_is_big_enough() -> None:
    assert len(CATCHES) >= 15
    assert len(NON_CATCHES) >= 15


def test_structure_checks() -> None:
    assert id18_birth_date(ID) == date(1949, 12, 31)
    assert id18_birth_date(ID_LEAP) == date(2000, 2, 29)
    assert id18_birth_date(resident_id("110105", date(1899, 12, 31), "001")) is None  # before 1900
    assert id18_birth_date(resident_id("110105", date(2100, 1, 1), "001")) is None  # after 2099
    assert id15_birth_date("110105491231002") == date(1949, 12, 31)
    assert id15_birth_date("110105490229002") is None  # 1949 was not a leap year
    assert is_valid_uscc("91350100M000100Y43") and is_valid_uscc("91350200776049653A")
    assert not is_valid_uscc("91350100M000100Y44")
    assert not is_valid_uscc(ID)


def test_a_found_id_number_is_reported_masked() -> None:
    [hit] = scan_text(f"身份证号{ID}")
    assert ID not in hit.description
    assert "110105********002X" in hit.description


def test_uscc_fields_hold_codes_not_id_numbers() -> None:
    # an all-digit USCC whose shape is also a resident ID is no finding in a USCC-typed field …
    code = next(c for c in (uscc(f"11010519491231{i:03d}") for i in range(1000)) if id18_birth_date(c))
    for field in ("uscc", "party_uscc", "authority_uscc", "source_unit_uscc", "department_uscc", "counterparty_uscc"):
        assert scan_value(field, code) == []
    # … but is one anywhere else, and an ID number in a USCC field (not a valid USCC) is caught
    assert [h.rule for h in scan_value("remarks", code)] == ["resident-id"]
    assert [h.rule for h in scan_value("party_uscc", ID)] == ["resident-id"]
    assert scan_value("uscc", COMPANY_USCC) == []


def test_registration_numbers_are_exempt_from_the_legacy_rule_only() -> None:
    assert [h.rule for h in scan_value("remarks", "110105491231002")] == ["resident-id-15"]
    assert scan_value("party_reg_no", "110105491231002") == []
    assert [h.rule for h in scan_value("party_reg_no", ID)] == ["resident-id"]


def test_integers_are_scanned_too() -> None:
    assert [h.rule for h in scan_value("fine_amount", 110105491231002)] == ["resident-id-15"]
    assert scan_value("fine_amount", None) == []


def test_scan_row_reports_kind_key_and_field() -> None:
    row = {"decision_no": "昆市监罚〔2026〕1号", "violation_facts": f"身份证{ID}", "remarks": "机密★一年"}
    findings = scan_row("penalty", "abc123", row)
    assert [(f.kind, f.key, f.field, f.rule) for f in findings] == [
        ("penalty", "abc123", "violation_facts", "resident-id"),
        ("penalty", "abc123", "remarks", "classification-marking"),
    ]
    line = str(findings[0])
    assert line.startswith("penalty abc123: field violation_facts: resident ID number 110105")
    assert ID not in line and "\n" not in line
    assert findings[1].document()["field"] == "remarks"


def test_every_hit_in_a_text_is_reported() -> None:
    text = f"{ID}与{ID_DIGIT_CHECK}，【内部】"
    assert sorted(h.rule for h in scan_text(text)) == ["classification-marking", "resident-id", "resident-id"]


def test_every_format_character_is_removed() -> None:
    # the list in leakguard is fixed for speed; this notices a newer Unicode adding format characters
    import sys
    import unicodedata

    covered = {c for a, b in FORMAT_RANGES for c in range(a, b + 1)}
    known = {c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"}
    assert known <= covered
    assert normalise("1101\u200b05\u202e１２\ufeff") == "11010512"
    assert normalise("plain ascii") == "plain ascii"


@given(
    st.text("0123456789", min_size=6, max_size=6), st.dates(date(1880, 1, 1), date(2200, 12, 31)), st.integers(0, 999)
)
def test_every_id_number_the_ingest_accepts_is_caught(region: str, born: date, seq: int) -> None:
    # the ingest accepts 18 characters of any region, so the guard must too (the rule)
    number = resident_id(region, born, f"{seq:03d}")
    legacy = f"{region}{born:%y%m%d}{seq:03d}"
    for candidate, rule in ((number, "resident-id"), (legacy, "resident-id-15")):
        try:
            check_resident_id(candidate)
        except InvalidValue:
            continue  # refused at ingest (no province for 15 digits, a year outside 1900-2099)
        assert [h.rule for h in scan_text(f"当事人身份证号{candidate}在现场")] == [rule], candidate
