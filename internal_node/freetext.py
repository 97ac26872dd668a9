"""What free text may not carry without a person's review: a classification stated in running text,
and personal data — resident ID numbers in any grouping, mobile numbers, bank cards, passport and
permit numbers, residential addresses, other people's names.

Pure: text in, hits out. The projection runs it over every free-text field of a row (after the
policy masked the subject's own name there) and holds the record version for review when anything is
found. Each hit carries the matched text and its context for the internal operator (``review
list``); its ``description`` never repeats a personal value (numbers are masked). docs/POLICY.md
("Free text") is the normative description; tests/unit/internal_node/test_freetext.py the table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from internal_node.leakguard import id18_birth_date, is_valid_uscc, normalise
from internal_node.masking import mask_bank_account, mask_id_number, mask_name, mask_phone

FREE_TEXT_FIELDS: dict[str, frozenset[str]] = {
    "subject": frozenset({"remarks"}),
    "licence": frozenset({"decision_doc_title", "certificate_name", "content", "remarks"}),
    "penalty": frozenset(
        {"violation_type", "violation_facts", "legal_basis", "content", "suspended_licence", "remarks"}
    ),
    "list_entry": frozenset({"list_name", "reason", "basis", "removal_reason", "measures", "remarks"}),
    "commitment": frozenset({"matter", "content", "liability", "remarks"}),
    "gov_credit": frozenset({"title", "description", "accountability_action", "remarks"}),
}
"""The free-text fields of each kind: what people write in sentences (docs/DATA.md)."""

NAME_FIELDS = (
    "subject_name", "party_name", "legal_rep", "authority", "deciding_dept", "department", "accepting_unit",
    "determined_by", "source_unit", "counterparty", "registration_authority", "certificate_name",
)  # fmt: skip
"""Fields whose published value may appear in free text without being a leak (the row shows it anyway)."""

CONTEXT = 12  # characters of context either side of a match, for the operator


@dataclass(frozen=True)
class TextHit:
    """One thing found in one text: the rule, a description without the value, and (for the internal
    operator only) the matched text and its context."""

    rule: str
    description: str
    match: str
    context: str


def _context(text: str, start: int, end: int) -> str:
    return text[max(0, start - CONTEXT) : end + CONTEXT]


# --- classification stated in running text -----------------------------------------------------

_LEVEL = r"(?:绝\s*密|机\s*密|秘\s*密)"
_MATERIAL = r"(?:材料|信息|文件|资料|内容|事项|载体|档案|数据|图纸|文稿|件)"
_CLASSIFIED = (
    # 机密级, 属机密级, 秘密级文件 — a level given as a grade
    re.compile(rf"(?<!商业){_LEVEL}\s*级(?!别以上)"),
    # 涉密材料, 涉密信息 — material said to be classified
    re.compile(rf"涉\s*密\s*{_MATERIAL}"),
    # 国家秘密材料, 国家秘密信息
    re.compile(rf"国\s*家\s*秘\s*密\s*{_MATERIAL}"),
    # 机密文件, 绝密档案 — the level qualifying material
    re.compile(rf"(?<!商业)(?<!个人){_LEVEL}\s*{_MATERIAL}"),
    # 属于机密, 列为绝密, 定为秘密, 密级为机密 — material put under a level
    re.compile(
        rf"(?:属于|属|系|列为|定为|定密为|确定为|标注为|标为|划为|密\s*级\s*(?:为|是|属于|定为)?)\s*(?:国家)?{_LEVEL}"
    ),
    # 内部通报, 内部资料 — internal material cited as the record's own source
    re.compile(r"内\s*部\s*(?:通\s*报|资\s*料|文\s*件|材\s*料|刊\s*物|参\s*考)(?!批评|表扬)"),
)
# the level names the object of a violation when one of these verbs stands right before it
_VIOLATION_VERB = re.compile(
    r"(?:泄露|泄漏|窃取|刺探|收买|获取|持有|买卖|出售|复制|携带|传递|邮寄|丢失|遗失|销毁|私存|侵犯|披露|"
    r"非法提供|违规提供|抄录|拍摄|偷拍|存储|转发|上传|外传|伪造|篡改|擅自公开)[了其该有相关]{0,2}$"
)
_OWN_ORG_BEFORE = re.compile(r"(?:企业|公司|集团|工厂|门店|其)$")


def classification_hits(text: str) -> Iterator[TextHit]:
    """A classification level qualifying the record's own material (not the object of a violation)."""
    if "密" not in text and "部" not in text:
        return
    taken: list[tuple[int, int]] = []
    for pattern in _CLASSIFIED:
        for m in pattern.finditer(text):
            start, end = m.span()
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))  # an exempted phrase is not found again by a later, shorter rule
            before = text[max(0, start - 8) : start]
            if _VIOLATION_VERB.search(before):
                continue
            if pattern is _CLASSIFIED[-1] and _OWN_ORG_BEFORE.search(before):
                continue  # 企业内部文件: the firm's own papers, described
            found = "".join(m.group(0).split())
            yield TextHit("classification-text", f"classification in running text {found!r}", found,
                          _context(text, start, end))  # fmt: skip


# --- numbers: resident IDs in any grouping, mobiles, bank cards ----------------------------------

# a run of digits with single separators (space, hyphen, dot) between them, an X allowed last
_RUN = re.compile(r"(?<![0-9A-Za-z])(?:\+)?[0-9](?:[ .\-]?[0-9])*(?:[ .\-]?[Xx])?(?![0-9A-Za-z])")
_GROUP = re.compile(r"[0-9]+[Xx]?|[Xx]")
_MOBILE = re.compile(r"(?:0086|86)?(1[3-9][0-9]{9})")
_BANK_WORDS = re.compile(r"(?:卡|账号|帐号|账户|帐户|银行|开户|转账|汇款|收款|付款)")


def luhn_valid(digits: str) -> bool:
    """The Luhn check of a card number (ISO/IEC 7812)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def number_hits(text: str) -> Iterator[TextHit]:
    """Resident IDs, mobile numbers and bank cards, however their digits are grouped."""
    for run in _RUN.finditer(text):
        groups = list(_GROUP.finditer(run.group(0)))
        if sum(len(g.group(0)) for g in groups) < 11:
            continue
        taken: list[tuple[int, int]] = []
        # every contiguous sequence of groups, longest first: 2 numbers side by side are 2 findings
        spans = sorted(((i, j) for i in range(len(groups)) for j in range(i, len(groups))), key=lambda s: s[0] - s[1])
        for i, j in spans:
            if any(i <= b and a <= j for a, b in taken):
                continue
            digits = "".join(g.group(0) for g in groups[i : j + 1]).upper()
            if "X" in digits[:-1]:
                continue
            start, end = run.start() + groups[i].start(), run.start() + groups[j].end()
            hit = _classify(digits, text, start)
            if hit is not None:
                taken.append((i, j))
                rule, description = hit
                yield TextHit(rule, description, text[start:end], _context(text, start, end))


def _classify(digits: str, text: str, start: int) -> tuple[str, str] | None:
    if len(digits) == 18 and id18_birth_date(digits) is not None:
        return "resident-id", f"resident ID number {mask_id_number(digits)}"
    if not digits.isdigit():
        return None
    mobile = _MOBILE.fullmatch(digits)
    if mobile is not None:  # 11 digits, or 13/15 with the country code 86/0086 in front
        return "mobile", f"mobile number {mask_phone(mobile.group(1))}"
    card = 16 <= len(digits) <= 19 and digits[0] in "34569" and luhn_valid(digits) and not is_valid_uscc(digits)
    # 18 digits is also a licence or case number's length: a card only where the text says so
    if card and (len(digits) != 18 or _BANK_WORDS.search(text[max(0, start - 12) : start])):
        return "bank-card", f"bank card number {mask_bank_account(digits)}"
    return None


# --- passports and permits -----------------------------------------------------------------------

_LETTERS = "A-HJ-NP-Z"
# the national formats: ordinary passports (E + 8 digits, E + letter + 7, old G + 8), the Hong Kong
# and Macao residents' permit (H/M + 8 or 10), the mainland residents' permits to Hong Kong and Macao
# (C + 8, C + letter + 7) and to Taiwan (T/L + 8)
_DOCUMENT = re.compile(
    rf"(?<![0-9A-Za-z])(?:E[0-9]{{8}}|E[{_LETTERS}][0-9]{{7}}|G[0-9]{{8}}|[HM][0-9]{{8}}(?:[0-9]{{2}})?|C[0-9]{{8}}|"
    rf"C[{_LETTERS}][0-9]{{7}}|[TL][0-9]{{8}})(?![0-9A-Za-z])"
)
# the shortest formats (Taiwan residents' permit: 8 digits; diplomatic, service and older passports:
# a letter and 7 digits) only right after a word saying what they are
_CONTEXT_DOCUMENT = re.compile(
    r"(?:护照|通行证|证件|台胞证|回乡证|旅行证)(?:号码|号|编号)?\s*(?:为|是)?\s*[:：]?\s*"
    r"(?<![0-9A-Za-z])([A-Za-z]?[0-9]{7,8})(?![0-9A-Za-z])"
)


def document_hits(text: str) -> Iterator[TextHit]:
    """Passport and permit numbers: national formats anywhere, the shortest ones next to their word."""
    seen: set[int] = set()
    for m in _DOCUMENT.finditer(text):
        seen.add(m.start())
        yield TextHit("passport", f"passport or permit number {mask_id_number(m.group(0))}", m.group(0),
                      _context(text, *m.span()))  # fmt: skip
    for m in _CONTEXT_DOCUMENT.finditer(text):
        if m.start(1) not in seen:
            yield TextHit("passport", f"passport or permit number {mask_id_number(m.group(1))}", m.group(1),
                          _context(text, *m.span(1)))  # fmt: skip


# --- residential addresses -----------------------------------------------------------------------

_NUM = r"[0-9A-Za-z一二三四五六七八九十百零〇两]{1,5}"
_BUILDING = rf"{_NUM}\s*(?:栋|幢|号楼)"
_UNIT = rf"{_NUM}\s*单元"
_ROOM = rf"{_NUM}\s*(?:室|户|号房|号)?"
_ADDRESS = re.compile(
    rf"{_BUILDING}\s*-?\s*{_UNIT}(?:\s*-?\s*{_ROOM})?|{_BUILDING}\s*-?\s*{_NUM}\s*(?:室|户)|{_UNIT}\s*-?\s*{_NUM}\s*(?:室|户|号)"
)


def address_hits(text: str) -> Iterator[TextHit]:
    """A building and a unit or a room: a home's address (an office's floor and room is not)."""
    if not any(w in text for w in ("栋", "幢", "号楼", "单元")):
        return
    for m in _ADDRESS.finditer(text):
        yield TextHit("address", "residential address (building, unit, room)", m.group(0),
                      _context(text, max(0, m.start() - 8), m.end()))  # fmt: skip


# --- other people's names -------------------------------------------------------------------------

_CLAUSE = re.compile(r"[^，。；：、！？,.;:!?\n（）()“”\"'《》【】\[\]]+")
_PLACEHOLDER = "该单位"
_HAN = re.compile(r"[\u4e00-\u9fff]{2}")


def name_hits(text: str, exempt: Iterable[str] = ()) -> Iterator[TextHit]:
    """Person names, by the segmenter's tags, in every clause; names the row publishes anyway
    (``exempt``) are taken out first."""
    if not _HAN.search(text):
        return
    from internal_node.names import person_names  # lazily: loading the segmenter takes seconds

    blanked = text
    for name in sorted({n for n in exempt if n and len(n) >= 2}, key=len, reverse=True):
        blanked = blanked.replace(name, _PLACEHOLDER)
    for clause in _CLAUSE.finditer(blanked):
        part = clause.group(0)
        if not _HAN.search(part):
            continue
        for found in person_names(re.sub(r"[0-9]", "0", part)):
            yield TextHit("person-name", f"a person's name {mask_name(found)}", found, part[: CONTEXT * 3])


def scan_free_text(text: str, *, exempt_names: Iterable[str] = ()) -> list[TextHit]:
    """Every hit in one free text (normalised first: NFKC, invisible format characters removed)."""
    normal = normalise(text)
    hits = [
        *classification_hits(normal),
        *number_hits(normal),
        *document_hits(normal),
        *address_hits(normal),
    ]
    hits.extend(name_hits(normal, exempt_names))
    return hits


def mask_own_name(text: str, name: str, masked: str) -> str:
    """``text`` with the subject's own ``name`` replaced by its published form ``masked``."""
    if not name or len(name) < 2 or name not in text:
        return text
    return text.replace(name, masked)
