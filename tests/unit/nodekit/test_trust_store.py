"""The trust store in the node database: enrolment by fingerprint, statements applied as a package
would, distrust, the log entries, and every refusal leaving the database as it was."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from keys.card import IdentityCard, make_card
from keys.errors import CardError, KeyStoreError, SignatureError, TrustError
from keys.identity import SecretKeys, format_fingerprint
from keys.identity_store import Identity
from keys.statements import make_revocation, make_succession
from keys.trust import KeyStatus
from nodekit import trust_store
from nodekit.models import TransferLogRow, TrustedKeyRow
from nodekit.runtime import Node, init_home
from public_node import SPEC as PUBLIC
from tests.identities import PASSPHRASE, init_node_identity, make_identity

pytestmark = pytest.mark.db

NOW = datetime.fromisoformat("2026-11-26T08:00:00+00:00")
YEAR = timedelta(days=365)


@pytest.fixture
def node(tmp_path: Path, database_url: str) -> Iterator[Node]:
    n = init_home(tmp_path / "public", PUBLIC, name="city-public", database_url=database_url)
    init_node_identity(n, now=NOW)
    yield n
    n.close()


@pytest.fixture
def peer(tmp_path: Path) -> Identity:
    return make_identity(tmp_path / "internal-keys", role="internal", now=NOW, name="city-internal")


def snapshot(node: Node) -> tuple[list[tuple[Any, ...]], list[str]]:
    with node.sessions() as s:
        rows = [
            (r.key_id, r.node_id, r.status, r.last_seq, r.replaced_by, r.changed_at)
            for r in s.scalars(select(TrustedKeyRow).order_by(TrustedKeyRow.key_id))
        ]
        events = list(s.scalars(select(TransferLogRow.event).order_by(TransferLogRow.index)))
    return rows, events


def trust(node: Node, card: IdentityCard, fingerprint: str | None = None, now: datetime = NOW) -> Any:
    with node.transaction() as s:
        return trust_store.trust_card(s, card, fingerprint or card.key_id, now)


def refused(node: Node, fn: Any, exc_type: type[KeyStoreError], reason: str) -> KeyStoreError:
    before = snapshot(node)
    with pytest.raises(exc_type) as info, node.transaction() as s:
        fn(s)
    assert info.value.reason == reason
    assert snapshot(node) == before
    return info.value


def test_trust_card_by_fingerprint(node: Node, peer: Identity) -> None:
    key = trust(node, peer.card(), format_fingerprint(peer.current_key_id).upper())
    assert key.node_id == peer.node_id and key.role == "internal" and key.status is KeyStatus.TRUSTED
    with node.sessions() as s:
        state = trust_store.load_trust_state(s)
        assert state.current_for(peer.node_id).key_id == peer.current_key_id
        assert state.signer(peer.current_key_id, role="internal", seq=1, at=NOW).node_name == "city-internal"
        assert [k.key_id for k in state.peers("internal")] == [peer.current_key_id]
    rows, events = snapshot(node)
    assert [r[0] for r in rows] == [peer.current_key_id]
    assert events[-1] == "key.trusted"


def test_fingerprint_mismatch(node: Node, peer: Identity) -> None:
    wrong = "0" * 32
    err = refused(
        node, lambda s: trust_store.trust_card(s, peer.card(), wrong, NOW), TrustError, "fingerprint-mismatch"
    )
    assert err.exit_code == 4


def test_fingerprint_prefix_is_not_enough(node: Node, peer: Identity) -> None:
    prefix = peer.current_key_id[:16]
    err = refused(node, lambda s: trust_store.trust_card(s, peer.card(), prefix, NOW), KeyStoreError, "bad-fingerprint")
    assert err.exit_code == 2


def test_duplicate_key_id(node: Node, peer: Identity) -> None:
    trust(node, peer.card())
    refused(
        node, lambda s: trust_store.trust_card(s, peer.card(), peer.current_key_id, NOW), KeyStoreError, "duplicate-key"
    )


def test_expired_card(node: Node, tmp_path: Path) -> None:
    old = make_identity(tmp_path / "old", role="internal", now=NOW - 3 * YEAR)
    err = refused(
        node, lambda s: trust_store.trust_card(s, old.card(), old.current_key_id, NOW), CardError, "expired-card"
    )
    assert err.exit_code == 3


def test_card_of_own_role_and_own_card(node: Node, tmp_path: Path) -> None:
    same = make_identity(tmp_path / "same", role="public", now=NOW)
    refused(
        node, lambda s: trust_store.trust_card(s, same.card(), same.current_key_id, NOW), KeyStoreError, "wrong-role"
    )


def test_revoked_key_is_never_trusted_again(node: Node, peer: Identity) -> None:
    trust(node, peer.card())
    with node.transaction() as s:
        trust_store.distrust(s, peer.current_key_id, NOW)
    refused(node, lambda s: trust_store.trust_card(s, peer.card(), peer.current_key_id, NOW), TrustError, "revoked-key")
    with node.sessions() as s:
        with pytest.raises(TrustError) as info:
            trust_store.load_trust_state(s).signer(peer.current_key_id, role="internal", seq=1, at=NOW)
        assert info.value.reason == "revoked-signer"


def test_second_current_key_for_a_node_needs_the_old_one_gone(node: Node, peer: Identity, tmp_path: Path) -> None:
    trust(node, peer.card())
    # the peer re-enrols with a fresh key for the same node id (after a suspected compromise)
    fresh = SecretKeys.generate()
    card = make_card(fresh, node_id=peer.node_id, node_name=peer.name, role="internal", created=NOW, expires=NOW + YEAR)
    refused(node, lambda s: trust_store.trust_card(s, card, card.key_id, NOW), KeyStoreError, "node-already-trusted")
    with node.transaction() as s:
        trust_store.distrust(s, peer.current_key_id, NOW)
    assert trust(node, card).key_id == fresh.key_id


def test_node_id_stays_bound_to_its_role(node: Node, peer: Identity) -> None:
    trust(node, peer.card())
    with node.transaction() as s:
        trust_store.distrust(s, peer.current_key_id, NOW)
    fresh = SecretKeys.generate()
    card = make_card(fresh, node_id=peer.node_id, node_name="x", role="public", created=NOW, expires=NOW + YEAR)
    refused(
        node,
        lambda s: trust_store.trust_card(s, card, card.key_id, NOW, own_role="internal"),
        KeyStoreError,
        "role-mismatch",
    )


@pytest.fixture
def internal_node(tmp_path: Path, database_url: str) -> Iterator[Node]:
    from internal_node import SPEC as INTERNAL

    n = init_home(tmp_path / "internal", INTERNAL, name="city-internal", database_url=database_url)
    init_node_identity(n, now=NOW)
    yield n
    n.close()


def test_several_public_peers(internal_node: Node, tmp_path: Path) -> None:
    """One internal node feeds several public nodes (the other way round is refused, below)."""
    peers = [make_identity(tmp_path / f"p{i}", role="public", now=NOW, name=f"p{i}") for i in range(3)]
    for p in peers:
        trust(internal_node, p.card())
    with internal_node.sessions() as s:
        state = trust_store.load_trust_state(s)
    assert sorted(k.node_id for k in state.peers("public")) == sorted(p.node_id for p in peers)


def test_a_public_node_trusts_one_internal_node(node: Node, peer: Identity, tmp_path: Path) -> None:
    """Issue 13 case 9: a public node publishes exactly one internal node, across its successive keys."""
    trust(node, peer.card())
    second = make_identity(tmp_path / "bureau", role="internal", now=NOW, name="tax-bureau")
    err = refused(node, lambda s: trust_store.trust_card(s, second.card(), second.current_key_id, NOW), KeyStoreError,
                  "wrong-sender")  # fmt: skip
    assert peer.node_id in str(err) and "ingest FILE --kind KIND --source UNIT" in str(err) and "\n" not in str(err)
    # replacing the internal node (its keys lost: SECURITY.md) is distrusting the old one first
    with node.transaction() as s:
        trust_store.distrust(s, peer.current_key_id, NOW)
    trust(node, second.card())


def test_rotation_followed_as_a_package_would_apply_it(node: Node, peer: Identity) -> None:
    trust(node, peer.card())
    with node.sessions() as s:
        me = trust_store.own_node_id(s)
    assert me is not None
    peer_loaded = Identity.load(peer.keys_dir, passphrase=lambda: PASSPHRASE)
    old = peer_loaded.current_key_id
    statement = peer_loaded.rotate(now=NOW + timedelta(days=1), last_seq={me: 4})
    with node.transaction() as s:
        change = trust_store.apply_succession(s, statement, NOW + timedelta(days=1))
    assert change.last_seq == 4 and not change.already_applied
    with node.sessions() as s:
        state = trust_store.load_trust_state(s)
    assert state.signer(old, role="internal", seq=4, at=NOW + timedelta(days=1)).status is KeyStatus.SUPERSEDED
    with pytest.raises(TrustError):
        state.signer(old, role="internal", seq=5, at=NOW + timedelta(days=1))
    assert state.current_for(peer.node_id).key_id == statement.new_key_id
    assert snapshot(node)[1][-1] == "key.rotated"
    # a second package carrying the same statement changes nothing and logs nothing
    before = snapshot(node)
    with node.transaction() as s:
        assert trust_store.apply_succession(s, statement, NOW + timedelta(days=2)).already_applied
    assert snapshot(node) == before
    # then the peer revokes its new key: refused from then on
    revocation = make_revocation(
        peer_loaded.current_secret(), node_id=peer.node_id, role="internal", reason="compromised", created=NOW
    )
    with node.transaction() as s:
        trust_store.apply_statement(s, revocation, NOW + timedelta(days=3))
    with node.sessions() as s, pytest.raises(TrustError) as info:
        trust_store.load_trust_state(s).signer(statement.new_key_id, role="internal", seq=9, at=NOW)
    assert info.value.reason == "revoked-signer"
    assert snapshot(node)[1][-1] == "key.revoked"


def test_succession_by_an_untrusted_key(node: Node, peer: Identity) -> None:
    statement = make_succession(
        peer.current_secret(),
        SecretKeys.generate(),
        node_id=peer.node_id,
        role="internal",
        new_created=NOW,
        new_expires=NOW + YEAR,
        created=NOW,
        last_seq={},
    )
    refused(node, lambda s: trust_store.apply_succession(s, statement, NOW), TrustError, "untrusted-key")


def test_succession_for_another_node(internal_node: Node, tmp_path: Path) -> None:
    # two public nodes of one internal node (a public node trusts one internal node only, case 9)
    peer = make_identity(tmp_path / "public-keys", role="public", now=NOW, name="city-public")
    trust(internal_node, peer.card())
    other = make_identity(tmp_path / "other", role="public", now=NOW)
    trust(internal_node, other.card())
    node = internal_node
    statement = make_succession(
        other.current_secret(),
        SecretKeys.generate(),
        node_id=peer.node_id,  # "other" tries to move "peer" to a key it holds
        role="public",
        new_created=NOW,
        new_expires=NOW + YEAR,
        created=NOW,
        last_seq={},
    )
    refused(node, lambda s: trust_store.apply_succession(s, statement, NOW), TrustError, "wrong-node")


def test_revocation_with_a_bad_signature(node: Node, peer: Identity, tmp_path: Path) -> None:
    trust(node, peer.card())
    st = make_revocation(
        SecretKeys.generate(), node_id=peer.node_id, role="internal", reason="compromised", created=NOW
    )
    forged = replace(st, key_id=peer.current_key_id)
    refused(node, lambda s: trust_store.apply_revocation(s, forged, NOW), SignatureError, "bad-signature")


def test_distrust_unknown_and_twice(node: Node, peer: Identity) -> None:
    refused(node, lambda s: trust_store.distrust(s, "ab" * 16, NOW), KeyStoreError, "unknown-key")
    trust(node, peer.card())
    with node.transaction() as s:
        assert trust_store.distrust(s, peer.current_key_id, NOW)[1] is True
    before = snapshot(node)
    with node.transaction() as s:
        assert trust_store.distrust(s, peer.current_key_id, NOW)[1] is False
    assert snapshot(node) == before
    assert before[1][-1] == "key.distrusted"


def test_the_database_itself_refuses_two_current_keys_for_a_node(node: Node, peer: Identity) -> None:
    trust(node, peer.card())
    with pytest.raises(IntegrityError), node.transaction() as s:
        row = s.get(TrustedKeyRow, peer.current_key_id)
        assert row is not None
        s.add(
            TrustedKeyRow(
                key_id="cd" * 16,
                node_id=row.node_id,
                node_name=row.node_name,
                role=row.role,
                sign_public=row.sign_public,
                enc_public=row.enc_public,
                status="trusted",
                created=row.created,
                expires=row.expires,
                trusted_at=NOW,
                changed_at=NOW,
                source="",
            )
        )
        s.flush()


def test_log_entries_hold_no_key_material(node: Node, peer: Identity) -> None:
    trust(node, peer.card())
    with node.sessions() as s:
        logged = " ".join(r.subject for r in s.scalars(select(TransferLogRow)))
        node_secret = Identity.load(node.config.keys_dir, passphrase=lambda: PASSPHRASE).current_secret()
    for part in (*peer.current_secret().private_bytes(), *node_secret.private_bytes()):
        assert part.hex() not in logged


def test_revocation_of_a_key_never_known(node: Node, peer: Identity) -> None:
    """An operator applying it is told; a package repeating it is not rejected for it (nothing to revoke)."""
    st = make_revocation(peer.current_secret(), node_id=peer.node_id, role="internal", reason="retired", created=NOW)
    refused(node, lambda s: trust_store.apply_revocation(s, st, NOW), TrustError, "untrusted-key")
    before = snapshot(node)
    with node.transaction() as s:
        assert trust_store.apply_statement(s, st, NOW) is None
    assert snapshot(node) == before
