"""The leak guard: the last check on every published row before it is sealed.

It looks at every value of a row (free text included) for two things that must never cross the gap:
a resident ID number, found by its structure, and a classification marking in its real form. A hit
blocks the record; the finding names the record and the field and describes what was found without
repeating it (an ID number is reported masked). docs/POLICY.md, "The leak guard", is the normative
description of the rules below; tests/unit/internal_node/test_leakguard.py holds the table of
catches and non-catches.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from internal_node import leak_table
from internal_node.masking import mask_id_number

USCC_FIELDS = frozenset(
    {"uscc", "party_uscc", "authority_uscc", "source_unit_uscc", "department_uscc", "counterparty_uscc"}
)
"""Fields typed as a unified social credit code: a valid USCC in them is not an ID number."""

REGISTRATION_FIELDS = frozenset({"party_reg_no", "party_org_code", "party_institution_no", "party_social_org_no"})
"""Organisation registration numbers, 15 digits by construction: exempt from the legacy 15-digit rule
only (the 18-character rule still applies to them)."""

OPAQUE_FIELDS = frozenset({"subject_key"})
"""Keyed hashes computed by the projection itself: hexadecimal, never data from a department."""

# GB/T 2260 province-level codes (the first two digits of a region code), with 81/82 for the Hong
# Kong and Macao residence permits and 83 for the Taiwan one (both use the resident-ID structure).
# Required of legacy 15-digit numbers only (by the guard and by the ingest alike).
PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

# Candidates are found at every start position (a zero-width lookahead), so an invalid candidate
# never hides an overlapping valid one. Groups may be separated by one space or hyphen, as people
# write them (110105 19491231 002X); no digit may stand right before or after the number. The text
# is NFKC-folded first (``normalise``), so ASCII digits are the ones that matter: re.ASCII keeps a
# digit of another script beside the number from hiding it.
_ID18 = re.compile(r"(?<!\d)(?=(\d{6})[ -]?(\d{8})[ -]?(\d{3}[0-9Xx])(?!\d))", re.ASCII)
_ID15 = re.compile(r"(?<!\d)(?=(\d{6})[ -]?(\d{6})[ -]?(\d{3})(?!\d))", re.ASCII)

_LEVEL = r"(?:绝\s*密|机\s*密|秘\s*密)"
_INTERNAL = r"内\s*部"
_PERIOD = r"(?:\s*(?:长\s*期|\d{1,2}\s*(?:年|个月)|[一二三四五六七八九十]{1,3}\s*(?:年|个月)))?"
_OPEN = re.escape("【[(〔〈《<「『")
_CLOSE = re.escape("】])〕〉》>」』")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

MARKING_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # 机密★一年, 绝密★启用前, 秘 密 ★ 长期: a level (or 内部) followed by the star
    ("star", re.compile(rf"(?:{_LEVEL}|{_INTERNAL})\s*[★☆]{_PERIOD}")),
    # 密级：机密, 密级别: 内部 — the level given under its label
    ("label", re.compile(rf"密\s*级\s*别?\s*[:：]?\s*(?:{_LEVEL}|{_INTERNAL})")),
    # 【内部】, (机密), 〔秘密★一年〕 — a level standing alone in brackets
    ("bracket", re.compile(rf"[{_OPEN}]\s*(?:{_LEVEL}|{_INTERNAL})\s*(?:[★☆][^{_CLOSE}]{{0,6}})?\s*[{_CLOSE}]")),
    # a level heading a text or a line on its own: "内部 关于…的通知", "机密\n…"; not 内部控制…
    ("heading", re.compile(rf"(?m)^\s*(?:{_LEVEL}|{_INTERNAL})(?=\s|[:：,，.。;；、!！]|$)")),
    # 内部资料 / 内部文件 … standing as a marking: not preceded by a CJK character (企业内部文件 is a
    # description, not a marking), or stated as a restriction (仅供内部使用) or with a handling order
    (
        "internal-document",
        re.compile(rf"(?<![{_CJK}])内\s*部\s*(?:资\s*料|文\s*件|材\s*料|刊\s*物|发\s*行|使\s*用|参\s*考)"),
    ),
    ("internal-document", re.compile(rf"[仅只]\s*[供限]\s*{_INTERNAL}\s*(?:使\s*用|参\s*阅|传\s*阅|参\s*考|发\s*行)")),
    (
        "internal-document",
        re.compile(
            rf"{_INTERNAL}\s*(?:资料|文件|材料)\s*[,，]?\s*(?:注意保存|请勿外传|不得外传|严禁外传|注意保密|妥善保管)"
        ),
    ),
)
"""The marking rules, each a name and a pattern over the normalised text (docs/POLICY.md)."""


@dataclass(frozen=True)
class Hit:
    """One thing found in one text: the rule that matched and a safe description of the match."""

    rule: str
    description: str
    match: str = ""  # the text matched, for the internal operator's review only (never in a report)


@dataclass(frozen=True)
class Finding:
    """A hit located in a row: which record, which field, what (never the raw ID number in its
    description; ``match`` and ``context`` are for the internal operator's review list only)."""

    kind: str
    key: str
    field: str
    rule: str
    description: str
    match: str = dataclasses.field(default="", repr=False)
    context: str = dataclasses.field(default="", repr=False)

    def __str__(self) -> str:
        return f"{self.kind} {self.key}: field {self.field}: {self.description}"

    def document(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "key": self.key,
            "field": self.field,
            "rule": self.rule,
            "description": self.description,
        }


# Unicode's format characters (category Cf: zero-width spaces, joiners, bidi controls, tags) as of
# Unicode 14; a test checks this list still covers every Cf character the running Python knows.
FORMAT_RANGES = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD),
    (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)  # fmt: skip
_FORMAT = re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in FORMAT_RANGES) + "]")


def normalise(text: str) -> str:
    """NFKC (full-width digits and brackets become ASCII) without invisible format characters, so
    that neither full-width digits nor zero-width spaces hide a number or a marking."""
    if text.isascii():
        return text  # NFKC leaves ASCII alone, and ASCII has no format characters
    return _FORMAT.sub("", unicodedata.normalize("NFKC", text))


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def id18_birth_date(number: str) -> date | None:
    """The birth date of a structurally valid 18-character resident ID number, else None.

    Valid means: 17 digits, a real birth date in 1900–2099 and a check character (digit or X/x) per
    GB 11643 — exactly what the ingest accepts (validate.check_resident_id). The region code is not
    checked: the check character already leaves about one random digit string in 15 000 standing,
    and a number the ingest accepts must never pass the guard (docs/POLICY.md).
    """
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return None
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    if not 1900 <= year <= 2099 or not _valid_date(year, month, day):
        return None
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    if number[17].upper() != _ID_CHECK[total % 11]:
        return None
    return date(year, month, day)


def id15_birth_date(number: str) -> date | None:
    """The birth date of a structurally valid legacy 15-digit resident ID number (a province-level
    region code, YYMMDD of the 1900s, 3-digit sequence, no check digit), else None.

    Without a check digit the province code is what keeps ordinary 15-digit numbers (order and
    tracking numbers) from tripping the guard; the ingest requires it as well.
    """
    if len(number) != 15 or not number.isascii() or not number.isdigit() or number[:2] not in PROVINCES:
        return None
    year, month, day = 1900 + int(number[6:8]), int(number[8:10]), int(number[10:12])
    return date(year, month, day) if _valid_date(year, month, day) else None


def resident_id_birth_date(number: str) -> date | None:
    """The birth date encoded in a resident ID number of either length, or None if it is not one."""
    compact = normalise(number).strip()
    return id18_birth_date(compact) if len(compact) == 18 else id15_birth_date(compact)


def is_valid_uscc(value: str) -> bool:
    """Whether ``value`` is an 18-character unified social credit code with a correct check character
    (GB 32100-2015)."""
    code = value.strip().upper()
    if len(code) != 18 or any(ch not in _USCC_ALPHABET for ch in code):
        return False
    total = sum(_USCC_ALPHABET.index(ch) * w for ch, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return code[17] == _USCC_ALPHABET[(31 - total % 31) % 31]


_SIX_DIGITS = re.compile(r"\d{6}", re.ASCII)


def _ids(text: str, *, legacy: bool) -> Iterator[Hit]:
    if not _SIX_DIGITS.search(text):
        return  # every form starts with the 6-digit region code
    for match in _ID18.finditer(text):
        number = "".join(match.groups())
        if id18_birth_date(number) is not None:
            yield Hit("resident-id", f"resident ID number {mask_id_number(number)}", number)
    if legacy:
        for match in _ID15.finditer(text):
            number = "".join(match.groups())
            if id15_birth_date(number) is not None:
                yield Hit("resident-id-15", f"legacy 15-digit resident ID number {mask_id_number(number)}", number)


def _markings(text: str) -> Iterator[Hit]:
    if "密" not in text and "部" not in text:
        return  # every marking rule needs 密 (绝密, 机密, 秘密, 密级) or 部 (内部)
    # one hit per marking: a match overlapping one already reported (by an earlier rule) is the same one
    taken: list[tuple[int, int]] = []
    for name, pattern in MARKING_RULES:
        for match in pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found = " ".join(match.group(0).split()) or match.group(0)
            yield Hit("classification-marking", f"classification marking {found!r} ({name})", found)


def scan_text(text: str, *, ids: bool = True, legacy_ids: bool = True) -> list[Hit]:
    """Everything the guard finds in one text (``ids``/``legacy_ids`` off for typed fields)."""
    normal = normalise(text)
    hits = list(_markings(normal))
    if ids:
        hits.extend(_ids(normal, legacy=legacy_ids))
    return hits


def scan_value(field: str, value: object) -> list[Hit]:
    """The guard's hits in one field's value, following the field's type (see the module constants)."""
    if value is None or isinstance(value, bool):
        return []
    text = value if isinstance(value, str) else str(value)
    if field in OPAQUE_FIELDS and re.fullmatch(r"[0-9a-f]*", text):
        return []
    if field in USCC_FIELDS and is_valid_uscc(text):
        return scan_text(text, ids=False)
    return scan_text(text, legacy_ids=field not in REGISTRATION_FIELDS)


# a maximal run of ASCII digits, spaces and hyphens ending in a digit or X: every ID number the
# guard can find (6+8+4 or 6+6+3 digits, optional single separators) lies inside one such run
_PRECHECK_TABLE = leak_table.TABLE


def _char_class(codes: Iterable[int]) -> re.Pattern[str]:
    """A character class of the BMP ``codes`` plus every astral character: one range for the astral
    planes keeps the class a fast bitmap, and astral text is rare enough to take the slow path."""
    ranges: list[tuple[int, int]] = [(0x10000, 0x10FFFF)]
    for c in sorted(c for c in codes if c < 0x10000):
        if len(ranges) > 1 and c == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    return re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]")


_PRECHECK_CHARS = _char_class(_PRECHECK_TABLE)
_DIGIT_RUN = re.compile(r"[0-9][0-9 \-]{13,}[0-9Xx]")


def text_may_leak(text: str) -> bool:
    """A fast pre-check over a row's values joined by newlines: False only if :func:`scan_row` finds
    nothing in any of them.

    It runs the guard's own rules once over the joined text instead of once per field, without the
    per-field exemptions (a hit only means "run the full guard"). ID numbers: every finding is an
    ``_ID18``/``_ID15`` match of ASCII digits (``id18_birth_date`` refuses others) with a valid date and
    check character, and lies inside one run of ``_DIGIT_RUN`` with the same neighbours; only the
    characters whose NFKC form is a digit, separator or X need normalising for that (a generated
    table). Markings need ``密`` or ``部``; when one is there, the text is normalised in full and the
    marking rules run on it — a newline between values keeps their ``^``/``$`` and look-behind
    conditions as they are for a single value. A property test holds the pre-check to never hiding
    a finding of the full guard.
    """
    ids_text = text
    if not text.isascii() and _PRECHECK_CHARS.search(text) is not None:
        ids_text = text.translate(_PRECHECK_TABLE)
    if "密" in ids_text or "部" in ids_text:
        normal = normalise(text)
        if any(pattern.search(normal) is not None for _, pattern in MARKING_RULES):
            return True
    for run in _DIGIT_RUN.finditer(ids_text):
        chunk = run.group(0)  # the ID patterns are slow over long text, fast over a short run
        for match in _ID18.finditer(chunk):
            if id18_birth_date("".join(match.groups())) is not None:
                return True
        for match in _ID15.finditer(chunk):
            if id15_birth_date("".join(match.groups())) is not None:
                return True
    return False


def scan_row(kind: str, key: str, row: Mapping[str, object]) -> list[Finding]:
    """Every finding in ``row`` (empty when the row may be sealed)."""
    joined = "\n".join(str(v) for v in row.values() if v is not None and not isinstance(v, bool))
    if not text_may_leak(joined):
        return []  # the common case, decided once for the whole row
    return [
        Finding(kind=kind, key=key, field=name, rule=hit.rule, description=hit.description, match=hit.match)
        for name, value in row.items()
        for hit in scan_value(name, value)
    ]
