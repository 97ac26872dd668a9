"""The identity flows that touch both the key files and the database, and the passphrase sources."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from internal_node import SPEC as INTERNAL
from keys.errors import KeySetupError
from keys.identity_store import Identity
from nodekit import identity_ops
from nodekit.home import load_config
from nodekit.runtime import Node, init_home
from tests.identities import PASSPHRASE, init_node_identity, load_node_identity

NOW = datetime.fromisoformat("2026-11-26T08:00:00+00:00")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = init_home(tmp_path / "home", INTERNAL, name="city-internal")
    yield n
    n.close()


def files(keys_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(keys_dir.iterdir())}


def test_init_records_the_node_id(node: Node) -> None:
    ident = init_node_identity(node, now=NOW)
    assert node.meta()["node_id"] == ident.node_id
    with pytest.raises(KeySetupError) as info:
        init_node_identity(node, now=NOW)
    assert info.value.reason == "identity-exists"


def test_a_lost_keys_directory_is_not_silently_replaced(node: Node) -> None:
    ident = init_node_identity(node, now=NOW)
    for p in node.config.keys_dir.iterdir():
        p.unlink()
    with pytest.raises(KeySetupError) as info:
        init_node_identity(node, now=NOW)
    assert info.value.reason == "identity-exists" and ident.node_id in str(info.value)
    assert list(node.config.keys_dir.iterdir()) == []


def test_a_failed_commit_takes_the_files_back(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    ident = init_node_identity(node, now=NOW)
    before = files(node.config.keys_dir)

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(identity_ops, "record_event", broken)
    with pytest.raises(RuntimeError):
        identity_ops.rotate_identity(node, load_node_identity(node), now=NOW)
    with pytest.raises(RuntimeError):
        identity_ops.revoke_identity(node, load_node_identity(node), now=NOW)
    assert files(node.config.keys_dir) == before
    assert Identity.load(node.config.keys_dir).current_key_id == ident.current_key_id


def test_a_failed_init_leaves_no_identity(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(identity_ops, "record_event", broken)
    with pytest.raises(RuntimeError):
        init_node_identity(node, now=NOW)
    assert list(node.config.keys_dir.iterdir()) == []
    assert "node_id" not in node.meta()


def test_a_stale_identity_object_rotates_from_the_current_key(node: Node) -> None:
    init_node_identity(node, now=NOW)
    a, b = load_node_identity(node), load_node_identity(node)
    first = identity_ops.rotate_identity(node, a, now=NOW + timedelta(days=1), last_seq={})
    second = identity_ops.rotate_identity(node, b, now=NOW + timedelta(days=2), last_seq={})
    assert second.old_key_id == first.new_key_id  # b re-read identity.json under the lock
    assert len(Identity.load(node.config.keys_dir).own_keys()) == 3


def test_rotation_names_every_trusted_peer_with_its_next_sequence(node: Node, tmp_path: Path) -> None:
    from nodekit.models import ChannelRow
    from tests.identities import enrol, make_identity

    ident = init_node_identity(node, now=NOW)
    peers = [make_identity(tmp_path / f"p{i}", role="public", now=NOW, name=f"p{i}") for i in range(2)]
    for p in peers:
        enrol(node, p, now=NOW)
    with node.transaction() as s:
        s.add(
            ChannelRow(
                sender_node=ident.node_id,
                recipient_node=peers[0].node_id,
                outbound=True,
                suite=1,
                last_seq=41,
                last_digest="0" * 64,
                last_created=0,
                rebase_seq=0,
                updated_at=NOW,
            )
        )
    st = identity_ops.rotate_identity(node, load_node_identity(node), now=NOW)
    assert st.last_seq == {peers[0].node_id: 42, peers[1].node_id: 1}


# -- passphrase sources --------------------------------------------------------------------------


def test_passphrase_file_handling(tmp_path: Path) -> None:
    f = tmp_path / "p"
    for content, expected in [(b"abc\n", b"abc"), (b"abc\r\n", b"abc"), (b"abc", b"abc"), (b" a b \n\n", b" a b \n")]:
        f.write_bytes(content)
        assert identity_ops.read_passphrase_file(f) == expected
    for bad in (b"", b"\n", b"\xff\xfe", b"x" * 5000):
        f.write_bytes(bad)
        with pytest.raises(KeySetupError) as info:
            identity_ops.read_passphrase_file(f)
        assert info.value.reason == "no-passphrase" and str(f) in str(info.value)
    with pytest.raises(KeySetupError):
        identity_ops.read_passphrase_file(tmp_path / "missing")


def test_passphrase_precedence_and_laziness(node: Node, tmp_path: Path) -> None:
    cli_file, cfg_file = tmp_path / "cli", tmp_path / "cfg"
    cli_file.write_text("from-cli\n")
    cfg_file.write_text("from-config\n")
    cfg_path = node.config.config_path
    cfg_path.write_text(cfg_path.read_text().replace('passphrase_file = ""', f'passphrase_file = "{cfg_file}"'))
    config = load_config(node.config.home, "internal")
    asked: list[int] = []

    def prompt() -> str:
        asked.append(1)
        return "from-prompt"

    env = {"CREDGAP_PASSPHRASE": "from-env"}
    source = identity_ops.passphrase_source
    assert source(cli_file=cli_file, config=config, prompt=prompt, environ=env)() == b"from-cli"
    assert source(cli_file=None, config=config, prompt=prompt, environ=env)() == b"from-env"
    assert source(cli_file=None, config=config, prompt=prompt, environ={})() == b"from-config"
    lazy = source(cli_file=None, config=None, prompt=prompt, environ={})
    assert asked == []  # nothing is asked until a protected key is opened
    assert lazy() == b"from-prompt" and asked == [1]
    with pytest.raises(KeySetupError) as info:
        source(cli_file=None, config=None, prompt=None, environ={})()
    assert info.value.reason == "no-passphrase"
    # the same passphrase composed differently (NFD vs NFC) is the same passphrase
    assert identity_ops.encode_passphrase("cafe\u0301") == identity_ops.encode_passphrase("caf\u00e9")


def test_identity_loads_with_the_test_passphrase(node: Node) -> None:
    ident = init_node_identity(node, now=NOW)
    assert load_node_identity(node, PASSPHRASE).current_secret().key_id == ident.current_key_id
