"""The one canonical encoding of every signed document: JSON per RFC 8785 (JCS), restricted to a subset.

Allowed values: objects with ASCII keys, arrays, strings, booleans, null, and integers in
[-(2**53 - 1), 2**53 - 1]. No floats, no duplicate keys, no whitespace, keys sorted, UTF-8 output.
For this subset orjson's sorted, compact output is byte-identical to JCS; :func:`decode` accepts
only bytes that re-encode to themselves, which rejects duplicates, whitespace and other spellings.
"""

from __future__ import annotations

from typing import Any

import orjson

from keys.errors import N_, EncodingError, Said

MAX_SAFE_INT = 2**53 - 1


def _check(value: Any, depth: int = 0) -> None:
    # Exact types first, with the scalar members of an object checked in line: this runs over every
    # item sealed or opened, so calls per value matter. Anything else (subclasses included) takes
    # :func:`_check_any`, the rule in full; both accept and refuse exactly the same documents.
    if depth > 32:
        raise EncodingError(N_("document nested too deeply"))
    t = type(value)
    if t is dict:
        for key, item in value.items():
            if not (isinstance(key, str) and key.isascii()):
                raise EncodingError(N_("object key {key!r} is not an ASCII string"), params={"key": key})
            if item is None or type(item) is str:
                if depth >= 32:
                    raise EncodingError(N_("document nested too deeply"))
                continue
            _check(item, depth + 1)
        return
    if t is str or value is None or t is bool:
        return
    if t is int:
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise EncodingError(N_("integer {value} outside the canonical range"), params={"value": value})
        return
    if t is list:
        for item in value:
            _check(item, depth + 1)
        return
    _check_any(value, depth)


def _check_any(value: Any, depth: int) -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise EncodingError(N_("integer {value} outside the canonical range"), params={"value": value})
        return
    if isinstance(value, list):
        for item in value:
            _check(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise EncodingError(N_("object key {key!r} is not an ASCII string"), params={"key": key})
            _check(item, depth + 1)
        return
    raise EncodingError(
        N_("{name} values are not allowed in a canonical document"), params={"name": type(value).__name__}
    )


def encode(document: dict[str, Any]) -> bytes:
    """Encode ``document`` canonically (raises :class:`EncodingError` on values outside the subset)."""
    _check(document)
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


class _Detail(str):
    """A parser's English message (str) shown to the operator as ``said`` (its position, translated)."""

    template: str
    params: dict[str, object]

    def __new__(cls, english: str, said: Said) -> _Detail:
        detail = super().__new__(cls, english)
        detail.template, detail.params = said.template, said.params
        return detail


def decode(data: bytes) -> dict[str, Any]:
    """Decode canonical bytes into an object; anything that is not its own canonical form is refused."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # the parser's English stays in the logs; the operator reads where it stopped (keys/errors.Said)
        problem = Said(N_("at line {line}, column {column}"), line=exc.lineno, column=exc.colno)
        raise EncodingError(N_("not valid JSON: {problem}"), params={"problem": _Detail(str(exc), problem)}) from exc
    if not isinstance(document, dict):
        raise EncodingError(N_("expected a JSON object"))
    if encode(document) != data:
        raise EncodingError(N_("not in canonical form (RFC 8785 subset: sorted keys, no whitespace, no duplicates)"))
    return document
