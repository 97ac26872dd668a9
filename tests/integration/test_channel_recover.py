"""Issue 13, case 6: `channel recover` on both nodes, end to end through real node homes and a real
transfer folder — after a key compromise (a forged snapshot accepted), after the internal database was
restored from an older backup, and after a fork (two packages at one seq). Each time the operator
carries each side's `status --json` to the other, both run `channel recover --reason … --yes`, and the
internal node's next export is a snapshot at the peer's last + 2 or more that rebuilds the public side."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, delete, insert, select

from exchange import recover
from internal_node import SPEC as INTERNAL
from internal_node.export import export
from internal_node.returns import import_returns
from nodekit import trust_store
from nodekit.identity_ops import revoke_identity
from nodekit.models import PeerCheckpointRow, TransferLogRow
from nodekit.runtime import Node
from public_node import SPEC as PUBLIC
from public_node.cli import send_returns
from public_node.importer import import_packages
from tests.forge import forge, snapshot_marker
from tests.helpers import run_cli
from tests.integration.public_support import channel_packages, ingest_rows, log_events, penalty, published
from tests.nodes import Clock, Home, make_home, trust_each_other

pytestmark = pytest.mark.db


class Net:
    """An internal and a public node sharing one transfer folder and one clock."""

    def __init__(self, tmp: Path, database_factory: Any) -> None:
        self.tmp = tmp
        self.medium = tmp / "medium"
        self.medium.mkdir()
        self.clock = Clock()
        self.internal = make_home(tmp, INTERNAL, "int", self.medium, self.clock, database_factory("int"))
        self.public = make_home(tmp, PUBLIC, "pub", self.medium, self.clock, database_factory("pub"))
        trust_each_other(self.internal, self.public, self.clock)
        self.n = 0

    def ingest(self, count: int = 1) -> None:
        decided = self.internal.node.today() - timedelta(days=20)
        rows = [penalty(self.n + i, decided) for i in range(1, count + 1)]
        self.n += count
        assert ingest_rows(self.internal.node, "penalty", rows, self.tmp / "department-files").accepted

    def export(self, *, full: bool = False) -> Any:
        self.clock.advance(minutes=5)
        [pkg] = export(self.internal.node, self.internal.identity, full=full).sent
        return pkg

    def import_(self) -> list[tuple[int | None, str, str]]:
        self.clock.advance(minutes=5)
        return [(o.seq, o.result, o.reason) for o in import_packages(self.public.node, self.public.identity)]

    def returns(self) -> list[str]:
        """The public node's return package (its receipts and checkpoint) taken in by the internal node."""
        self.clock.advance(minutes=5)
        send_returns(self.public.node, self.public.identity)
        return [o.result for o in import_returns(self.internal.node, self.internal.identity)]

    def shown(self) -> set[str]:
        """The keys the public node shows."""
        return {key for _, key in published(self.public.node)}

    def status(self, home: Home) -> Path:
        """`status --json` of one node, written to a file an operator carries to the other."""
        r = cli(home, "status", "--json")
        assert r.code == 0, r.err
        path = self.tmp / f"{home.node.config.role}-status.json"
        path.write_text(r.out)
        return path

    def recover(self, home: Home, peer_status: Path, reason: str) -> Any:
        r = cli(home, "channel", "recover", "--peer-status", str(peer_status), "--reason", reason, "--yes", "--json")
        assert r.code == 0, r.out + r.err
        return r.json()

    def recover_both(self, reason: str, *, restored: bool = False) -> tuple[Any, Any]:
        """The procedure of docs/OPERATIONS.md: after a compromise or a fork the public side first, with
        the internal node's status, then the internal side with the public node's status after it; after
        the internal database was restored, the internal side first (it forgot what it sent)."""
        if restored:
            internal = self.recover(self.internal, self.status(self.public), reason)
            pub = self.recover(self.public, self.status(self.internal), reason)
        else:
            pub = self.recover(self.public, self.status(self.internal), reason)
            internal = self.recover(self.internal, self.status(self.public), reason)
        return pub, internal

    def public_key(self) -> Any:
        with self.internal.node.sessions() as s:
            return trust_store.load_trust_state(s).current_for(self.public.id)

    def sent_seqs(self) -> list[int]:
        return [q for q, _ in channel_packages(self.internal.node, self.internal.id, self.public.id)]


def cli(home: Home, *args: str) -> Any:
    return run_cli(f"{home.node.config.role}-node", "--home", str(home.node.config.home), *args)


@pytest.fixture
def net(tmp_path: Path, database_factory: Any) -> Iterator[Net]:
    n = Net(tmp_path, database_factory)
    yield n
    n.internal.node.close()
    n.public.node.close()


def alarms(home: Home) -> list[str]:
    return [e["reason"] for prefix in ("alarm.equivocation", "alarm.fork") for e in log_events(home.node, prefix)]


def verified_log(home: Home) -> Any:
    r = cli(home, "audit", "verify", "--json")
    assert r.code == 0, r.out + r.err
    return r.json()


# ---------------------------------------------------------------------------------- (a) compromise


def test_after_a_key_compromise_recover_makes_real_packages_and_full_apply_again(net: Net) -> None:
    net.ingest(3)
    net.export()
    net.ingest(1)
    net.export()
    assert net.import_() == [(1, "applied", ""), (2, "applied", "")]
    before = net.shown()
    assert before
    stolen = net.internal.identity.current_secret()
    # the thief signs an empty snapshot within the rebase bound: accepted, it empties the public side
    forge(
        net.medium, signer=stolen, sender=net.internal.id, recipient=net.public.id, recipient_key=net.public_key(),
        seq=5000, prev="f" * 64, created=int(net.clock().timestamp()), items=[snapshot_marker()],
        package_type="snapshot",
    )  # fmt: skip
    assert net.import_() == [(5000, "rebased", "")]
    assert net.shown() == set()
    # SECURITY.md's re-enrolment: revoke, new key, the public node trusts the new card
    statement, _ = revoke_identity(net.internal.node, net.internal.identity, now=net.clock(), reason="compromised")
    with net.public.node.transaction() as s:
        trust_store.apply_statement(s, statement, net.clock())
        card = net.internal.identity.card()
        trust_store.trust_card(s, card, card.key_id, net.clock(), own_role="public")
    net.ingest(1)
    net.export()
    assert net.import_() == [(3, "rejected", "superseded")], "re-enrolment alone does not unjam the channel"

    pub, internal = net.recover_both("internal signing key stolen; forged snapshot 5000 applied")
    assert pub["abandoned_packages"] == [{"seq": 5000, "digest": pub["abandoned_packages"][0]["digest"],
                                          "status": "applied"}]  # fmt: skip
    assert (pub["before"]["last_seq"], pub["after"]["last_seq"]) == (5000, 3)
    assert internal["next_seq"] == 5 and internal["peer"]["last_seq"] == 3

    snap = net.export()
    assert (snap.seq, snap.size > 0) == (5, True)
    assert net.import_() == [(5, "rebased", "")]
    rebuilt = net.shown()
    assert before < rebuilt, "the snapshot rebuilt the public side (and the record of seq 3)"
    net.ingest(1)
    assert net.export().seq == 6
    assert net.export(full=True).seq == 7
    assert net.import_() == [(6, "applied", ""), (7, "applied", "")]
    assert rebuilt < net.shown()
    assert (5000, "abandoned") in channel_packages(net.public.node, net.internal.id, net.public.id)
    for home in (net.public, net.internal):
        [entry] = log_events(home.node, "channel.recovered")
        assert entry["why"].startswith("internal signing key stolen")
        log = verified_log(home)
        assert [seg["channel"] for seg in log["segments"]] == [entry["channel"]]
    assert net.returns() == ["applied"]
    r = cli(net.internal, "audit", "reconcile", "--json")
    assert r.code in (0, 4), r.err  # the forged 5000's receipt is unexplained: evidence of the theft
    doc: Any = r.json()
    assert [u["seq"] for u in doc["unexplained_receipts"]] == [5000]


# ---------------------------------------------------------------------------------- (b) restore


def backup(node: Node) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table: what a database backup holds."""
    meta = MetaData()
    meta.reflect(bind=node.engine)
    with node.engine.connect() as c:
        return {t.name: [dict(r._mapping) for r in c.execute(select(t))] for t in meta.sorted_tables}


def restore(node: Node, copy: dict[str, list[dict[str, Any]]]) -> None:
    """Put the database back to ``copy`` (the home's files — keys, archive — are as they are now)."""
    meta = MetaData()
    meta.reflect(bind=node.engine)
    with node.engine.begin() as c:
        for t in reversed(meta.sorted_tables):
            c.execute(delete(t))
        for t in meta.sorted_tables:
            if copy.get(t.name):
                c.execute(insert(t), copy[t.name])


def test_an_internal_database_restored_from_backup_never_reuses_a_seq(net: Net) -> None:
    net.ingest(2)
    net.export()
    assert net.import_() == [(1, "applied", "")]
    assert net.returns() == ["applied"]
    old = backup(net.internal.node)
    net.ingest(1)
    p2 = net.export()
    assert net.import_() == [(2, "applied", "")]
    assert net.returns() == ["applied"]  # return package 2 (the receipt for 2): lost with the restore too
    net.ingest(1)
    p3 = net.export()
    assert net.import_() == [(3, "applied", "")]
    before = net.shown()
    restore(net.internal.node, old)  # the disk failed; last night's backup is put back
    assert net.sent_seqs() == [1]
    bundle = net.tmp / "pub-evidence"
    assert cli(net.public, "audit", "export", "-o", str(bundle)).code == 0
    [held] = list((bundle / "peer-checkpoints").glob(f"{net.internal.id}-*.json"))
    lost = cli(net.internal, "audit", "verify", "--against", str(held))
    assert lost.code == 4 and "truncated" in lost.err, "unrecorded, the shorter log reads as cut off"

    pub, internal = net.recover_both("internal database restored from the backup of last night", restored=True)
    assert pub["abandoned_packages"] == [] and pub["after"]["last_seq"] == 3
    assert pub["abandoned_peer_checkpoints"], "the public node's checkpoints of the longer log are set aside"
    assert (internal["peer"]["last_seq"], internal["next_seq"]) == (3, 5)
    assert internal["abandoned_head"] is not None
    assert (internal["inbound"]["from"], internal["inbound"]["to"]) == (1, 2), "the return channel moves on too"

    net.ingest(1)
    snap = net.export()
    assert snap.seq == 5 and snap.digest not in (p2.digest, p3.digest)
    assert net.import_() == [(5, "rebased", "")]
    assert len(net.shown()) == len(before) - 2 + 1, "the restored database's records, and the new one"
    net.ingest(1)
    assert net.export().seq == 6
    assert net.import_() == [(6, "applied", "")]
    assert net.returns() == ["applied"]
    assert net.sent_seqs() == [1, 5, 6], "no sequence number sent before the restore is used again"
    assert alarms(net.public) == [] and alarms(net.internal) == [], "a recorded restore is no forgery"
    with net.public.node.sessions() as s:
        kinds = set(s.scalars(select(PeerCheckpointRow.source).where(PeerCheckpointRow.peer_node == net.internal.id)))
    assert "abandoned" in kinds
    r = cli(net.internal, "audit", "reconcile", "--json")
    assert r.code == 0, r.out + r.err
    doc: Any = r.json()
    assert [a["seq"] for a in doc["abandoned_receipts"]] == [3], "sent before the restore: explained by it"
    assert doc["unexplained_receipts"] == []
    # the internal node's log verifies across the boundary and shows it; the public node's checkpoint of
    # the lost log reads as the recorded restore's abandoned head, not as a truncation
    log = verified_log(net.internal)
    [seg] = log["segments"]
    assert seg["old"]["seq"] == 1 and seg["next_seq"] == 5
    r = cli(net.internal, "audit", "verify", "--against", str(held), "--json")
    assert r.code == 0, r.out + r.err
    assert r.json()["against_abandoned"]["start"] == seg["start"]  # type: ignore[index]
    assert "abandoned when this node was restored" in cli(net.internal, "audit", "verify", "--against", str(held)).out


# ---------------------------------------------------------------------------------- (c) fork


def test_after_a_fork_recover_sets_the_forged_side_aside(net: Net) -> None:
    net.ingest(2)
    first = net.export()
    assert net.import_() == [(1, "applied", "")]
    before = net.shown()
    # a second package at seq 2, chained to 1, signed with the internal key by someone else
    forge(
        net.medium, signer=net.internal.identity.current_secret(), sender=net.internal.id, recipient=net.public.id,
        recipient_key=net.public_key(), seq=2, prev=first.digest, created=int(net.clock().timestamp()) + 60,
        items=[{"kind": "heartbeat"}],
    )  # fmt: skip
    assert net.import_() == [(2, "applied", "")]
    net.ingest(1)
    net.export()  # the real 2
    net.ingest(1)
    net.export()  # 3, chained to the real 2
    got = net.import_()
    assert got[0] == (2, "rejected", "equivocation"), got
    assert alarms(net.public) == ["equivocation", "fork"], "the real 3 does not chain to the forged 2"
    pub, internal = net.recover_both("two packages at seq 2: the forged one applied")
    assert [a["seq"] for a in pub["abandoned_packages"]] == [2], "the forged side of the fork"
    assert internal["next_seq"] == 5
    snap = net.export()
    assert snap.seq == 5
    assert net.import_() == [(5, "rebased", "")]
    assert len(net.shown()) == len(before) + 2
    assert (2, "abandoned") in channel_packages(net.public.node, net.internal.id, net.public.id)
    net.ingest(1)
    net.export()
    assert net.import_() == [(6, "applied", "")]
    [entry] = log_events(net.public.node, "channel.recovered")
    assert [a["seq"] for a in entry["abandoned"]] == [2]


# ---------------------------------------------------------------------------------- the command itself


def test_recover_shows_its_plan_asks_and_needs_a_reason(net: Net) -> None:
    net.ingest(1)
    net.export()
    assert net.import_() == [(1, "applied", "")]
    assert net.returns() == ["applied"]
    home = net.internal
    assert cli(home, "channel", "recover", "--yes").code == 2, "--reason is required"
    assert cli(home, "channel", "recover", "--reason", "  ", "--yes").code == 2
    assert cli(home, "channel", "recover", "--reason", "x", "--json").code == 2, "--json cannot ask"

    # without --yes it shows the plan and asks; no changes nothing
    no = run_cli("internal-node", "--home", str(home.node.config.home), "channel", "recover", "--reason", "drill",
                 input="n\n")  # fmt: skip
    assert no.code != 0
    assert "learned from its latest verified receipt" in no.out and "snapshot at seq 3" in no.out
    assert log_events(home.node, "channel.recovered") == []
    # the internal node learns from the public node's latest verified receipt by default
    yes = run_cli("internal-node", "--home", str(home.node.config.home), "--operator", "张三", "channel", "recover",
                  "--reason", "drill", input="y\n")  # fmt: skip
    assert yes.code == 0, yes.out + yes.err
    [entry] = log_events(home.node, "channel.recovered")
    assert (entry["why"], entry["source"], entry["next_seq"]) == ("drill", "receipts", 3)
    with home.node.sessions() as s:
        actor = s.scalar(select(TransferLogRow.actor).where(TransferLogRow.event == "channel.recovered"))
    assert actor == "operator:张三"
    assert net.export().seq == 3
    assert net.import_() == [(3, "rebased", "")]

    # a public node has no receipt that says where the internal node stands: it needs its status
    r = cli(net.public, "channel", "recover", "--reason", "drill", "--yes")
    assert r.code == 2 and "--peer-status" in r.err
    bad = net.tmp / "bad-status.json"
    bad.write_text('{"exchange": {"node": "someone-else", "channels": []}}')
    r = cli(net.public, "channel", "recover", "--peer-status", str(bad), "--reason", "drill", "--yes")
    assert r.code == 2 and "someone-else" in r.err and "Traceback" not in r.err


def test_a_plan_is_carried_out_only_on_the_channel_it_was_made_for(net: Net) -> None:
    net.ingest(1)
    net.export()
    assert net.import_() == [(1, "applied", "")]
    assert net.returns() == ["applied"]
    node = net.internal.node
    with node.sessions() as s:
        plan = recover.plan_recovery(s, net.internal.id, "sender", recover.from_receipts(s, net.internal.id,
                                                                                       net.public.id))  # fmt: skip
    assert plan.next_seq == 3
    net.ingest(1)
    net.export()  # an export while the operator was reading the plan
    with pytest.raises(recover.RecoverError, match="moved since the plan was shown"), node.transaction() as s:
        recover.apply_recovery(s, plan, reason="drill", at=net.clock())
    assert log_events(node, "channel.recovered") == []
