"""Record changes as the read model takes them: one verified package item (docs/DATA.md, "What
crosses the gap") checked for the fields the read model indexes and turned into the row it writes,
or into a removal."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, NamedTuple

import orjson

from keys.strict import calendar_date
from nodekit.text import printable
from public_node.errors import BadItem
from public_node.models import KEY_LENGTH, RECORD_TABLE
from public_node.search import normalise, normalise_code
from public_node.views import KINDS, LIST_TYPES

# The kind's own date, which orders a subject's records and the list pages (newest first).
RECORD_DATE_FIELD = {
    "licence": "decision_date",
    "penalty": "decision_date",
    "list_entry": "listed_date",
    "commitment": "commitment_date",
    "gov_credit": "occurred_date",
}
_KEY = re.compile(r"[0-9a-f]{32}")


class Upsert(NamedTuple):
    """An upsert as the ``published_record`` row it writes, fields in the table's column order, so
    the tuple itself is the bulk parameter row; dates are ISO strings, as both engines store them."""

    kind: str
    key: str
    version: int
    subject_key: str
    subject_name: str
    subject_category: str
    uscc: str | None
    doc_no: str | None
    doc_key: str | None
    publish_until: str | None
    list_type: str | None
    record_date: str | None
    row: str


if Upsert._fields != tuple(c.name for c in RECORD_TABLE.columns):  # pragma: no cover - a model edit
    raise ImportError("public_node.changes.Upsert must list published_record's columns in table order")


class Removal(NamedTuple):
    """A withdrawal, or an upsert that arrived after its publication end (``expired``)."""

    kind: str
    key: str
    version: int
    reason: str
    expired: bool


def parse_change(item: Mapping[str, Any], today: date) -> Upsert | Removal:
    """Check one record item and return what it does to the read model; raise :class:`BadItem`."""
    kind = item.get("table")
    if kind not in KINDS:
        raise BadItem(f"record item: table expected one of {', '.join(KINDS)}, got {printable(kind)}")
    key = item.get("key")
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise BadItem(f"{kind} record: key expected {KEY_LENGTH} lowercase hex digits, got {printable(key)}")
    version = item.get("version")
    if type(version) is not int or not 1 <= version < 2**63:
        raise BadItem(f"{kind} record {key}: version expected an integer from 1 to 2^63-1, got {printable(version)}")
    op = item.get("op")
    if op == "withdraw":
        reason = item.get("reason")
        if not isinstance(reason, str) or not 0 < len(reason) <= 64:
            raise BadItem(f"{kind} record {key}: withdrawal reason expected a short string, got {printable(reason)}")
        return Removal(kind, key, version, reason, False)
    if op != "upsert":
        raise BadItem(f"{kind} record {key}: op expected 'upsert' or 'withdraw', got {printable(op)}")
    row = item.get("row")
    if not isinstance(row, dict):
        raise BadItem(f"{kind} record {key}: row expected an object, got {type(row).__name__}")
    where = f"{kind} record {key}"
    subject_key = row.get("subject_key")
    if not isinstance(subject_key, str) or not _KEY.fullmatch(subject_key):
        raise BadItem(f"{where}: subject_key expected {KEY_LENGTH} lowercase hex digits, got {printable(subject_key)}")
    publish_until = row.get("publish_until")
    if publish_until is not None:
        if _iso_date(publish_until) is None:
            raise BadItem(f"{where}: publish_until expected a date YYYY-MM-DD or null, got {printable(publish_until)}")
        if publish_until < today.isoformat():  # ISO dates compare as strings
            return Removal(kind, key, version, "expired", True)
    name = _text(row, "subject_name", "name", where, 0)
    category = _text(row, "subject_category", "category", where, 32)
    uscc = _optional_text(row, "uscc", where, 64)
    doc_no = _optional_text(row, "doc_no", where, 0)
    list_type = None
    if kind == "list_entry":
        list_type = row.get("list_type")
        if list_type not in LIST_TYPES:
            raise BadItem(f"{where}: list_type expected one of {', '.join(LIST_TYPES)}, got {printable(list_type)}")
    try:
        row_json = orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise BadItem(f"{where}: row is not a flat JSON object: {exc}") from exc
    date_field = RECORD_DATE_FIELD.get(kind)
    return Upsert(
        kind,
        key,
        version,
        subject_key,
        name,
        category,
        normalise_code(uscc),
        doc_no,
        (normalise(doc_no) or None) if doc_no else None,
        publish_until,
        list_type,
        _iso_date(row.get(date_field)) if date_field else None,  # not a date: orders as unknown
        row_json,
    )


def _iso_date(value: Any) -> str | None:
    """``value`` if it is a valid ``YYYY-MM-DD`` date, else None."""
    return value if calendar_date(value) is not None else None


def _text(row: Mapping[str, Any], name: str, fallback: str, where: str, limit: int) -> str:
    value = row.get(name)
    if value is None:
        value = row.get(fallback)
    if not isinstance(value, str) or not value or (limit and len(value) > limit):
        bound = f" of at most {limit} characters" if limit else ""
        raise BadItem(f"{where}: {name} expected a non-empty string{bound}, got {printable(value)}")
    return value


def _optional_text(row: Mapping[str, Any], name: str, where: str, limit: int) -> str | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not (limit and len(value) > limit)):
        return value
    bound = f" of at most {limit} characters" if limit else ""
    raise BadItem(f"{where}: {name} expected a string{bound} or null, got {printable(value)}")
