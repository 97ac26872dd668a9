"""Issue 18, "errors that mislead or stay silent": what a new operator's walkthrough tripped over,
each replayed through the two programs exactly as typed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.operator_support import Pair, make_pair, ok, penalty

pytestmark = pytest.mark.db


@pytest.fixture
def pair(tmp_path: Path, database_factory: Callable[[str], str]) -> Pair:
    return make_pair(tmp_path, (database_factory("int"), database_factory("pub")))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command", ["import", "watch"])
def test_a_wrong_passphrase_touches_nothing_even_with_nothing_waiting(pair: Pair, command: str) -> None:
    """Point 1: checked at start-up (a systemd service fails at once, not at the first package)."""
    r = pair.p(command, pw="not the passphrase")
    assert r.code == 4, (r.out, r.err)
    assert "wrong passphrase" in r.err and len(r.err.strip().splitlines()) == 1


def test_a_wrong_passphrase_quarantines_nothing(pair: Pair) -> None:
    """Point 1: the package waiting is not quarantined as sealed to a key this node does not hold."""
    pair.ingest([penalty(1)])
    ok(pair.i("export"))
    medium, quarantine = _files(pair.medium), _files(pair.public / "quarantine")
    r = pair.p("import", pw="not the passphrase")
    assert r.code == 4 and "wrong passphrase" in r.err, (r.out, r.err)
    assert "unknown-recipient-key" not in r.out + r.err
    assert _files(pair.medium) == medium and _files(pair.public / "quarantine") == quarantine
    status = ok(pair.p("status", "--json")).json()
    assert isinstance(status, dict)
    assert "rejected" not in str(status.get("channels", "")), status
    r = ok(pair.p("import"))  # the right passphrase: the same package applies
    assert "applied" in r.out


def test_the_importer_itself_quarantines_nothing_on_a_wrong_passphrase(pair: Pair) -> None:
    """Point 1, below the CLI's start-up check: a key this node holds but cannot unlock is this node's
    fault, not the package's, so the run stops with that error and the medium and quarantine stay."""
    from keys.errors import KeyStoreError
    from nodekit.identity_ops import load_identity
    from nodekit.runtime import Node
    from public_node import SPEC
    from public_node.importer import import_packages

    pair.ingest([penalty(1)])
    ok(pair.i("export"))
    medium, quarantine = _files(pair.medium), _files(pair.public / "quarantine")
    node = Node.open(pair.public, SPEC)
    try:
        identity = load_identity(node, lambda: b"not the passphrase")
        with pytest.raises(KeyStoreError) as err:
            import_packages(node, identity)
        assert err.value.reason == "wrong-passphrase"
    finally:
        node.close()
    assert _files(pair.medium) == medium and _files(pair.public / "quarantine") == quarantine
