"""Identity cards: self-signed, canonical, and refused when altered, forged or malformed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from keys import canonical
from keys.card import IdentityCard, make_card, parse_card, read_card
from keys.contexts import Purpose
from keys.errors import CardError, SignatureError
from keys.identity import SecretKeys

NOW = datetime.fromisoformat("2026-11-26T08:00:00.123456+00:00")


@pytest.fixture
def secret() -> SecretKeys:
    return SecretKeys(bytes([7]) * 32, bytes([9]) * 32)


@pytest.fixture
def card(secret: SecretKeys) -> IdentityCard:
    return make_card(
        secret, node_id="node-a", node_name="市信用中心", role="public", created=NOW, expires=NOW + timedelta(days=30)
    )


def test_round_trip(card: IdentityCard, secret: SecretKeys) -> None:
    data = card.encode()
    assert data.endswith(b"\n") and canonical.decode(data[:-1])
    again = parse_card(data)
    assert again == card
    assert again.key_id == secret.key_id and again.node_name == "市信用中心"
    assert again.created.microsecond == 0  # documents hold whole seconds
    assert parse_card(data[:-1]) == card  # the final newline is optional


def test_deterministic(card: IdentityCard, secret: SecretKeys) -> None:
    """Exporting twice gives the same bytes (Ed25519 is deterministic, the document canonical)."""
    other = make_card(
        secret, node_id="node-a", node_name="市信用中心", role="public", created=NOW, expires=NOW + timedelta(days=30)
    )
    assert other.encode() == card.encode()


def _tamper(card: IdentityCard, field: str, value: object) -> bytes:
    envelope = orjson.loads(card.encode())
    envelope["card"][field] = value
    return canonical.encode(envelope)


@pytest.mark.parametrize(
    ("field", "value"),
    [("node_name", "someone else"), ("node_id", "node-b"), ("role", "internal"), ("expires", "2099-01-01T00:00:00Z")],
)
def test_any_change_breaks_the_self_signature(card: IdentityCard, field: str, value: object) -> None:
    with pytest.raises(SignatureError) as info:
        parse_card(_tamper(card, field, value))
    assert info.value.exit_code == 4 and "self-signature" in str(info.value)


def test_a_card_signed_by_another_key_is_refused(card: IdentityCard) -> None:
    """Someone substitutes their own signature: it does not verify under the card's public key."""
    mallory = SecretKeys(bytes([1]) * 32, bytes([2]) * 32)
    envelope = orjson.loads(card.encode())
    envelope["signature"] = mallory.sign(Purpose.IDENTITY_CARD, canonical.encode(envelope["card"])).hex()
    with pytest.raises(SignatureError):
        parse_card(canonical.encode(envelope))


def test_key_id_must_be_the_fingerprint(card: IdentityCard) -> None:
    with pytest.raises(CardError) as info:
        parse_card(_tamper(card, "key_id", "0" * 32))
    assert "fingerprint" in str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{}",
        b"not json",
        b'{"card": {}, "signature": "00"}',
        b'{"signature":"00","card":{}}',  # keys out of order: not canonical
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(CardError) as info:
        parse_card(data)
    assert info.value.exit_code == 3 and info.value.reason == "bad-card"


def test_whitespace_variant_is_refused(card: IdentityCard) -> None:
    pretty = orjson.dumps(orjson.loads(card.encode()), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    with pytest.raises(CardError):
        parse_card(pretty)


def test_oversized(card: IdentityCard) -> None:
    with pytest.raises(CardError):
        parse_card(card.encode() + b" " * 9000)


def test_expiry(card: IdentityCard) -> None:
    card.check_valid(NOW)
    with pytest.raises(CardError) as info:
        card.check_valid(card.expires)
    assert info.value.reason == "expired-card"


def test_read_card_names_the_file(tmp_path: Path, card: IdentityCard) -> None:
    path = tmp_path / "peer.card"
    path.write_bytes(_tamper(card, "node_name", "x"))
    with pytest.raises(SignatureError) as info:
        read_card(path)
    assert str(info.value).startswith(f"{path}: ")
    with pytest.raises(CardError) as info2:
        read_card(tmp_path / "missing.card")
    assert str(tmp_path / "missing.card") in str(info2.value)


@pytest.mark.parametrize("node_id", ["../evil", "A-upper", "x", "-lead", "a" * 64, "名字"])
def test_node_ids_follow_the_format_grammar(secret: SecretKeys, node_id: str) -> None:
    """Node ids also name channel folders on the medium: a signed card with a hostile one is refused."""
    card = make_card(
        secret, node_id=node_id, node_name="n", role="public", created=NOW, expires=NOW + timedelta(days=1)
    )
    with pytest.raises(CardError) as info:
        parse_card(card.encode())
    assert "node_id" in str(info.value)
