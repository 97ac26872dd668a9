"""Succession and revocation statements and the pure trust rules; domain separation of signatures."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from itertools import permutations

import orjson
import pytest

from keys import canonical
from keys.card import make_card
from keys.contexts import Purpose
from keys.errors import SignatureError, StatementError, TrustError
from keys.identity import SecretKeys, verify_signature
from keys.statements import (
    RevocationStatement,
    SuccessionStatement,
    check_revocation,
    check_succession,
    make_revocation,
    make_succession,
    parse_statement,
    statement_from_object,
)
from keys.trust import KeyStatus, TrustedKey, TrustState

NOW = datetime.fromisoformat("2026-11-26T08:00:00+00:00")
YEAR = timedelta(days=365)
ME = "recipient-node"


def keys(n: int) -> SecretKeys:
    return SecretKeys(bytes([n]) * 32, bytes([n + 100]) * 32)


A1, A2, A3, B1 = keys(1), keys(2), keys(3), keys(4)


def trusted(secret: SecretKeys, node_id: str, status: KeyStatus = KeyStatus.TRUSTED, **kw: object) -> TrustedKey:
    return TrustedKey(
        key_id=secret.key_id,
        node_id=node_id,
        node_name=node_id + "-name",
        role="internal",
        public=secret.public,
        status=status,
        created=NOW - YEAR,
        expires=NOW + YEAR,
        **kw,  # type: ignore[arg-type]
    )


def succession(
    old: SecretKeys = A1, new: SecretKeys = A2, node_id: str = "node-a", **kw: object
) -> SuccessionStatement:
    args: dict[str, object] = {
        "node_id": node_id,
        "role": "internal",
        "new_created": NOW,
        "new_expires": NOW + YEAR,
        "created": NOW,
        "last_seq": {ME: 7, "other": 3},
    }
    args.update(kw)
    return make_succession(old, new, **args)  # type: ignore[arg-type]


def state(*keys_: TrustedKey) -> TrustState:
    return TrustState(keys_)


# -- encoding ------------------------------------------------------------------------------------


def test_statements_round_trip() -> None:
    st = succession()
    assert parse_statement(st.encode()) == st
    assert statement_from_object(st.envelope()) == st
    rv = make_revocation(A1, node_id="node-a", role="internal", reason="compromised", created=NOW)
    assert parse_statement(rv.encode()) == rv
    assert statement_from_object(orjson.loads(rv.encode())) == rv


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b'{"statement":{"type":"credgap-key-nothing"}}',
        b'{"statement":{"type":"credgap-key-revocation","v":1}}',
    ],
)
def test_malformed_statements(data: bytes) -> None:
    with pytest.raises(StatementError) as info:
        parse_statement(data)
    assert info.value.exit_code == 3


def test_last_seq_must_be_non_negative_integers() -> None:
    envelope = succession().envelope()
    envelope["statement"]["last_seq"] = {ME: -1}
    with pytest.raises(StatementError):
        statement_from_object(envelope)
    envelope["statement"]["last_seq"] = {ME: True}
    with pytest.raises(StatementError):
        statement_from_object(envelope)


def test_new_key_id_must_match_new_public() -> None:
    envelope = succession().envelope()
    envelope["statement"]["new_key_id"] = A3.key_id
    with pytest.raises(StatementError):
        statement_from_object(envelope)


# -- succession rules ----------------------------------------------------------------------------


def test_succession_accepted() -> None:
    change = check_succession(succession(), state(trusted(A1, "node-a")), recipient_node_id=ME, now=NOW)
    assert not change.already_applied
    assert change.old.key_id == A1.key_id and change.last_seq == 7
    assert change.new.key_id == A2.key_id and change.new.node_id == "node-a" and change.new.role == "internal"
    assert change.new.status is KeyStatus.TRUSTED and change.new.node_name == "node-a-name"


def test_a_recipient_the_statement_does_not_name_gets_nothing_from_the_old_key() -> None:
    change = check_succession(succession(), state(trusted(A1, "node-a")), recipient_node_id="newcomer", now=NOW)
    assert change.last_seq == 0


def test_after_applying_the_old_key_signs_only_up_to_last_seq() -> None:
    change = check_succession(succession(), state(trusted(A1, "node-a")), recipient_node_id=ME, now=NOW)
    after = state(
        replace(change.old, status=KeyStatus.SUPERSEDED, last_seq=change.last_seq, replaced_by=change.new.key_id),
        change.new,
    )
    assert after.signer(A1.key_id, role="internal", seq=7, at=NOW).key_id == A1.key_id
    with pytest.raises(TrustError) as info:
        after.signer(A1.key_id, role="internal", seq=8, at=NOW)
    assert info.value.reason == "superseded-signer"
    assert after.signer(A2.key_id, role="internal", seq=8, at=NOW).key_id == A2.key_id
    assert after.current_for("node-a").key_id == A2.key_id
    # applying it again is recognised and changes nothing
    again = check_succession(succession(), after, recipient_node_id=ME, now=NOW)
    assert again.already_applied


def test_succession_by_an_untrusted_key() -> None:
    with pytest.raises(TrustError) as info:
        check_succession(succession(), state(trusted(B1, "node-b")), recipient_node_id=ME, now=NOW)
    assert info.value.reason == "untrusted-key" and info.value.exit_code == 4


def test_succession_for_another_node() -> None:
    """Node B, trusted for itself, cannot rotate node A's identity, however it words the statement."""
    st = succession(old=B1, new=A3, node_id="node-a")
    with pytest.raises(TrustError) as info:
        check_succession(st, state(trusted(A1, "node-a"), trusted(B1, "node-b")), recipient_node_id=ME, now=NOW)
    assert info.value.reason == "wrong-node"
    assert "can only rotate its own key" in str(info.value)


def test_succession_naming_the_wrong_role() -> None:
    st = succession(role="public")
    with pytest.raises(TrustError) as info:
        check_succession(st, state(trusted(A1, "node-a")), recipient_node_id=ME, now=NOW)
    assert info.value.reason == "wrong-node"


def test_succession_to_a_key_the_new_holder_did_not_sign_for() -> None:
    """Naming somebody else's public key as successor fails: the new key's signature is required."""
    st = succession(new=B1)
    forged = replace(st, new_signature=A1.sign(Purpose.SUCCESSION, st.signed_bytes()))
    with pytest.raises(SignatureError) as info:
        check_succession(forged, state(trusted(A1, "node-a")), recipient_node_id=ME, now=NOW)
    assert "new key" in str(info.value)


def test_succession_with_a_bad_old_signature() -> None:
    st = succession()
    tampered = replace(st, last_seq={ME: 10**6})  # a bigger window than the old key signed
    with pytest.raises(SignatureError) as info:
        check_succession(tampered, state(trusted(A1, "node-a")), recipient_node_id=ME, now=NOW)
    assert "replaced key" in str(info.value)


@pytest.mark.parametrize("status", [KeyStatus.REVOKED, KeyStatus.DISTRUSTED])
def test_succession_by_a_revoked_key(status: KeyStatus) -> None:
    with pytest.raises(TrustError) as info:
        check_succession(succession(), state(trusted(A1, "node-a", status)), recipient_node_id=ME, now=NOW)
    assert info.value.reason == "revoked-key"


def test_succession_by_an_already_replaced_key() -> None:
    """A1 was replaced by A2; a second statement by A1 naming A3 is refused (no forks of identity)."""
    old = trusted(A1, "node-a", KeyStatus.SUPERSEDED, last_seq=7, replaced_by=A2.key_id)
    with pytest.raises(TrustError) as info:
        check_succession(succession(new=A3), state(old, trusted(A2, "node-a")), recipient_node_id=ME, now=NOW)
    assert info.value.reason == "superseded-key"


def test_succession_made_outside_the_old_keys_validity() -> None:
    st = succession(created=NOW + 2 * YEAR, new_created=NOW + 2 * YEAR, new_expires=NOW + 3 * YEAR)
    with pytest.raises(TrustError) as info:
        check_succession(st, state(trusted(A1, "node-a")), recipient_node_id=ME, now=NOW)
    assert info.value.reason == "expired-key"


def test_succession_to_an_expired_key() -> None:
    st = succession(new_created=NOW - YEAR, new_expires=NOW - timedelta(days=1))
    with pytest.raises(TrustError) as info:
        check_succession(st, state(trusted(A1, "node-a")), recipient_node_id=ME, now=NOW)
    assert info.value.reason == "expired-key"


def test_succession_to_a_known_or_revoked_key() -> None:
    with pytest.raises(TrustError) as info:
        check_succession(
            succession(new=B1), state(trusted(A1, "node-a"), trusted(B1, "node-b")), recipient_node_id=ME, now=NOW
        )
    assert info.value.reason == "duplicate-key"
    with pytest.raises(TrustError) as info:
        check_succession(
            succession(new=B1),
            state(trusted(A1, "node-a"), trusted(B1, "node-b", KeyStatus.REVOKED)),
            recipient_node_id=ME,
            now=NOW,
        )
    assert info.value.reason == "revoked-key"


# -- revocation rules ----------------------------------------------------------------------------


def revocation(secret: SecretKeys = A1, node_id: str = "node-a") -> RevocationStatement:
    return make_revocation(secret, node_id=node_id, role="internal", reason="compromised", created=NOW)


def test_revocation_accepted_whatever_the_dates() -> None:
    expired = replace(trusted(A1, "node-a"), expires=NOW - YEAR)
    change = check_revocation(revocation(), state(expired))
    assert change.key.key_id == A1.key_id and not change.already_applied
    assert check_revocation(revocation(), state(trusted(A1, "node-a", KeyStatus.REVOKED))).already_applied


def test_revocation_of_an_unknown_key() -> None:
    with pytest.raises(TrustError) as info:
        check_revocation(revocation(), state(trusted(B1, "node-b")))
    assert info.value.reason == "untrusted-key"


def test_revocation_must_be_signed_by_the_revoked_key() -> None:
    st = revocation()
    forged = replace(st, signature=B1.sign(Purpose.REVOCATION, st.signed_bytes()))
    with pytest.raises(SignatureError):
        check_revocation(forged, state(trusted(A1, "node-a"), trusted(B1, "node-b")))


def test_revocation_for_another_node() -> None:
    with pytest.raises(TrustError) as info:
        check_revocation(revocation(node_id="node-b"), state(trusted(A1, "node-a")))
    assert info.value.reason == "wrong-node"


def test_revocation_reason_is_a_closed_list() -> None:
    with pytest.raises(StatementError):
        make_revocation(A1, node_id="n", role="internal", reason="because", created=NOW)


# -- domain separation ---------------------------------------------------------------------------


def test_a_signature_of_one_purpose_never_verifies_as_another() -> None:
    data = b"the same bytes"
    for made, checked in permutations(list(Purpose), 2):
        sig = A1.sign(made, data)
        verify_signature(A1.public.sign, made, data, sig)
        with pytest.raises(SignatureError):
            verify_signature(A1.public.sign, checked, data, sig)


def test_a_card_signature_is_not_a_revocation_nor_a_succession() -> None:
    """Replay attempts on real objects: a card's signature placed on a statement does not verify."""
    card = make_card(A1, node_id="node-a", node_name="a", role="internal", created=NOW, expires=NOW + YEAR)
    card_bytes = canonical.encode(card.document())
    with pytest.raises(SignatureError):
        verify_signature(A1.public.sign, Purpose.REVOCATION, card_bytes, card.signature)
    rv = revocation()
    with pytest.raises(SignatureError):
        check_revocation(replace(rv, signature=card.signature), state(trusted(A1, "node-a")))
    st = succession()
    with pytest.raises(SignatureError):
        check_succession(
            replace(st, old_signature=card.signature), state(trusted(A1, "node-a")), recipient_node_id=ME, now=NOW
        )
    # and a revocation's signature over its bytes does not pass for a package header over the same bytes
    with pytest.raises(SignatureError):
        verify_signature(A1.public.sign, Purpose.PACKAGE_HEADER, rv.signed_bytes(), rv.signature)
