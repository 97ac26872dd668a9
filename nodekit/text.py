"""Making untrusted strings safe for terminals and logs."""

from __future__ import annotations

import unicodedata
from typing import Any


def printable(value: object, limit: int = 200) -> str:
    """Escape control, format and separator characters (ANSI escapes, bidi overrides, newlines)
    so a string read from a package or a file cannot drive a terminal or forge a log line."""
    text = value if isinstance(value, str) else repr(value)
    out: list[str] = []
    for ch in text[:limit]:
        cat = unicodedata.category(ch)
        if ch == "\\":
            out.append("\\\\")
        elif cat in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    if len(text) > limit:
        out.append("…")
    return "".join(out)


def printable_doc(value: Any, limit: int = 200) -> Any:
    """:func:`printable` applied to every string (keys included) of a decoded JSON document."""
    if isinstance(value, str):
        return printable(value, limit)
    if isinstance(value, dict):
        return {printable(k, 64): printable_doc(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [printable_doc(v, limit) for v in value]
    return value
