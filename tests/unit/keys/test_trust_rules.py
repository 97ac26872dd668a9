"""The trust rules of ``keys.trust.TrustState`` as the verifier asks them, each refusal with its reason
code and the words an operator reads; the validity window at both ends; one current key per node.

Written after ``make mutate`` (docs/SECURITY.md, "Mutation testing"): the reason codes of these
refusals were checked only through whole packages, and some not at all.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from keys import KeyStatus, SecretKeys, TrustedKey, TrustState
from keys.errors import TrustError

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRES = datetime(2028, 1, 1, tzinfo=UTC)


def _key(n: int, node: str, role: str = "internal", status: KeyStatus = KeyStatus.TRUSTED, **kw: object) -> TrustedKey:
    keys = SecretKeys(bytes([n]) * 32, bytes([n + 100]) * 32)
    return TrustedKey(
        key_id=keys.key_id, node_id=node, node_name=node, role=role,  # type: ignore[arg-type]
        public=keys.public, status=status, created=CREATED, expires=EXPIRES, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _refusal(state: TrustState, key_id: str, **kw: object) -> tuple[str, str]:
    with pytest.raises(TrustError) as err:
        state.signer(key_id, **kw)  # type: ignore[arg-type]
    return err.value.reason, str(err.value)


def test_signer_refusals_name_the_key_and_the_rule() -> None:
    current, old = _key(1, "int-a"), _key(2, "int-a", status=KeyStatus.SUPERSEDED, last_seq=5)
    revoked, public = _key(3, "int-b", status=KeyStatus.REVOKED), _key(4, "pub-b", role="public")
    state = TrustState([current, old, revoked, public])
    at = CREATED + timedelta(days=1)
    assert _refusal(state, "ab" * 16, role="internal", seq=1, at=at) == (
        "unknown-signer",
        f"signer key {'ab' * 16} is not in the trust store",
    )
    assert _refusal(state, revoked.key_id, role="internal", seq=1, at=at) == (
        "revoked-signer",
        f"signer key {revoked.key_id} of node int-b is revoked",
    )
    assert _refusal(state, public.key_id, role="internal", seq=1, at=at) == (
        "wrong-role",
        f"signer key {public.key_id} belongs to public node pub-b; expected a internal node",
    )
    reason, message = _refusal(state, current.key_id, role="internal", seq=1, at=EXPIRES + timedelta(seconds=1))
    assert reason == "expired-signer"
    assert message == (
        f"signer key {current.key_id} is valid {CREATED.isoformat()} to {EXPIRES.isoformat()}, "
        f"not at {(EXPIRES + timedelta(seconds=1)).isoformat()}"
    )
    assert _refusal(state, old.key_id, role="internal", seq=6, at=at) == (
        "superseded-signer",
        f"signer key {old.key_id} was superseded after sequence 5; it cannot sign 6",
    )
    assert state.signer(old.key_id, role="internal", seq=5, at=at) is old


def test_a_key_signs_from_its_creation_to_its_expiry_inclusive() -> None:
    key = _key(1, "int-a")
    state = TrustState([key])
    assert state.signer(key.key_id, role="internal", seq=1, at=CREATED) is key
    assert state.signer(key.key_id, role="internal", seq=1, at=EXPIRES) is key
    assert _refusal(state, key.key_id, role="internal", seq=1, at=CREATED - timedelta(seconds=1))[0] == "expired-signer"


def test_current_for_wants_exactly_one_trusted_key() -> None:
    a1, a2 = _key(1, "int-a"), _key(2, "int-a")
    assert TrustState([a1, replace(a2, status=KeyStatus.SUPERSEDED)]).current_for("int-a") is a1
    with pytest.raises(TrustError) as err:
        TrustState([a1]).current_for("int-b")
    assert (err.value.reason, str(err.value)) == ("unknown-recipient", "no trusted key for node int-b")
    with pytest.raises(TrustError) as err:
        TrustState([a1, a2]).current_for("int-a")
    assert (err.value.reason, str(err.value)) == ("ambiguous-recipient", "node int-a has 2 current keys")


def test_peers_are_the_trusted_keys_of_the_role_only() -> None:
    a, b = _key(1, "int-b"), _key(2, "int-a")
    revoked, public = _key(3, "int-c", status=KeyStatus.REVOKED), _key(4, "pub-a", role="public")
    state = TrustState([a, b, revoked, public])
    assert state.peers("internal") == [b, a], "sorted by node id"
    assert state.peers("public") == [public]


def test_a_key_id_held_twice_is_refused() -> None:
    a = _key(1, "int-a")
    with pytest.raises(TrustError) as err:
        TrustState([a, replace(a, node_id="int-b")])
    assert (err.value.reason, str(err.value)) == ("duplicate-key", f"trust store holds key id {a.key_id} twice")
