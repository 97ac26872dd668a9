"""Issue 18, "errors that mislead or stay silent": what a new operator's walkthrough tripped over,
each replayed through the two programs exactly as typed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def _second_public(pair: Pair, url: str) -> Path:
    from tests.helpers import run_cli
    from tests.integration.operator_support import PW_P, fingerprint

    home = pair.root / "public2"

    def p2(*args: str) -> Any:
        return run_cli("public-node", "--home", str(home), *args, env={"CREDGAP_PASSPHRASE": PW_P})

    ok(p2("init", "--name", "county public", "--medium", str(pair.medium), "--database-url", url))
    ok(p2("keys", "init"))
    ok(p2("keys", "export-card", "-o", str(pair.root / "public2.card")))
    ok(p2("keys", "trust", str(pair.root / "internal.card"), "--fingerprint",
          fingerprint(pair.i("keys", "show", "--json"))))  # fmt: skip
    ok(
        pair.i(
            "keys", "trust", str(pair.root / "public2.card"), "--fingerprint", fingerprint(p2("keys", "show", "--json"))
        )
    )
    return home


def test_the_dry_run_prints_the_exact_command_for_each_peer(pair: Pair, database_factory: Callable[[str], str]) -> None:
    """Point 6 (and 5: the hint is run as printed): with two public nodes, one command per peer with
    its digest and --peer; each seals exactly what was reviewed for that peer."""
    import shlex

    _second_public(pair, database_factory("pub2"))
    pair.ingest([penalty(1)])
    r = ok(pair.i("export", "--dry-run"))
    doc = ok(pair.i("export", "--dry-run", "--json")).json()
    assert isinstance(doc, dict)
    commands = [line.strip() for line in r.out.splitlines() if line.startswith("  internal-node ")]
    home = shlex.quote(str(pair.internal))
    assert commands == [
        f"internal-node --home {home} export --expect {p['digest']} --peer {shlex.quote(p['name'])}"
        for p in doc["peers"]
    ]
    assert "--peer 'county public'" in r.out
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "internal-node"
        sealed = ok(pair.i(*argv[1:]))
        assert "sealed " in sealed.out
    assert len(list(pair.medium.rglob("*.cgp"))) == 2


@pytest.mark.parametrize("digest", ["abc", "z" * 64, "0" * 63, "0" * 65])
def test_a_malformed_expect_digest_is_a_usage_error(pair: Pair, digest: str) -> None:
    """Point 6: exit 2 before anything is refreshed or sealed, not a verification failure."""
    pair.ingest([penalty(1)])
    r = pair.i("export", "--expect", digest)
    assert r.code == 2, (r.out, r.err)
    assert "--expect" in r.err and "64 hexadecimal digits" in r.err
    assert not list(pair.medium.rglob("*.cgp"))


def test_the_dry_run_summary_comes_first_and_limit_cuts_the_detail(pair: Pair) -> None:
    """Point 14: per kind new/changed/withdrawn/held/reversed first, the items after, --limit N."""
    pair.ingest([penalty(n) for n in range(1, 6)])
    full = ok(pair.i("export", "--dry-run")).out
    assert full.index("new   changed withdrawn      held  reversed") < full.index("upsert ")
    assert full.index("--expect") < full.index("upsert ")
    short = ok(pair.i("export", "--dry-run", "--limit", "2")).out
    assert short.count("  upsert ") == 2
    assert "... 5 more items not shown (--limit 2; --json has them all)" in short
    assert "the export would first refresh" not in short and "publication up to date" in short
