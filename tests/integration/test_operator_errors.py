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


def test_export_expect_with_the_medium_missing_exits_1(pair: Pair) -> None:
    """Point 2: as import does: exit 1, reason medium-missing, a line on stderr; the package waits in
    the archive. --allow-missing-medium makes that an expected outcome (exit 0)."""
    pair.ingest([penalty(1)])
    digest = pair.digest()
    pair.medium.rmdir()
    r = pair.i("export", "--expect", digest, "--json")
    assert r.code == 1, (r.out, r.err)
    doc = r.json()
    assert isinstance(doc, dict) and doc["undelivered"][0]["reason"] == "medium-missing", doc
    r = pair.i("export", "--expect", digest)
    assert r.code == 1 and "transfer medium not found" in r.err, (r.out, r.err)
    pair.ingest([penalty(2)], name="q.jsonl")
    r = pair.i("export", "--allow-missing-medium")
    assert r.code == 0, (r.out, r.err)
    assert "NOT DELIVERED" in r.out and "--allow-missing-medium" in r.err


def test_rerunning_a_reviewed_export_after_a_delivery_failure(pair: Pair) -> None:
    """Point 4: the archived package goes out and nothing new is sealed (it was exit 3, content-changed)."""
    pair.ingest([penalty(1)])
    digest = pair.digest()
    pair.medium.rename(pair.root / "away")
    assert pair.i("export", "--expect", digest).code == 1
    r = pair.i("export", "--expect", digest)  # the medium still away: still exit 1, nothing new sealed
    assert r.code == 1 and "seq 1 still in the archive; nothing new to seal" in r.out, (r.out, r.err)
    (pair.root / "away").rename(pair.medium)
    r = pair.i("export", "--expect", digest)
    assert r.code == 0, (r.out, r.err)
    assert "city-public: delivered seq 1 from the archive; nothing new to seal" in r.out
    assert [p.name for p in pair.medium.rglob("*.cgp")] != [] and len(list(pair.medium.rglob("*.cgp"))) == 1
