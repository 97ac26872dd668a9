"""The masking rules of the disclosure policy: total functions from a stored value to its public form.

Every rule takes any value and returns ``str | None``; none of them raises. ``None`` stays ``None``
(nothing to mask), any other non-string value is first turned into its ``str()``, surrounding
whitespace is removed, and an empty string stays empty. Each rule errs towards hiding more: a value
too short to be partly shown is hidden whole (see each rule's docstring and docs/POLICY.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

MaskRule = Callable[[object], str | None]

HIDDEN = "***"
"""What a value that cannot be partly shown becomes (fixed length, so its length is not revealed)."""

# 复姓: compound surnames kept whole by the name rule (the common ones of the 百家姓 and of
# present-day registers). A two-character name starting with one of these is a surname of one
# character plus a given name (欧阳 alone is read as 欧 + 阳), so the rule applies only to names
# of three characters or more.
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "轩辕",
        "令狐",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "万俟",
        "闻人",
        "赫连",
        "澹台",
        "公冶",
        "宗政",
        "濮阳",
        "淳于",
        "单于",
        "太叔",
        "申屠",
        "仲孙",
        "钟离",
        "呼延",
        "司空",
        "鲜于",
        "百里",
        "东郭",
        "拓跋",
        "第五",
        "梁丘",
        "左丘",
        "公羊",
        "谷梁",
        "羊舌",
        "微生",
        "乐正",
        "亓官",
        "司寇",
        "巫马",
        "公西",
        "壤驷",
        "公良",
        "漆雕",
        "颛孙",
        "子车",
        "段干",
        "东门",
        "南门",
        "北堂",
        "完颜",
        "爱新觉罗",
        "叶赫那拉",
    ]
)

_NAME_SEPARATORS = frozenset(" ·•‧・.-'")

# Names of the county level (区/县/旗, county-level 市) close an address's public part; these words
# end in 区 but name a place inside a district (a residential compound, a park, a campus), so an
# address is never cut after them.
_NOT_DISTRICTS = (
    "小区",
    "社区",
    "园区",
    "景区",
    "校区",
    "厂区",
    "街区",
    "片区",
    "营区",
    "林区",
    "宿舍区",
    "生活区",
    "住宅区",
    "商业区",
    "工业区",
    "办公区",
    "院区",
)
_DIVISION = re.compile(r"(省|自治区|特别行政区|市|自治州|州|地区|盟|区|县|自治县|旗|自治旗)")
_MAX_DISTRICT_PREFIX = 24
_COUNTRY_CODE = re.compile(r"^\s*(\+|00)86[\s-]*")


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text.strip()


def _compact(text: str) -> str:
    """NFKC (full-width digits become ASCII) without spaces and hyphens, for number-like values."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch not in " -\u3000\t")


def mask_id_number(value: object) -> str | None:
    """Keep the first 6 and last 4 characters of an ID number: ``110105********002X``.

    18 or more characters (resident IDs): 6 + 4 kept, the rest one ``*`` each, so the length stays.
    15–17 characters (legacy 15-digit resident IDs): 6 + 4 kept as well (five or more hidden).
    8–14 characters (passports, permits): the first 2 and last 2 kept. Shorter: :data:`HIDDEN`.
    Spaces and hyphens inside are removed first, full-width characters folded (NFKC).
    """
    text = _text(value)
    if not text:
        return text
    compact = _compact(text).upper()
    n = len(compact)
    if n >= 15:
        return compact[:6] + "*" * (n - 10) + compact[-4:]
    if n >= 8:
        return compact[:2] + "*" * (n - 4) + compact[-2:]
    return HIDDEN


def surname_length(name: str) -> int:
    """How many leading characters of ``name`` are the surname (compound surnames kept whole)."""
    for length in (4, 3, 2):
        if len(name) > length and name[:length] in COMPOUND_SURNAMES:
            return length
    return 1


def mask_name(value: object) -> str | None:
    """Keep a natural person's surname and hide the given name: 张三 → 张*, 张三丰 → 张**, 欧阳修 → 欧阳*.

    Compound surnames (欧阳, 司马, …) are kept whole when the name is longer than the surname. Each
    other character becomes ``*``, except separators (space, ·, hyphen), so 买买提·艾力 → 买**·**. A
    Latin-script name keeps its first letter: ``John Smith`` → ``J*** *****``. A one-character name
    becomes ``*``.
    """
    text = _text(value)
    if not text:
        return text
    if len(text) == 1:
        return "*"
    keep = surname_length(text)
    return text[:keep] + "".join(ch if ch in _NAME_SEPARATORS else "*" for ch in text[keep:])


def mask_phone(value: object) -> str | None:
    """Keep the first 3 and last 4 digits of a phone number: ``138****5678``, ``087*-****5678``.

    Works on the digits: other characters (hyphens, brackets, a ``+86``'s plus) stay where they are.
    A value with fewer than 8 digits is too short to show partly and becomes :data:`HIDDEN`.
    """
    text = _text(value)
    if not text:
        return text
    text = unicodedata.normalize("NFKC", text)
    # a country code is not part of the number whose first 3 digits are kept
    prefix = _COUNTRY_CODE.match(text)
    head, text = (prefix.group(0), text[prefix.end() :]) if prefix else ("", text)
    # isdigit, not [0-9]: a digit of any script is part of the number and is masked like the others
    digits = sum(ch.isdigit() for ch in text)
    if digits < 8:
        return HIDDEN
    out: list[str] = [head]
    seen = 0
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= 3 or seen > digits - 4 else "*")
        else:
            out.append(ch)
    return "".join(out)


def mask_address(value: object) -> str | None:
    """Cut an address to its district: 云南省昆明市五华区护国路88号 → 云南省昆明市五华区.

    The cut is after the last administrative-division word (省, 自治区, 市, 州, 地区, 盟, 区, 县, 旗)
    of the address's leading run of divisions, never after a word such as 小区 or 园区. An address
    whose leading part is no division (no district can be found), or whose kept part contains a
    digit or is implausibly long, becomes :data:`HIDDEN`.
    """
    text = _text(value)
    if not text:
        return text
    text = unicodedata.normalize("NFKC", text)
    end = 0
    pos = 0
    while pos < len(text):
        match = _DIVISION.search(text, pos)
        if match is None:
            break
        # a division name is 1–8 characters before its suffix; a longer stretch means street text
        if match.start() - pos > 8 or match.start() == pos:
            break
        cut = match.end()
        if any(text[:cut].endswith(word) for word in _NOT_DISTRICTS):
            break
        end = cut
        if match.group(1) in ("区", "县", "旗", "自治县", "自治旗"):
            break  # the county level: the public part ends here
        pos = cut
    kept = text[:end]
    if not kept or len(kept) > _MAX_DISTRICT_PREFIX or any(ch.isdigit() for ch in kept):
        return HIDDEN
    return kept


def mask_bank_account(value: object) -> str | None:
    """Keep the last 4 digits of a bank account: ``****1234``.

    Spaces and hyphens are removed first. A value with fewer than 8 characters left becomes
    :data:`HIDDEN` (showing its last 4 would show most of it).
    """
    text = _text(value)
    if not text:
        return text
    compact = _compact(text)
    if len(compact) < 8:
        return HIDDEN
    return "****" + compact[-4:]


def mask_full(value: object) -> str | None:
    """Hide the whole value: any non-empty value becomes :data:`HIDDEN` (``***``)."""
    text = _text(value)
    if not text:
        return text
    return HIDDEN


RULES: dict[str, MaskRule] = {
    "id_number": mask_id_number,
    "name": mask_name,
    "phone": mask_phone,
    "address": mask_address,
    "bank_account": mask_bank_account,
    "full": mask_full,
}
"""The masking rules a policy may name as ``mask:<rule>``."""
