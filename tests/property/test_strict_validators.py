"""Issue 12, case 12: every validator of untrusted text accepts whole ASCII strings only.

Each validator below is fed a value it accepts, then the same value with a trailing newline, a
Unicode digit, a confusable letter, surrounding blanks or a NUL; each variant must be refused. The
department-file ingest is the one place that folds: full-width digits and separators read as ASCII
(docs/INGEST.md), every other script's digits refused.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from internal_node import validate as ingest
from internal_node.cli_exchange import _RANGE
from internal_node.leakguard import scan_text
from internal_node.projection import _version, as_date
from keys.errors import EncodingError
from keys.identity import check_key_id, parse_fingerprint
from keys.schema import hex_field, node_id_field
from keys.strict import KEY_ID, NODE_ID, ascii_int, calendar_date, is_hex, matches
from keys.times import parse_time, parse_validity
from nodekit.errors import ConfigError
from nodekit.home import parse_duration
from public_node.changes import _iso_date
from tests.unit.transfer.conftest import Pair, record
from tests.vectors.format2 import application_status
from transfer.errors import PackageRejected
from transfer.header import Header, check_node_id, parse_prefix
from transfer.items import validate
from transfer.medium import CHANNEL_DIR, PACKAGE_NAME, Medium

EXAMPLES = int(os.environ.get("CREDGAP_HYPOTHESIS_EXAMPLES", "300"))

# one digit in other scripts: Arabic-Indic, Extended Arabic-Indic, Devanagari, full-width, Bengali
DIGIT_SCRIPTS = (0x0660, 0x06F0, 0x0966, 0xFF10, 0x09E6)
CONFUSABLES = {"a": "а", "c": "с", "e": "е", "o": "ο", "p": "р", "x": "х", "b": "Ь", "d": "ԁ", "i": "і"}
EDGES = ("\n", "\r\n", " ", "\x00", "\t", "\u3000")


def _refuses(check: Callable[[str], object], *errors: type[Exception]) -> Callable[[str], bool]:
    def accepts(value: str) -> bool:
        try:
            return check(value) is not False and check(value) is not None
        except errors:
            return False

    return accepts


@dataclass(frozen=True)
class Validator:
    """A validator as a predicate, values it accepts, and whether surrounding blanks are its syntax."""

    name: str
    accepts: Callable[[str], bool]
    good: tuple[str, ...]
    trims_blanks: bool = False  # human or config input where spaces around the value are allowed


def _item_field(make: Callable[[str], dict[str, Any]]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        validate(make(value))
        return True

    return _refuses(check, PackageRejected)


def _row(**changes: Any) -> dict[str, Any]:
    item = record(1)
    item["row"] = {**item["row"], **changes}
    return item


def _objection(**changes: Any) -> dict[str, Any]:
    item = {
        "kind": "objection", "id": "0b" * 16, "table": "penalty", "key": "1" * 32, "version": 3,
        "submitted": "2026-11-20T09:30:00Z", "category": "inaccurate", "statement": "请更正。", "contact": None,
    }  # fmt: skip
    item.update(changes)
    return item


def _document(**changes: Any) -> dict[str, Any]:
    item = {
        "kind": "document", "op": "upsert", "key": "2" * 32, "version": 1, "name": "a.pdf",
        "media_type": "application/pdf", "title": "t", "subject_key": "3" * 32, "publish_until": None,
        "data": "JVBERi0=",
    }  # fmt: skip
    item.update(changes)
    return item


PAIR = Pair()
HEADER_DOC = parse_prefix(PAIR.seal([{"kind": "manifest", "policy": None, "content": None, "note": ""},
                                     {"kind": "heartbeat"}])[0]).document  # fmt: skip
KEY = PAIR.internal.key_id  # hex with letters and digits


def _header_with(path: tuple[str, str]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        doc = {**HEADER_DOC, path[0]: {**HEADER_DOC[path[0]], path[1]: value}}
        Header.from_document(doc)
        return True

    return _refuses(check, PackageRejected)


def _pattern(pattern: Any) -> Callable[[str], bool]:
    return lambda value: pattern.match(value) is not None  # as the medium scanner calls it


VALIDATORS = (
    Validator("strict.NODE_ID", lambda v: matches(v, NODE_ID), ("int-a", "pub-b2", "node-0042")),
    Validator("strict.KEY_ID", lambda v: matches(v, KEY_ID), (KEY,)),
    Validator("strict.is_hex", lambda v: is_hex(v, 64), ("0a" * 32,)),
    Validator("strict.calendar_date", _refuses(calendar_date), ("2026-11-26", "2028-02-29")),
    Validator("strict.ascii_int", _refuses(ascii_int), ("12", "1000", "0")),
    Validator("schema.node_id_field", _refuses(node_id_field, EncodingError), ("int-a", "pub-b")),
    Validator("schema.hex_field", _refuses(lambda v: hex_field(v, "sig", 16), EncodingError), (KEY,)),
    Validator("identity.check_key_id", _refuses(check_key_id, EncodingError), (KEY,)),
    Validator(
        "identity.parse_fingerprint",
        _refuses(parse_fingerprint, EncodingError),
        (KEY, " ".join(KEY[i : i + 4] for i in range(0, 32, 4))),
        trims_blanks=True,
    ),
    Validator("times.parse_time", _refuses(lambda v: parse_time(v, "at"), EncodingError), ("2026-11-20T09:30:00Z",)),
    Validator("times.parse_validity", _refuses(parse_validity, EncodingError), ("2y", "90d", "26w"), trims_blanks=True),
    Validator("header.check_node_id", _refuses(check_node_id, PackageRejected), ("int-a", "pub-b")),
    Validator("header sender.node", _header_with(("sender", "node")), ("int-a",)),
    Validator("header recipient.node", _header_with(("recipient", "node")), ("pub-b",)),
    Validator("header sender.key", _header_with(("sender", "key")), (KEY,)),
    Validator("item record key", _item_field(lambda v: {**record(1), "key": v}), ("1a" * 16,)),
    Validator("item row subject_key", _item_field(lambda v: _row(subject_key=v)), ("ab" * 16,)),
    Validator("item row publish_until", _item_field(lambda v: _row(publish_until=v)), ("2027-06-30",)),
    Validator("item row field name", _item_field(lambda v: _row(**{v: "1"})), ("fine_amount", "x2")),
    Validator("item document subject_key", _item_field(lambda v: _document(subject_key=v)), ("3c" * 16,)),
    Validator("item document publish_until", _item_field(lambda v: _document(publish_until=v)), ("2027-01-31",)),
    Validator("item objection id", _item_field(lambda v: _objection(id=v)), ("0b" * 16,)),
    Validator("item objection submitted", _item_field(lambda v: _objection(submitted=v)), ("2026-11-20T09:30:00Z",)),
    Validator(
        "item application-status received",
        _item_field(lambda v: application_status(received=v)),
        ("2026-11-26T06:10:00Z",),
    ),
    Validator("item application-status due", _item_field(lambda v: application_status(due=v)), ("2026-12-17",)),
    Validator(
        "item manifest policy",
        _item_field(lambda v: {"kind": "manifest", "policy": v, "content": None, "note": ""}),
        ("de" * 32,),
    ),
    Validator("medium PACKAGE_NAME", _pattern(PACKAGE_NAME), ("p000000000012-0123456789abcdef.cgp",)),
    Validator("medium CHANNEL_DIR", _pattern(CHANNEL_DIR), ("int-a_to_pub-b",)),
    Validator("home.parse_duration", _refuses(parse_duration, ConfigError), ("15m", "7d", "90s"), trims_blanks=True),
    Validator("cli export --resend", _pattern(_RANGE), ("3", "3..5")),
    Validator("projection.as_date", lambda v: isinstance(as_date(v), date), ("2026-11-26",), trims_blanks=True),
    Validator(
        "projection._version", _refuses(lambda v: _version({"version": v}), ValueError), ("12",), trims_blanks=True
    ),
    Validator("public changes._iso_date", _refuses(_iso_date), ("2026-11-26",)),
)


def _digit_variants(value: str) -> list[str]:
    return [
        value[:i] + chr(base + int(ch)) + value[i + 1 :]
        for i, ch in enumerate(value)
        if ch in "0123456789"
        for base in DIGIT_SCRIPTS
    ]


def _confusable_variants(value: str) -> list[str]:
    return [value[:i] + CONFUSABLES[ch] + value[i + 1 :] for i, ch in enumerate(value) if ch in CONFUSABLES]


def _edge_variants(value: str, trims_blanks: bool) -> list[str]:
    edges = ("\x00",) if trims_blanks else EDGES
    return [v for e in edges for v in (value + e, e + value)]


@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda v: v.name)
def test_each_validator_accepts_its_good_values(validator: Validator) -> None:
    """The refusals below mean something only if the same validator accepts the untouched value."""
    for value in validator.good:
        assert validator.accepts(value), (validator.name, value)


@settings(max_examples=EXAMPLES, deadline=None)
@given(validator=st.sampled_from(VALIDATORS), data=st.data())
def test_trailing_newlines_unicode_digits_confusables_blanks_and_nul_are_refused(
    validator: Validator, data: st.DataObject
) -> None:
    value = data.draw(st.sampled_from(validator.good))
    variants = _digit_variants(value) + _confusable_variants(value) + _edge_variants(value, validator.trims_blanks)
    assume(variants)
    hostile = data.draw(st.sampled_from(variants))
    assert not validator.accepts(hostile), (validator.name, hostile)


def test_an_every_variant_sweep_refuses_them_all() -> None:
    """The same, exhaustively over every variant of every good value (the property samples)."""
    for validator in VALIDATORS:
        for value in validator.good:
            for hostile in (
                _digit_variants(value) + _confusable_variants(value) + _edge_variants(value, validator.trims_blanks)
            ):
                assert not validator.accepts(hostile), (validator.name, hostile)


@pytest.mark.parametrize("text", ["20260101", "2026-W01-1", "2026-02-30", "2026-13-01", "2026-1-01", "2026-99-99"])
def test_a_date_is_yyyy_mm_dd_and_on_the_calendar(text: str) -> None:
    assert calendar_date(text) is None
    with pytest.raises(PackageRejected, match="publish_until"):
        validate(_row(publish_until=text))


def test_a_masked_contact_hint_may_not_hide_seven_digits_in_another_script() -> None:
    validate(_objection(contact="138****5678"))
    for base in DIGIT_SCRIPTS:
        unmasked = "".join(chr(base + int(d)) for d in "13800138000")
        with pytest.raises(PackageRejected, match="contact"):
            validate(_objection(contact=unmasked + "*"))


def test_a_channel_folder_with_a_trailing_newline_is_not_merged_into_the_channel(tmp_path: Path) -> None:
    """``a_to_b\\n`` matched ``^…$`` and was read as channel a→b; now it is reported, never read."""
    root = tmp_path / "medium"
    name = "p000000000001-0123456789abcdef.cgp"
    for folder in ("int-a_to_pub-b\n", "int-a_to_pub-b\r\n", "int-a_to_pub-b "):
        (root / folder).mkdir(parents=True)
        (root / folder / name).write_bytes(b"x")
    (root / "int-a_to_pub-b").mkdir()
    (root / "int-a_to_pub-b" / (name + "\n")).write_bytes(b"x")
    with Medium(root).scan(recipient="pub-b") as scan:
        files, odd = scan.files, scan.odd
    assert files == []
    assert sorted(u.path.name for u in odd) == sorted(["int-a_to_pub-b\n", "int-a_to_pub-b\r\n", "int-a_to_pub-b ",
                                                         name + "\n"])  # fmt: skip


def test_an_id_number_beside_a_digit_of_another_script_is_still_found() -> None:
    """The leak guard's "no digit right before or after" means ASCII digits, after its NFKC fold."""
    number = "11010519491231002X"
    assert scan_text(number)
    for base in (b for b in DIGIT_SCRIPTS if b != 0xFF10):  # a full-width digit folds into a longer number
        assert scan_text(chr(base + 7) + number), hex(base)
        assert scan_text(number + chr(base + 3)), hex(base)


# --- the ingest folds full-width digits on purpose, and only those --------------------------------

INGEST = (
    ("date", ingest.parse_date, "2026-03-01", date(2026, 3, 1)),
    ("date", ingest.parse_date, "2026年3月1日", date(2026, 3, 1)),
    ("date", ingest.parse_date, "20260301", date(2026, 3, 1)),
    ("amount", ingest.parse_amount, "1,250.5", ingest.parse_amount("1250.5")),
    ("commitment code", ingest.check_commitment_code, "11010120260301000001", "11010120260301000001"),
)


@pytest.mark.parametrize(("what", "parse", "text", "expected"), INGEST, ids=[i[2] for i in INGEST])
def test_ingest_reads_full_width_digits_as_ascii(
    what: str, parse: Callable[[str], Any], text: str, expected: Any
) -> None:
    full_width = text.translate(str.maketrans("0123456789-/.,", "０１２３４５６７８９－／．，"))
    assert parse(text) == expected
    assert parse(full_width) == expected, what


@settings(max_examples=EXAMPLES, deadline=None)
@given(case=st.sampled_from(INGEST), data=st.data())
def test_ingest_refuses_digits_of_every_other_script(case: tuple[str, Any, str, Any], data: st.DataObject) -> None:
    _, parse, text, _ = case
    variants = [v for v in _digit_variants(text) if not any(0xFF10 <= ord(c) <= 0xFF19 for c in v)]
    hostile = data.draw(st.sampled_from(variants))
    with pytest.raises(ingest.InvalidValue):
        parse(hostile)
