"""Whole-string, ASCII-only checks of untrusted text: the one place the product's validators get
their patterns, dates and integers from (issue 12).

Python's defaults are lenient in ways a validator must not be: ``re.match(r"^x$")`` accepts
``"x\\n"``, ``\\d`` and ``str.isdigit`` accept Arabic-Indic and full-width digits, ``int()`` accepts
``" 12\\n"``, ``"1_000"`` and ``"١٢"``, and ``date.fromisoformat`` accepts ``20260101`` and
``2026-W01-1``. Everything here accepts exactly the ASCII text it names, or nothing.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TypeGuard

__all__ = [
    "DATE",
    "KEY_ID",
    "NODE_ID",
    "ascii_int",
    "calendar_date",
    "hex_of",
    "is_hex",
    "matches",
    "whole",
]


def whole(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``pattern`` compiled to match only a whole string, with ``\\d``, ``\\w`` and ``\\s`` meaning ASCII.

    ``match``, ``fullmatch`` and ``search`` of the result all accept the entire string or nothing:
    ``\\Z`` (unlike ``$``) does not match before a final newline.
    """
    return re.compile(rf"\A(?:{pattern})\Z", flags | re.ASCII)


NODE_ID = whole(r"[a-z0-9][a-z0-9-]{2,62}")  # docs/FORMAT.md: it also names folders on the medium
KEY_ID = whole(r"[0-9a-f]{32}")
DATE = whole(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_HEX = whole(r"[0-9a-f]*")
_DIGITS = whole(r"[0-9]{1,18}")  # 18 digits stay below 2^63 and far below int()'s 4300-digit limit


def matches(value: object, pattern: re.Pattern[str]) -> TypeGuard[str]:
    """Whether ``value`` is a string that ``pattern`` matches entirely (whatever its anchors)."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def is_hex(value: object, nchars: int | None = None) -> TypeGuard[str]:
    """Whether ``value`` is lowercase ASCII hex, of exactly ``nchars`` characters when given."""
    if not isinstance(value, str) or (nchars is not None and len(value) != nchars):
        return False
    return _HEX.fullmatch(value) is not None


def hex_of(value: object, nbytes: int) -> bytes | None:
    """The bytes of ``value`` if it is exactly ``2 * nbytes`` lowercase hex digits, else ``None``.

    (``bytes.fromhex`` alone skips whitespace and accepts upper case.)
    """
    return bytes.fromhex(value) if is_hex(value, 2 * nbytes) else None


def calendar_date(value: object) -> date | None:
    """The date written ``YYYY-MM-DD`` in ``value``, or ``None`` if it is not exactly that and a real date.

    The pattern comes first: on Python 3.11 ``date.fromisoformat`` also takes ``20260101`` and
    ``2026-W01-1``; the calendar check (``2026-02-30``) comes second.
    """
    if not matches(value, DATE):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def ascii_int(text: object) -> int | None:
    """The integer written in ``text`` as 1 to 18 ASCII digits and nothing else, or ``None``."""
    if not matches(text, _DIGITS):
        return None
    return int(text)
