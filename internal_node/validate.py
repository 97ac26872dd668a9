"""Pure validators of department data: identifiers (USCC, resident ID), dates, amounts, enumerations
and text, each raising :class:`InvalidValue` with a one-line reason, and the structured
:class:`Problem` an ingest reports as ``file:line: field: problem``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

from internal_node.leakguard import PROVINCES
from internal_node.vocab import Vocabulary
from nodekit.i18n import N_, _
from nodekit.text import printable


class InvalidValue(ValueError):
    """A field's value is not acceptable; the message says what was expected and what was found.

    ``message`` is an English message id, a ``str.format`` template of ``params``: ``str(exc)`` is the
    English text (--json, logs), :meth:`shown` the operator's language (nodekit.i18n)."""

    def __init__(self, message: str, **params: object) -> None:
        self.template = message
        self.params = params
        super().__init__(message.format(**params) if params else message)

    def shown(self) -> str:
        return translated(self.template, self.params, str(self))


def translated(template: str, params: Mapping[str, object], english: str) -> str:
    """``template`` in the operator's language filled with ``params`` (``english`` if that fails)."""
    try:
        return _(template).format(**params) if params else _(template)
    except (KeyError, IndexError, ValueError):
        return english


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file. ``line`` is the 1-based line (CSV, JSON Lines) or sheet row
    (XLSX) where the record starts; ``field`` is the English field name, or ``(row)``/``(file)``.
    ``message`` is English (--json); with a ``template`` (its message id) and ``params`` it can be
    shown in the operator's language."""

    line: int
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"
    template: str | None = dc_field(default=None, compare=False)
    params: Mapping[str, object] | None = dc_field(default=None, compare=False)

    @classmethod
    def of(cls, line: int, field: str, exc: InvalidValue, severity: Literal["error", "warning"] = "error") -> Problem:
        """The problem an :class:`InvalidValue` of ``field`` makes."""
        return cls(line, field, str(exc), severity, exc.template, exc.params)

    @classmethod
    def say(
        cls, line: int, field: str, template: str, severity: Literal["error", "warning"] = "error", /, **params: object
    ) -> Problem:
        """A problem from an English template (a message id) and its parameters."""
        return cls(line, field, template.format(**params) if params else template, severity, template, params)

    def text(self) -> str:
        """The message in the operator's language."""
        if self.template is None:
            return self.message
        return translated(self.template, self.params or {}, self.message)

    def render(self, file: str) -> str:
        return f"{file}:{self.line}: {self.field}: {printable(self.message, limit=300)}"

    def shown(self, file: str) -> str:
        """:meth:`render` in the operator's language."""
        return f"{file}:{self.line}: {self.field}: {printable(self.text(), limit=300)}"


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
        raise InvalidValue(
            N_("expected 17 characters of {alphabet}, got {value}"), alphabet=USCC_ALPHABET, value=_shown(body)
        )
    c = 31 - sum(_USCC_VALUE[ch] * w for ch, w in zip(body, USCC_WEIGHTS, strict=True)) % 31
    return USCC_ALPHABET[0 if c == 31 else c]


@lru_cache(maxsize=8192)  # authorities and source units repeat on every row of a file
def check_uscc(raw: str) -> str:
    """Return the USCC in canonical form (upper case) or raise :class:`InvalidValue`."""
    value = raw.strip().upper()
    if len(value) != 18:
        raise InvalidValue(
            N_("USCC must be 18 characters, got {length} ({value})"), length=len(value), value=_shown(raw)
        )
    bad = sorted({ch for ch in value if ch not in _USCC_VALUE})
    if bad:
        raise InvalidValue(
            N_("USCC {value} has characters outside the GB 32100 alphabet: {bad} (I, O, S, V, Z are never used)"),
            value=_shown(value),
            bad="".join(bad),
        )
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        raise InvalidValue(
            N_("USCC {value}: check character is {found}, expected {expected} (GB 32100)"),
            value=_shown(value),
            found=value[17],
            expected=expected,
        )
    return value


def org_code_check_char(body: str) -> str:
    """The GB 11714 check character of an 8-character organisation code body."""
    if len(body) != 8 or any(ch not in _ORG_ALPHABET for ch in body):
        raise InvalidValue(N_("expected 8 digits or letters, got {value}"), value=_shown(body))
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
        raise InvalidValue(N_("organisation code must be 9 characters (8 + check), got {value}"), value=_shown(raw))
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
        raise InvalidValue(N_("resident ID: birth date {date} is not a calendar date"), date=text) from None
    if born.year < MIN_YEAR:
        raise InvalidValue(N_("resident ID: birth year {year} is before {min_year}"), year=born.year, min_year=MIN_YEAR)
    if born.year > MAX_YEAR:
        raise InvalidValue(N_("resident ID: birth year {year} is after {max_year}"), year=born.year, max_year=MAX_YEAR)
    return born


def check_resident_id(raw: str) -> str:
    """Return the resident ID number as 18 characters (a legacy 15-digit number is upgraded, the
    century being 19), or raise :class:`InvalidValue`."""
    value = raw.strip().upper()
    if len(value) == 15:
        if not _ID15.fullmatch(value):
            raise InvalidValue(N_("15-character resident ID must be digits only"))
        if value[:2] not in PROVINCES:
            # legacy numbers have no check digit: the region is what the leak guard can recognise
            raise InvalidValue(
                N_("15-character resident ID: region code {region}xxxx is not a province's"), region=value[:2]
            )
        _birth("19" + value[6:12])
        body = value[:6] + "19" + value[6:]
        return body + resident_id_check_char(body)
    if len(value) != 18:
        raise InvalidValue(
            N_("resident ID must be 18 characters (or 15 in the old form), got {length}"), length=len(value)
        )
    if not _ID18.fullmatch(value):
        raise InvalidValue(N_("resident ID must be 17 digits and a check character 0-9 or X"))
    _birth(value[6:14])
    expected = resident_id_check_char(value[:17])
    if value[17] != expected:
        # the number is personal data: say what is wrong without echoing it
        raise InvalidValue(
            N_("resident ID check character is {found}, expected {expected} (GB 11643)"),
            found=value[17],
            expected=expected,
        )
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
        raise InvalidValue(N_("expected a date, got {value}"), value=repr(value))
    if isinstance(value, int) and 19000101 <= value <= 20991231:
        value = str(value)  # YYYYMMDD typed into a numeric cell or a JSON number
    elif isinstance(value, int | float | Decimal):
        return _excel_serial(value)
    if not isinstance(value, str):
        raise InvalidValue(N_("expected a date, got {type}"), type=type(value).__name__)
    text = fold_full_width(value.strip())
    m = _DATE_SEP.fullmatch(text) or _DATE_ZH.fullmatch(text) or _DATE_COMPACT.fullmatch(text)
    if m is None:
        raise InvalidValue(N_("expected a date as YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD, got {value}"), value=_shown(text))
    try:
        parsed = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise InvalidValue(N_("{value} is not a calendar date"), value=_shown(text)) from None
    return _in_range(parsed, text)


def _excel_serial(value: int | float | Decimal) -> date:
    try:
        whole = int(value)
    except (OverflowError, ValueError, InvalidOperation):
        raise InvalidValue(N_("expected a date, got the number {number}"), number=value) from None
    if value != whole:
        raise InvalidValue(
            N_("expected a date, got the number {number} (a date-time serial with a time part)"), number=value
        )
    serial = whole
    if (
        not 61 <= serial <= 100_000
    ):  # before 1900-03-01 Excel's serials are off by its phantom leap day; no credit data is that old
        raise InvalidValue(N_("expected a date, got the number {number}"), number=serial)
    return _in_range(EXCEL_EPOCH + timedelta(days=serial), value)


def _in_range(d: date, raw: object) -> date:
    if not MIN_YEAR <= d.year <= MAX_YEAR:
        raise InvalidValue(
            N_("date {value} is outside {min_year}-{max_year}"),
            value=_shown(str(raw)),
            min_year=MIN_YEAR,
            max_year=MAX_YEAR,
        )
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
        raise InvalidValue(N_("expected an amount, got {value}"), value=repr(value))
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
                raise InvalidValue(N_("amount must be ≥ 0, got {value}"), value=_shown(text))
            raise InvalidValue(N_("expected an amount like 12.5 (万元), got {value}"), value=_shown(text))
        amount = Decimal(text.replace(",", ""))
    else:
        raise InvalidValue(N_("expected an amount, got {value}"), value=type(value).__name__)
    if not amount.is_finite():
        raise InvalidValue(N_("expected an amount, got {value}"), value=_shown(text))
    if amount < 0:
        raise InvalidValue(N_("amount must be ≥ 0, got {value}"), value=_shown(text))
    try:
        exact = amount.quantize(_QUANTUM)
    except InvalidOperation:
        raise InvalidValue(N_("amount {value} is too large"), value=_shown(text)) from None
    if exact != amount:
        raise InvalidValue(
            N_("amount {value} has more than {places} decimals (万元)"), value=_shown(text), places=AMOUNT_PLACES
        )
    if exact >= Decimal(10) ** AMOUNT_INTEGER_DIGITS:
        raise InvalidValue(
            N_("amount {value} is too large (at most {digits} digits before the point)"),
            value=_shown(text),
            digits=AMOUNT_INTEGER_DIGITS,
        )
    return exact


# --- enumerations and text ----------------------------------------------------------------------


def parse_enum(value: str, vocab: Vocabulary) -> str:
    """The stored code of ``value`` (code, Chinese label or alias) in ``vocab``."""
    code = vocab.lookup(value)
    if code is None:
        raise InvalidValue(
            N_("'{value}' is not one of {choices}"), value=_shown(value.strip()), choices=vocab.describe()
        )
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
        raise InvalidValue(N_("required: at least one value"))
    return ";".join(codes)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def parse_text(value: str, max_len: int, *, multiline: bool = False) -> str:
    """Text stripped of surrounding blanks, at most ``max_len`` characters, without control
    characters (NUL breaks PostgreSQL, bidi overrides and escapes can disguise what is published;
    line breaks and tabs only where ``multiline``)."""
    text = value.strip()
    if len(text) > max_len:
        raise InvalidValue(N_("at most {max_len} characters, got {length}"), max_len=max_len, length=len(text))
    bad = (_CONTROL if multiline else _CONTROL_ONE_LINE).search(text)
    if bad is not None:
        raise InvalidValue(N_("contains the control character {character}"), character=f"U+{ord(bad.group()):04X}")
    return text


_COMMITMENT_CODE = re.compile(r"\d{20}", re.ASCII)


def check_commitment_code(value: str) -> str:
    """承诺编码: 6-digit region, 8-digit date (YYYYMMDD), 6-digit serial."""
    code = fold_full_width(value.strip())
    if not _COMMITMENT_CODE.fullmatch(code):
        raise InvalidValue(
            N_("commitment code must be 20 digits (region 6 + date 8 + serial 6), got {value}"), value=_shown(code)
        )
    try:
        date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        raise InvalidValue(
            N_("commitment code {code}: digits 7-14 ({digits}) are not a date"), code=code, digits=code[6:14]
        ) from None
    return code
