"""The node's own identity on disk: lazy loading, rotation keeping old keys, revocation, and damage."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from keys.contexts import Purpose
from keys.errors import KeySetupError, KeyStoreError, PassphraseError, TrustError
from keys.identity_store import Identity, OwnKeyStatus
from keys.statements import RevocationStatement, SuccessionStatement
from tests.identities import PASSPHRASE, make_identity, seeded_random

NOW = datetime.fromisoformat("2026-11-26T08:00:00+00:00")


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    make_identity(tmp_path / "keys", role="public", now=NOW, name="city-public")
    return tmp_path / "keys"


def test_layout_and_modes(keys_dir: Path) -> None:
    ident = Identity.load(keys_dir)
    names = sorted(p.name for p in keys_dir.iterdir())
    assert names == sorted(["identity.json", f"{ident.current_key_id}.key", f"{ident.current_key_id}.card"])
    for p in keys_dir.iterdir():
        assert (p.stat().st_mode & 0o777) == 0o600


def test_private_keys_load_lazily_and_the_passphrase_is_asked_once(keys_dir: Path) -> None:
    calls: list[int] = []

    def source() -> bytes:
        calls.append(1)
        return PASSPHRASE

    ident = Identity.load(keys_dir, passphrase=source)
    assert ident.name == "city-public" and ident.role == "public"
    assert ident.card().key_id == ident.current_key_id  # the stored card needs no passphrase
    assert calls == []
    sig = ident.current_secret().sign(Purpose.PACKAGE_HEADER, b"h")
    ident.public.verify(Purpose.PACKAGE_HEADER, b"h", sig)
    ident.signing_keys()
    assert calls == [1]


def test_no_passphrase_source(keys_dir: Path) -> None:
    with pytest.raises(KeySetupError) as info:
        Identity.load(keys_dir).current_secret()
    assert info.value.reason == "no-passphrase"


def test_wrong_passphrase(keys_dir: Path) -> None:
    with pytest.raises(PassphraseError):
        Identity.load(keys_dir, passphrase=lambda: b"nope").current_secret()


def test_node_id_is_stable_across_rotations_and_old_keys_stay_usable(keys_dir: Path) -> None:
    ident = Identity.load(keys_dir, passphrase=lambda: PASSPHRASE)
    node_id, k1 = ident.node_id, ident.current_key_id
    st = ident.rotate(now=NOW + timedelta(days=1), last_seq={"peer": 5})
    k2 = ident.current_key_id
    assert isinstance(st, SuccessionStatement) and st.old_key_id == k1 and st.new_key_id == k2
    ident.rotate(now=NOW + timedelta(days=2), last_seq={"peer": 9})
    k3 = ident.current_key_id

    again = Identity.load(keys_dir, passphrase=lambda: PASSPHRASE)
    assert again.node_id == node_id and again.current_key_id == k3
    assert [k.status for k in again.own_keys()] == [OwnKeyStatus.RETIRED, OwnKeyStatus.RETIRED, OwnKeyStatus.CURRENT]
    # the X25519 halves of old keys still open packages sealed to them
    for kid in (k1, k2, k3):
        assert again.secret_for(kid).key_id == kid
    # the old keys sign up to the stated sequence on that channel, then their successor
    assert [again.signing_key_for("peer", n) for n in (1, 5, 6, 9, 10)] == [k1, k1, k2, k2, k3]
    assert again.signing_key_for("someone-else", 1) == k3
    assert [s.old_key_id for s in again.statements_for("peer", 5)] == [k1, k2]
    assert [s.old_key_id for s in again.statements_for("peer", 6)] == [k2]
    assert again.statements_for("peer", 10) == []
    assert again.signer_for("peer", 3).key_id == k1


def test_secret_for_an_unknown_key(keys_dir: Path) -> None:
    ident = Identity.load(keys_dir, passphrase=lambda: PASSPHRASE)
    with pytest.raises(KeyStoreError) as info:
        ident.secret_for("ab" * 16)
    assert info.value.reason == "unknown-recipient-key"


def test_revoking_the_current_key_makes_a_replacement(keys_dir: Path) -> None:
    ident = Identity.load(keys_dir, passphrase=lambda: PASSPHRASE)
    old = ident.current_key_id
    st, replacement = ident.revoke(now=NOW, reason="compromised")
    assert isinstance(st, RevocationStatement) and st.key_id == old
    assert replacement is not None and ident.current_key_id == replacement.key_id
    assert ident.key(old).status is OwnKeyStatus.REVOKED
    assert ident.revocations() == [st]
    assert ident.secret_for(old).key_id == old  # still opens packages already sealed to it
    with pytest.raises(KeyStoreError) as info:
        ident.revoke(old, now=NOW)
    assert info.value.reason == "already-revoked"


def test_revoked_key_no_longer_signs_its_window(keys_dir: Path) -> None:
    ident = Identity.load(keys_dir, passphrase=lambda: PASSPHRASE)
    k1 = ident.current_key_id
    ident.rotate(now=NOW, last_seq={"peer": 5})
    ident.revoke(k1, now=NOW, reason="compromised")
    assert ident.signing_key_for("peer", 1) == ident.current_key_id


def test_rotating_an_expired_key_is_refused(tmp_path: Path) -> None:
    ident = make_identity(tmp_path / "k", role="internal", now=NOW, validity=timedelta(days=1))
    with pytest.raises(TrustError) as info:
        ident.rotate(now=NOW + timedelta(days=2), last_seq={})
    assert info.value.reason == "expired-key"
    assert len(list((tmp_path / "k").iterdir())) == 3


def test_init_twice_is_refused(keys_dir: Path) -> None:
    before = {p.name: p.read_bytes() for p in keys_dir.iterdir()}
    with pytest.raises(KeySetupError) as info:
        make_identity(keys_dir, role="public", now=NOW)
    assert info.value.reason == "identity-exists"
    assert {p.name: p.read_bytes() for p in keys_dir.iterdir()} == before


def test_missing_and_damaged_identity(tmp_path: Path, keys_dir: Path) -> None:
    with pytest.raises(KeySetupError) as info:
        Identity.load(tmp_path / "nowhere")
    assert info.value.reason == "no-identity" and info.value.exit_code == 2
    index = keys_dir / "identity.json"
    index.write_bytes(index.read_bytes()[:50])
    with pytest.raises(KeySetupError) as info:
        Identity.load(keys_dir)
    assert info.value.reason == "corrupt-identity" and str(index) in str(info.value)


def test_a_key_file_of_another_node_is_refused(tmp_path: Path, keys_dir: Path) -> None:
    other = make_identity(tmp_path / "other", role="public", now=NOW)
    ident = Identity.load(keys_dir, passphrase=lambda: PASSPHRASE)
    target = keys_dir / f"{ident.current_key_id}.key"
    target.unlink()
    target.write_bytes((tmp_path / "other" / f"{other.current_key_id}.key").read_bytes())
    target.chmod(0o600)
    with pytest.raises(KeySetupError) as info:
        ident.current_secret()
    assert info.value.reason == "corrupt-identity"


def test_seeded_random_gives_fixed_keys(tmp_path: Path) -> None:
    a = make_identity(tmp_path / "a", role="internal", now=NOW, random=seeded_random("x"))
    b = make_identity(tmp_path / "b", role="internal", now=NOW, random=seeded_random("x"))
    assert a.node_id == b.node_id and a.current_key_id == b.current_key_id
