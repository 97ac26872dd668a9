"""The format advertisement (FORMAT.md §2.1) in a card and in a succession statement: signed, version 2
only when it says more than format 1, and refused when malformed or altered."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest

from keys import canonical
from keys.card import make_card, parse_card
from keys.contexts import Purpose
from keys.errors import CardError, SignatureError, StatementError
from keys.identity import SecretKeys
from keys.statements import make_succession, parse_statement

NOW = datetime.fromisoformat("2026-11-26T08:00:00+00:00")
A = SecretKeys(bytes([7]) * 32, bytes([9]) * 32)
B = SecretKeys(bytes([8]) * 32, bytes([10]) * 32)


def _card(reads: int) -> bytes:
    return make_card(
        A, node_id="node-a", node_name="a", role="public", created=NOW, expires=NOW + timedelta(days=30), reads=reads
    ).encode()


def _resigned(doc: dict[str, Any]) -> bytes:
    """A card document signed correctly by its own key: only the schema can refuse it."""
    sig = A.sign(Purpose.IDENTITY_CARD, canonical.encode(doc))
    return canonical.encode({"card": doc, "signature": sig.hex()})


def test_a_card_advertises_in_version_2_only() -> None:
    v1, v2 = orjson.loads(_card(1))["card"], orjson.loads(_card(2))["card"]
    assert v1["v"] == 1 and "reads" not in v1, "a format-1 node's card is byte-for-byte the old card"
    assert (v2["v"], v2["reads"]) == (2, 2)
    assert parse_card(_card(1)).reads == 1 and parse_card(_card(2)).reads == 2


@pytest.mark.parametrize(
    ("v", "reads", "why"),
    [(2, None, "lacks reads"), (2, 1, "reads must be"), (2, True, "reads must be"), (2, "2", "reads must be"),
     (2, 100, "reads must be"), (1, 2, "unexpected fields reads"), (3, 2, "unexpected fields reads")],
)  # fmt: skip
def test_malformed_advertisements_are_refused(v: int, reads: object, why: str) -> None:
    doc = orjson.loads(_card(2))["card"]
    doc["v"] = v
    if reads is None:
        del doc["reads"]
    else:
        doc["reads"] = reads
    with pytest.raises(CardError, match=why):
        parse_card(_resigned(doc))


def test_the_advertisement_is_signed() -> None:
    envelope = orjson.loads(_card(2))
    envelope["card"]["reads"] = 3
    with pytest.raises(SignatureError):
        parse_card(canonical.encode(envelope))


def _succession(reads: int) -> bytes:
    return make_succession(
        A, B, node_id="node-a", role="public", new_created=NOW, new_expires=NOW + timedelta(days=30), created=NOW,
        last_seq={"node-b": 3}, reads=reads,
    ).encode()  # fmt: skip


def test_a_succession_statement_advertises_in_version_2_only() -> None:
    assert orjson.loads(_succession(1))["statement"]["v"] == 1
    doc = orjson.loads(_succession(2))["statement"]
    assert (doc["v"], doc["reads"]) == (2, 2)
    assert parse_statement(_succession(2)).reads == 2  # type: ignore[union-attr]
    assert parse_statement(_succession(1)).reads == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(("v", "reads"), [(2, 1), (1, 2), (2, None), (2, 0)])
def test_malformed_statement_advertisements_are_refused(v: int, reads: object) -> None:
    envelope = orjson.loads(_succession(2))
    envelope["statement"]["v"] = v
    if reads is None:
        del envelope["statement"]["reads"]
    else:
        envelope["statement"]["reads"] = reads
    with pytest.raises(StatementError):
        parse_statement(canonical.encode(envelope))
