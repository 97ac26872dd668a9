"""Strict field checks shared by the key documents (key files, identity cards, statements)."""

from __future__ import annotations

from typing import Any

from keys.errors import N_, EncodingError
from keys.identity import ROLES, PublicKeys, Role
from keys.strict import NODE_ID, hex_of, matches


def node_id_field(value: object, name: str = "node_id") -> str:
    """A node id: 3 to 63 of ``a-z 0-9 -``, not starting with ``-``."""
    if not matches(value, NODE_ID):
        raise EncodingError(
            N_("{name} must match [a-z0-9][a-z0-9-]{{2,62}}, found {value!r:.70}"),
            params={"name": name, "value": value},
        )
    return value


def fields(doc: object, name: str, required: set[str], optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    """``doc`` as an object with exactly the ``required`` keys (plus any of ``optional``)."""
    if not isinstance(doc, dict):
        raise EncodingError(N_("{name} must be an object"), params={"name": name})
    missing = required - doc.keys()
    extra = doc.keys() - required - optional
    if missing:
        raise EncodingError(N_("{name} lacks {fields}"), params={"name": name, "fields": ", ".join(sorted(missing))})
    if extra:
        raise EncodingError(
            N_("{name} has unexpected fields {fields}"), params={"name": name, "fields": ", ".join(sorted(extra))}
        )
    return doc


def hex_field(value: object, name: str, nbytes: int) -> bytes:
    """A lowercase hex string of exactly ``nbytes`` bytes."""
    raw = hex_of(value, nbytes)
    if raw is None:
        raise EncodingError(
            N_("{name} must be {digits} lowercase hex digits"), params={"name": name, "digits": 2 * nbytes}
        )
    return raw


def text_field(value: object, name: str, max_len: int = 200) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise EncodingError(
            N_("{name} must be a non-empty string of at most {max_len} characters"),
            params={"name": name, "max_len": max_len},
        )
    return value


def role_field(value: object, name: str = "role") -> Role:
    if value not in ROLES:
        raise EncodingError(
            N_("{name} must be 'internal' or 'public', found {value!r:.40}"), params={"name": name, "value": value}
        )
    return value


def int_field(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise EncodingError(
            N_("{name} must be an integer from {low} to {high}"), params={"name": name, "low": low, "high": high}
        )
    return value


def public_field(value: object, name: str = "public") -> PublicKeys:
    pub = fields(value, name, {"sign", "enc"})
    return PublicKeys(hex_field(pub["sign"], f"{name}.sign", 32), hex_field(pub["enc"], f"{name}.enc", 32))
