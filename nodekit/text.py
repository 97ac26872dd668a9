"""Making untrusted strings safe for terminals and logs."""

from __future__ import annotations

import unicodedata
from typing import Any


def printable(value: object, limit: int = 200) -> str:
    """Escape control, format and separator characters (ANSI escapes, bidi overrides, newlines)
    so a string read from a package or a file cannot drive a terminal or forge a log line."""
    text = value if isinstance(value, str) else human(value)
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


def human(value: object) -> str:
    """A value as a person reads it, never as a Python repr: ``-`` for nothing, ``yes``/``no``,
    ``k v, k v`` for a mapping and ``a, b`` for a list (their strings still go through
    :func:`printable` when shown)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{human(k)} {human(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(human(v) for v in value) or "-"
    return str(value)


_IRREGULAR = {"entry": "entries", "copy": "copies", "body": "bodies", "reply": "replies"}


def plural(count: int, noun: str) -> str:
    """``1 package``, ``2 packages``, ``0 entries``: a count with its noun in the right number
    (the last word of ``noun`` is the one that changes)."""
    if count == 1:
        return f"{count} {noun}"
    head, _, last = noun.rpartition(" ")
    many = _IRREGULAR.get(last) or (last + "es" if last.endswith(("s", "x", "ch", "sh")) else last + "s")
    return f"{count} {head + ' ' if head else ''}{many}"
