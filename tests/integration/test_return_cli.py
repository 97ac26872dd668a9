"""The return channel through the programs: ``public-node export --json`` seals the receipts for the
packages it received (one applied, one rejected) into a return package on the medium, and
``internal-node import`` verifies it and records the receipts against the packages it sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from exchange.status import exchange_status
from internal_node import SPEC as INTERNAL
from internal_node.export import export
from nodekit.models import ReceiptRow
from nodekit.runtime import Node
from public_node import SPEC as PUBLIC
from public_node.importer import import_packages
from tests.helpers import run_cli
from tests.integration.public_support import ingest_rows, package_files, penalty
from tests.nodes import Clock, make_home, trust_each_other
from transfer.medium import channel_dirname

pytestmark = pytest.mark.db


def receipts(node: Node, direction: str) -> list[tuple[str, int | None, str, str, int | None]]:
    with node.sessions() as s:
        rows = s.scalars(select(ReceiptRow).where(ReceiptRow.direction == direction).order_by(ReceiptRow.seq))
        return [(r.peer_node, r.seq, r.digest, r.outcome, r.carrier_seq) for r in rows]


def test_public_node_export_carries_the_receipts_to_the_internal_node(tmp_path: Path, database_factory: Any) -> None:
    start = datetime.now(UTC).replace(microsecond=0)  # the programs read the real clock
    clock = Clock(start)
    medium = tmp_path / "medium"
    medium.mkdir()
    internal = make_home(tmp_path, INTERNAL, "int", medium, clock, database_factory("int"))
    public = make_home(tmp_path, PUBLIC, "pub", medium, clock, database_factory("pub"))
    trust_each_other(internal, public, clock)
    decided = start.date() - timedelta(days=20)
    sent = []
    for n in (1, 2):
        assert ingest_rows(internal.node, "penalty", [penalty(n, decided)], tmp_path / "department-files").accepted
        [pkg] = export(internal.node, internal.identity).sent
        sent.append(pkg)
    good, bad = sent
    assert bad.medium is not None
    tampered = bytearray(bad.medium.read_bytes())
    tampered[-30] ^= 0x01
    bad.medium.write_bytes(bytes(tampered))
    outcomes = import_packages(public.node, public.identity)
    assert [(o.seq, o.result) for o in outcomes] == [(1, "applied"), (2, "rejected")]
    issued = receipts(public.node, "out")
    assert [(peer, seq, outcome, carrier) for peer, seq, _, outcome, carrier in issued] == [
        (internal.id, 1, "applied", None),
        (internal.id, 2, "rejected", None),
    ], "issued, waiting in the outbox"

    r = run_cli("public-node", "--home", str(public.node.config.home), "export", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert isinstance(out, dict)
    [ret] = out["sent"]
    back = channel_dirname(public.id, internal.id)
    assert (ret["channel"], ret["seq"], ret["counts"]["receipt"]) == (back, 1, 2)
    assert [p.name for p in package_files(medium / back)] == [Path(ret["medium"]).name]
    assert [carrier for *_, carrier in receipts(public.node, "out")] == [1, 1], "carried by return package 1"

    r = run_cli("internal-node", "--home", str(internal.node.config.home), "import", "--json")
    assert r.code == 0, r.err
    result = r.json()
    assert isinstance(result, dict)
    assert [(o["channel"], o["seq"], o["result"]) for o in result["outcomes"]] == [(back, 1, "applied")]
    got = receipts(internal.node, "in")
    assert got == [(public.id, seq, digest, outcome, 1) for _, seq, digest, outcome, _ in issued], "carried by 1"
    assert got[0][2] == good.digest, "the applied package's receipt names the digest it was sent with"
    assert exchange_status(internal.node)["log"]["receipts_received"] == 2
    assert package_files(medium / back) == [], "the return package is taken off the medium"
    internal.node.close()
    public.node.close()
