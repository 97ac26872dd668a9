"""``status``: the exchange state and the warnings an operator must see before something goes stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exchange.engine import SentPackage
from exchange.status import exchange_status
from internal_node import SPEC as INTERNAL
from internal_node.export import export
from public_node import SPEC as PUBLIC
from public_node.importer import import_packages
from public_node.views import KINDS
from tests.helpers import run_cli
from tests.integration.public_support import ingest_rows, penalty
from tests.nodes import Clock, make_home, trust_each_other

pytestmark = pytest.mark.db


def test_key_expiry_is_warned_about_a_month_ahead(tmp_path: Path, database_factory: Any) -> None:
    clock = Clock()
    medium = tmp_path / "medium"
    medium.mkdir()
    a = make_home(tmp_path, INTERNAL, "int", medium, clock, database_factory("int"))
    b = make_home(tmp_path, PUBLIC, "pub", medium, clock, database_factory("pub"))
    trust_each_other(a, b, clock)
    st = exchange_status(a.node)
    assert st["own_key"]["expires_soon"] is False
    assert [k["expires_soon"] for k in st["trusted_keys"]] == [False]
    clock.advance(days=2 * 365 - 20)
    st = exchange_status(a.node)
    assert st["own_key"]["expires_soon"] is True and st["trusted_keys"][0]["expires_soon"] is True
    human = run_cli("internal-node", "--home", str(a.node.config.home), "status")
    assert human.code == 0
    a.node.close()
    b.node.close()


def test_public_status_after_a_gap_and_a_quarantined_package(tmp_path: Path, database_factory: Any) -> None:
    """Every part of the status issue 6 asks for: last applied sequence and time, pending gaps,
    quarantined packages, record counts per kind, freshness and the trusted keys in use."""
    start = datetime.now(UTC).replace(microsecond=0)  # the program reads the real clock for freshness
    iclock, pclock = Clock(start), Clock(start)
    medium = tmp_path / "medium"
    medium.mkdir()
    internal = make_home(tmp_path, INTERNAL, "int", medium, iclock, database_factory("int"))
    public = make_home(tmp_path, PUBLIC, "pub", medium, pclock, database_factory("pub"))
    trust_each_other(internal, public, iclock)
    decided = start.date() - timedelta(days=20)
    sent: list[SentPackage] = []
    for rows in ([penalty(1, decided), penalty(2, decided, uscc=1)], [penalty(3, decided)], [penalty(4, decided)],
                 [penalty(5, decided)]):  # fmt: skip
        assert ingest_rows(internal.node, "penalty", rows, tmp_path / "department-files").accepted
        [pkg] = export(internal.node, internal.identity).sent
        sent.append(pkg)
        iclock.advance(minutes=1)
    first, second, third, _fourth = sent
    assert second.medium is not None and third.medium is not None
    tampered = bytearray(second.medium.read_bytes())
    tampered[-30] ^= 0x01
    second.medium.write_bytes(bytes(tampered))
    third.medium.rename(tmp_path / third.medium.name)  # a device still on its way
    pclock.advance(minutes=10)
    outcomes = import_packages(public.node, public.identity)
    assert [(o.seq, o.result) for o in outcomes] == [(1, "applied"), (2, "rejected"), (4, "pending")]

    home = str(public.node.config.home)
    r = run_cli("public-node", "--home", home, "status", "--json")
    assert r.code == 0, r.err
    status = r.json()
    assert isinstance(status, dict)
    ex = status["exchange"]
    [inbound] = [c for c in ex["channels"] if c["direction"] == "in"]
    assert inbound == {
        "direction": "in",
        "sender": internal.id,
        "recipient": public.id,
        "last_seq": first.seq,
        "last_digest": first.digest,
        "recent": [[first.seq, first.digest]],  # what the peer's `channel recover` compares (a fork)
        "last_created": start.isoformat(timespec="seconds"),  # the internal node's time of sealing
        "last_applied_at": (start + timedelta(minutes=10)).isoformat(timespec="seconds"),  # ours
        "suite": inbound["suite"],
        "pending": [4],
        "missing": [2, 3],
        "freshness": "ok",
    }
    assert ex["packages_applied"] == 1 and ex["freshness"] == "ok" and ex["alarms"] == []
    assert ex["quarantine"]["count"] == 1
    latest = ex["quarantine"]["latest"]
    assert (latest["reason"], latest["header"]["seq"]) == ("bad-ciphertext", 2)
    assert status["records"] == {**dict.fromkeys(KINDS, 0), "subject": 2, "penalty": 2}
    assert [(k["key_id"], k["node_id"], k["role"], k["status"]) for k in ex["trusted_keys"]] == [
        (internal.identity.current_key_id, internal.id, "internal", "trusted")
    ]

    human = run_cli("public-node", "--home", home, "status")
    assert human.code == 0, human.err
    assert f"quarantine 1 package(s); latest {latest['folder']}: bad-ciphertext: " in human.out
    assert "last applied" in human.out and (start + timedelta(minutes=10)).isoformat(timespec="seconds") in human.out
    internal.node.close()
    public.node.close()
