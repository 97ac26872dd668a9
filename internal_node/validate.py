"""Pure validators of department data: identifiers (USCC, resident ID), dates, amounts, enumerations
and text, each raising :class:`InvalidValue` with a one-line reason, and the structured
:class:`Problem` an ingest reports as ``file:line: field: problem``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

from internal_node.leakguard import PROVINCES
from internal_node.vocab import Vocabulary
from nodekit.text import printable


class InvalidValue(ValueError):
    """A field's value is not acceptable; the message says what was expected and what was found."""


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file. ``line`` is the 1-based line (CSV, JSON Lines) or sheet row
    (XLSX) where the record starts; ``field`` is the English field name, or ``(row)``/``(file)``."""

    line: int
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def render(self, file: str) -> str:
        return f"{file}:{self.line}: {self.field}: {printable(self.message, limit=300)}"


# Full-width digits and separators, as Chinese input methods type them, are read as ASCII in dates,
# amounts and commitment codes: the one fold those fields make (docs/INGEST.md). It is explicit so
# that no other script's digits (Arabic-Indic, Devanagari, ...) pass as an accident of ``\d``.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９－／．，：", "0123456789-/.,:")


def fold_full_width(text: str) -> str:
    """``text`` with full-width digits and ``－／．，：`` replaced by their ASCII forms."""
    return text.translate(_FULL_WIDTH)


def _shown(value: object) -> str:
    return printable(value if isinstance(value, str) else repr(value), limit=60)


# --- unified social credit code (GB 32100-2015) -------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, ...
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # GB 11714 body characters: digits and letters


def uscc_check_char(body: str) -> str:
    """The GB 32100 check character of the first 17 characters of a USCC."""
    if len(body) != 17 or any(ch not in _USCC_VALUE for ch in body):
        raise InvalidValue(f"expected 17 characters of {USCC_ALPHABET}, got {_shown(body)}")
    c = 31 - sum(_USCC_VALUE[ch] * w for ch, w in zip(body, USCC_WEIGHTS, strict=True)) % 31
    return USCC_ALPHABET[0 if c == 31 else c]


@lru_cache(maxsize=8192)  # authorities and source units repeat on every row of a file
def check_uscc(raw: str) -> str:
    """Return the USCC in canonical form (upper case) or raise :class:`InvalidValue`."""
    value = raw.strip().upper()
    if len(value) != 18:
        raise InvalidValue(f"USCC must be 18 characters, got {len(value)} ({_shown(raw)})")
    bad = sorted({ch for ch in value if ch not in _USCC_VALUE})
    if bad:
        raise InvalidValue(
            f"USCC {_shown(value)} has characters outside the GB 32100 alphabet: {''.join(bad)} (I, O, S, V, Z are never used)"
        )
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        raise InvalidValue(f"USCC {_shown(value)}: check character is {value[17]}, expected {expected} (GB 32100)")
    return value


def org_code_check_char(body: str) -> str:
    """The GB 11714 check character of an 8-character organisation code body."""
    if len(body) != 8 or any(ch not in _ORG_ALPHABET for ch in body):
        raise InvalidValue(f"expected 8 digits or letters, got {_shown(body)}")
    total = sum(_ORG_ALPHABET.index(ch) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


@lru_cache(maxsize=8192)
def uscc_org_code_warning(uscc: str) -> str | None:
    """The GB 11714 check on positions 9–17 of a valid USCC: a warning, because real codes fail it."""
    body, check = uscc[8:16], uscc[16]
    try:
        expected = org_code_check_char(body)
    except InvalidValue:
        return f"USCC {uscc}: positions 9-17 are not a GB 11714 organisation code (warning only)"
    if check != expected:
        return (
            f"USCC {uscc}: organisation code check character is {check}, expected {expected} (GB 11714, warning only)"
        )
    return None


def check_org_code(raw: str) -> tuple[str, str | None]:
    """A stand-alone organisation code (``XXXXXXXX-X`` or 9 characters): canonical form and a warning."""
    value = raw.strip().upper().replace("-", "")
    if len(value) != 9:
        raise InvalidValue(f"organisation code must be 9 characters (8 + check), got {_shown(raw)}")
    try:
        expected = org_code_check_char(value[:8])
    except InvalidValue:
        return value, f"organisation code {_shown(value)} is not in GB 11714 form (warning only)"
    if value[8] != expected:
        return value, f"organisation code {value}: check character is {value[8]}, expected {expected} (warning only)"
    return value, None


# --- resident ID number (GB 11643-1999) ----------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID18 = re.compile(r"[0-9]{17}[0-9X]")
_ID15 = re.compile(r"[0-9]{15}")


def resident_id_check_char(body: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident ID number."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def _birth(text: str) -> date:
    # messages about an ID number never repeat the number: it is personal data
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise InvalidValue(f"resident ID: birth date {text} is not a calendar date") from None
    if born.year < MIN_YEAR:
        raise InvalidValue(f"resident ID: birth year {born.year} is before {MIN_YEAR}")
    if born.year > MAX_YEAR:
        raise InvalidValue(f"resident ID: birth year {born.year} is after {MAX_YEAR}")
    return born


def check_resident_id(raw: str) -> str:
    """Return the resident ID number as 18 characters (a legacy 15-digit number is upgraded, the
    century being 19), or raise :class:`InvalidValue`."""
    value = raw.strip().upper()
    if len(value) == 15:
        if not _ID15.fullmatch(value):
            raise InvalidValue("15-character resident ID must be digits only")
        if value[:2] not in PROVINCES:
            # legacy numbers have no check digit: the region is what the leak guard can recognise
            raise InvalidValue(f"15-character resident ID: region code {value[:2]}xxxx is not a province's")
        _birth("19" + value[6:12])
        body = value[:6] + "19" + value[6:]
        return body + resident_id_check_char(body)
    if len(value) != 18:
        raise InvalidValue(f"resident ID must be 18 characters (or 15 in the old form), got {len(value)}")
    if not _ID18.fullmatch(value):
        raise InvalidValue("resident ID must be 17 digits and a check character 0-9 or X")
    _birth(value[6:14])
    expected = resident_id_check_char(value[:17])
    if value[17] != expected:
        # the number is personal data: say what is wrong without echoing it
        raise InvalidValue(f"resident ID check character is {value[17]}, expected {expected} (GB 11643)")
    return value


def resident_id_birth_date(value: str) -> date:
    """The birth date encoded in a resident ID number already checked by :func:`check_resident_id`."""
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


# --- dates --------------------------------------------------------------------------------------

_DATE_SEP = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", re.ASCII)
_DATE_ZH = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日", re.ASCII)
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01, with Excel's phantom 1900-02-29 before March
MIN_YEAR, MAX_YEAR = 1900, 2099


def parse_date(value: object) -> date:
    """A date from text (``YYYY-MM-DD``, ``YYYY/M/D``, ``YYYYMMDD``, ``YYYY年M月D日``, with an optional
    midnight time), an XLSX cell (datetime) or an Excel serial number."""
    if isinstance(value, str):
        return _parse_date_text(value)
    return _parse_date(value)


@lru_cache(maxsize=8192)  # a file's dates span a few years: few distinct values
def _parse_date_text(value: str) -> date:
    return _parse_date(value)


def _parse_date(value: object) -> date:
    if isinstance(value, datetime):
        return _in_range(value.date(), value)
    if isinstance(value, date):
        return _in_range(value, value)
    if isinstance(value, bool):
        raise InvalidValue(f"expected a date, got {value!r}")
    if isinstance(value, int) and 19000101 <= value <= 20991231:
        value = str(value)  # YYYYMMDD typed into a numeric cell or a JSON number
    elif isinstance(value, int | float | Decimal):
        return _excel_serial(value)
    if not isinstance(value, str):
        raise InvalidValue(f"expected a date, got {type(value).__name__}")
    text = fold_full_width(value.strip())
    m = _DATE_SEP.fullmatch(text) or _DATE_ZH.fullmatch(text) or _DATE_COMPACT.fullmatch(text)
    if m is None:
        raise InvalidValue(f"expected a date as YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD, got {_shown(text)}")
    try:
        parsed = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise InvalidValue(f"{_shown(text)} is not a calendar date") from None
    return _in_range(parsed, text)


def _excel_serial(value: int | float | Decimal) -> date:
    try:
        whole = int(value)
    except (OverflowError, ValueError, InvalidOperation):
        raise InvalidValue(f"expected a date, got the number {value}") from None
    if value != whole:
        raise InvalidValue(f"expected a date, got the number {value} (a date-time serial with a time part)")
    serial = whole
    if (
        not 61 <= serial <= 100_000
    ):  # before 1900-03-01 Excel's serials are off by its phantom leap day; no credit data is that old
        raise InvalidValue(f"expected a date, got the number {serial}")
    return _in_range(EXCEL_EPOCH + timedelta(days=serial), value)


def _in_range(d: date, raw: object) -> date:
    if not MIN_YEAR <= d.year <= MAX_YEAR:
        raise InvalidValue(f"date {_shown(str(raw))} is outside {MIN_YEAR}-{MAX_YEAR}")
    return d


# --- amounts ------------------------------------------------------------------------------------

AMOUNT_PLACES = 6
# Numeric(18, 6) could hold 12 digits before the point, but SQLite keeps numbers as doubles: with at
# most 9 + 6 = 15 significant digits every amount survives the round trip exactly on both engines
# (10^9 万元 is 10^13 yuan, far above any fine or arrear).
AMOUNT_INTEGER_DIGITS = 9
_QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)
_AMOUNT = re.compile(r"\d+(?:\.\d+)?|\d{1,3}(?:,\d{3})+(?:\.\d+)?", re.ASCII)


def parse_amount(value: object) -> Decimal:
    """An amount in 万元 (10 000 yuan): a decimal ≥ 0 with at most 6 decimals, kept exact (never
    through binary floating point, except for an XLSX numeric cell, read by its shortest repr)."""
    if isinstance(value, bool):
        raise InvalidValue(f"expected an amount, got {value!r}")
    if isinstance(value, Decimal | int):
        amount = Decimal(value)
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
        amount = Decimal(text)
    elif isinstance(value, str):
        text = fold_full_width(value.strip())
        if not _AMOUNT.fullmatch(text):
            if text.startswith("-"):
                raise InvalidValue(f"amount must be ≥ 0, got {_shown(text)}")
            raise InvalidValue(f"expected an amount like 12.5 (万元), got {_shown(text)}")
        amount = Decimal(text.replace(",", ""))
    else:
        raise InvalidValue(f"expected an amount, got {type(value).__name__}")
    if not amount.is_finite():
        raise InvalidValue(f"expected an amount, got {_shown(text)}")
    if amount < 0:
        raise InvalidValue(f"amount must be ≥ 0, got {_shown(text)}")
    try:
        exact = amount.quantize(_QUANTUM)
    except InvalidOperation:
        raise InvalidValue(f"amount {_shown(text)} is too large") from None
    if exact != amount:
        raise InvalidValue(f"amount {_shown(text)} has more than {AMOUNT_PLACES} decimals (万元)")
    if exact >= Decimal(10) ** AMOUNT_INTEGER_DIGITS:
        raise InvalidValue(
            f"amount {_shown(text)} is too large (at most {AMOUNT_INTEGER_DIGITS} digits before the point)"
        )
    return exact


# --- enumerations and text ----------------------------------------------------------------------


def parse_enum(value: str, vocab: Vocabulary) -> str:
    """The stored code of ``value`` (code, Chinese label or alias) in ``vocab``."""
    code = vocab.lookup(value)
    if code is None:
        raise InvalidValue(f"'{_shown(value.strip())}' is not one of {vocab.describe()}")
    return code


_MULTI_SEP = re.compile(r"[;；,，、|]")


def parse_enum_list(value: str, vocab: Vocabulary) -> str:
    """Several values of ``vocab`` separated by ``;`` (also ；,，、|): their codes joined by ``;``,
    in the order given, without repeats."""
    codes: list[str] = []
    for part in _MULTI_SEP.split(value):
        if part.strip():
            code = parse_enum(part, vocab)
            if code not in codes:
                codes.append(code)
    if not codes:
        raise InvalidValue("required: at least one value")
    return ";".join(codes)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def parse_text(value: str, max_len: int, *, multiline: bool = False) -> str:
    """Text stripped of surrounding blanks, at most ``max_len`` characters, without control
    characters (NUL breaks PostgreSQL, bidi overrides and escapes can disguise what is published;
    line breaks and tabs only where ``multiline``)."""
    text = value.strip()
    if len(text) > max_len:
        raise InvalidValue(f"at most {max_len} characters, got {len(text)}")
    bad = (_CONTROL if multiline else _CONTROL_ONE_LINE).search(text)
    if bad is not None:
        raise InvalidValue(f"contains the control character U+{ord(bad.group()):04X}")
    return text


_COMMITMENT_CODE = re.compile(r"\d{20}", re.ASCII)


def check_commitment_code(value: str) -> str:
    """承诺编码: 6-digit region, 8-digit date (YYYYMMDD), 6-digit serial."""
    code = fold_full_width(value.strip())
    if not _COMMITMENT_CODE.fullmatch(code):
        raise InvalidValue(f"commitment code must be 20 digits (region 6 + date 8 + serial 6), got {_shown(code)}")
    try:
        date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        raise InvalidValue(f"commitment code {code}: digits 7-14 ({code[6:14]}) are not a date") from None
    return code
