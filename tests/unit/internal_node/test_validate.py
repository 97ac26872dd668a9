"""The pure validators of department data: identifiers, dates, amounts, enumerations and text."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from internal_node import validate as v
from internal_node import vocab
from internal_node.sample_data import make_resident_id, make_uscc
from internal_node.validate import InvalidValue, Problem
from nodekit import i18n


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91350200776049653A", "91350100m000100y43"])
def test_uscc_examples_of_the_standard_pass(code: str) -> None:
    assert v.check_uscc(code) == code.upper()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("91350100M000100Y44", "check character is 4, expected 3"),
        ("91350100M000100Y4", "must be 18 characters, got 17"),
        ("91350100M0001O0Y43", "outside the GB 32100 alphabet: O"),
        ("9135010IM000100Y43", "outside the GB 32100 alphabet: I"),
        ("91350100M000S00Y43", "outside the GB 32100 alphabet: S"),
        ("91350100M000100Y4Z", "outside the GB 32100 alphabet: Z"),
    ],
)
def test_uscc_errors_say_what_is_wrong(code: str, expected: str) -> None:
    with pytest.raises(InvalidValue, match=expected):
        v.check_uscc(code)


def test_uscc_weights_are_powers_of_three_mod_31() -> None:
    assert v.USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_inner_organisation_code_check_is_only_a_warning() -> None:
    good = make_uscc("91", "530102", "MA6K3X7Q")
    bad = make_uscc("91", "530102", "MA6K3X7Q", bad_org_check=True)
    assert v.uscc_org_code_warning(good) is None
    assert v.check_uscc(bad) == bad  # the outer check passes: accepted
    warning = v.uscc_org_code_warning(bad)
    assert warning is not None and "GB 11714, warning only" in str(warning)
    with i18n.speaking("zh_CN"):
        assert "仅为警告" in warning.shown() and bad in warning.shown()


def test_stand_alone_organisation_code() -> None:
    assert v.check_org_code("77604965-3") == ("776049653", None)
    code, warning = v.check_org_code("776049654")
    assert code == "776049654" and warning is not None and "expected 3" in str(warning)
    with i18n.speaking("zh_CN"):
        assert "仅为警告" in warning.shown() and "776049654" in warning.shown()
    with pytest.raises(InvalidValue, match="9 characters"):
        v.check_org_code("1234")


@given(
    st.text(alphabet=v.USCC_ALPHABET, min_size=17, max_size=17), st.integers(0, 16), st.sampled_from(v.USCC_ALPHABET)
)
def test_any_single_character_change_breaks_the_uscc(body: str, pos: int, ch: str) -> None:
    code = body + v.uscc_check_char(body)
    assert v.check_uscc(code) == code
    changed = code[:pos] + ch + code[pos + 1 :]
    if changed != code:
        with pytest.raises(InvalidValue):
            v.check_uscc(changed)


def test_resident_id_example_and_birth_date() -> None:
    assert v.check_resident_id("11010519491231002x") == "11010519491231002X"
    assert v.resident_id_birth_date("11010519491231002X") == date(1949, 12, 31)


def test_legacy_15_digit_resident_id_becomes_18() -> None:
    assert v.check_resident_id("110105491231002") == "11010519491231002X"


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("110105194912310021", "check character is 1, expected X"),
        ("11010519490230002X", "not a calendar date"),
        ("1101051949123100", "must be 18 characters"),
        ("11010519491231A02X", "17 digits and a check character"),
        ("11010518991231002X", "before 1900"),
        ("110105491331002", "not a calendar date"),
        ("11010549123100A", "digits only"),
        ("990105491231002", "region code 99xxxx is not a province's"),
        ("110105210001010015", "after 2099"),
    ],
)
def test_resident_id_errors(number: str, expected: str) -> None:
    with pytest.raises(InvalidValue, match=expected):
        v.check_resident_id(number)


def test_resident_id_error_does_not_echo_a_full_number() -> None:
    with pytest.raises(InvalidValue) as exc:
        v.check_resident_id("110105194912310021")
    assert "110105194912310021" not in str(exc.value)


@given(st.dates(date(1900, 1, 1), date(2026, 1, 1)), st.integers(0, 999))
def test_generated_resident_ids_are_valid(born: date, seq: int) -> None:
    number = make_resident_id("530102", born, seq)
    assert v.check_resident_id(number) == number
    assert v.resident_id_birth_date(number) == born


@pytest.mark.parametrize(
    "raw",
    ["2023-05-01", "2023/05/01", "2023/5/1", "20230501", "2023年5月1日", "2023-05-01 00:00:00", "2023.5.1", 20230501],
)
def test_date_formats(raw: object) -> None:
    assert v.parse_date(raw) == date(2023, 5, 1)


def test_excel_dates() -> None:
    assert v.parse_date(datetime(2023, 5, 1, 0, 0)) == date(2023, 5, 1)
    assert v.parse_date(45047) == date(2023, 5, 1)  # a serial number in an unformatted cell
    assert v.parse_date(45047.0) == date(2023, 5, 1)
    with pytest.raises(InvalidValue, match="time part"):
        v.parse_date(45047.5)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-02-29", "not a calendar date"),
        ("01/05/2023", "expected a date"),
        ("yesterday", "expected a date"),
        ("1899-12-31", "outside 1900-2099"),
        (float("nan"), "expected a date"),
        (True, "expected a date"),
    ],
)
def test_date_errors(raw: object, expected: str) -> None:
    with pytest.raises(InvalidValue, match=expected):
        v.parse_date(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12.5", Decimal("12.5")),
        ("1,234.5", Decimal("1234.5")),
        ("0", Decimal(0)),
        (3, Decimal(3)),
        (0.1, Decimal("0.1")),
        (Decimal("0.000001"), Decimal("0.000001")),
        ("999999999.999999", Decimal("999999999.999999")),
    ],
)
def test_amounts_are_exact(raw: object, expected: Decimal) -> None:
    got = v.parse_amount(raw)
    assert got == expected
    assert got.as_tuple().exponent == -6  # always six places: equal amounts, equal digests


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("-1", "must be ≥ 0"),
        ("1.0000001", "more than 6 decimals"),
        ("1000000000", "too large"),
        ("12,34", "expected an amount"),
        ("五万", "expected an amount"),
        (Decimal("NaN"), "expected an amount"),
        (Decimal("-0.5"), "must be ≥ 0"),
        (True, "expected an amount"),
    ],
)
def test_amount_errors(raw: object, expected: str) -> None:
    with pytest.raises(InvalidValue, match=expected):
        v.parse_amount(raw)


@pytest.mark.parametrize(
    ("raw", "vocabulary", "code"),
    [
        ("serious", vocab.SEVERITY, "serious"),
        ("严重", vocab.SEVERITY, "serious"),
        ("1", vocab.LICENCE_STATUS, "valid"),
        ("有效", vocab.LICENCE_STATUS, "valid"),
        ("2", vocab.LICENCE_STATUS, "invalid"),
        ("Legal_Person", vocab.PARTY_CATEGORY, "legal_person"),
        ("法人及非法人组织", vocab.PARTY_CATEGORY, "legal_person"),
        (" 自然人 ", vocab.PARTY_CATEGORY, "natural_person"),
        ("红名单", vocab.LIST_TYPE, "red"),
        ("可向社会公开", vocab.DISCLOSURE, "public"),
        ("删除", vocab.RECORD_STATUS, "deleted"),
        ("信用修复", vocab.WITHDRAWAL_REASON, "repaired"),
    ],
)
def test_enumerations_accept_code_and_chinese_label(raw: str, vocabulary: vocab.Vocabulary, code: str) -> None:
    assert v.parse_enum(raw, vocabulary) == code


def test_unknown_enumeration_value_lists_the_choices() -> None:
    with pytest.raises(
        InvalidValue, match=r"'很严重' is not one of minor \(轻微\), general \(一般\), serious \(严重\)"
    ):
        v.parse_enum("很严重", vocab.SEVERITY)


def test_penalty_types_are_a_list() -> None:
    assert v.parse_enum_list("罚款；警告、罚款", vocab.PENALTY_TYPE) == "fine;warning"
    with pytest.raises(InvalidValue, match="'打屁股' is not one of"):
        v.parse_enum_list("罚款;打屁股", vocab.PENALTY_TYPE)
    with pytest.raises(InvalidValue, match="at least one"):
        v.parse_enum_list(" ; ", vocab.PENALTY_TYPE)


def test_text_limits_and_control_characters() -> None:
    assert v.parse_text("  昆明  ", 10) == "昆明"
    with pytest.raises(InvalidValue, match="at most 3 characters, got 4"):
        v.parse_text("昆明市局", 3)
    with pytest.raises(InvalidValue, match=r"U\+0000"):
        v.parse_text("a\x00b", 10)
    with pytest.raises(InvalidValue, match=r"U\+202E"):
        v.parse_text("a\u202eb", 10)
    with pytest.raises(InvalidValue, match=r"U\+000A"):
        v.parse_text("a\nb", 10)
    assert v.parse_text("第一行\n第二行", 10, multiline=True) == "第一行\n第二行"


def test_commitment_code() -> None:
    assert v.check_commitment_code("53010020250301000001") == "53010020250301000001"
    with pytest.raises(InvalidValue, match="20 digits"):
        v.check_commitment_code("5301002025030100001")
    with pytest.raises(InvalidValue, match="not a date"):
        v.check_commitment_code("53010020251301000001")


def test_problem_renders_as_file_line_field_problem() -> None:
    p = Problem(12, "fine_amount", "amount must be ≥ 0, got -5")
    assert p.render("处罚.csv") == "处罚.csv:12: fine_amount: amount must be ≥ 0, got -5"
    assert Problem(3, "name", "bad\x1b[31m").render("f") == "f:3: name: bad\\x1b[31m"
