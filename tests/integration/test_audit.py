"""The transfer log end to end, on two real node homes through a real transfer folder: tampering with a
real log table is caught and named, tail truncation is caught against the peer's checkpoint, receipts
travel both ways and reconcile every package, alarms are raised once per period (and reach syslog),
and the log holds digests and counts, never record contents or key material."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from exchange.alarms import check_inbound, close_syslog, receipts_overdue
from exchange.engine import Exchange
from exchange.node import open_exchange
from exchange.reconcile import reconcile
from exchange.status import exchange_status
from internal_node.returns import ReturnApplier
from nodekit import trust_store
from nodekit.models import ChannelPackageRow, LogCheckpointRow, NodeMeta, PeerCheckpointRow, ReceiptRow, TransferLogRow
from nodekit.runtime import Node
from public_node import SPEC as PUBLIC
from tests.helpers import run_cli
from tests.nodes import Clock, Home, trusted_pair
from transfer.items import Item
from transfer.opener import VerifiedHeader

pytestmark = pytest.mark.db

# In the past of any machine running this, so that the CLI (which reads the real clock) sees these
# packages as old; every time-dependent check below goes through the library with this clock.
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NAME = "滇池蓝藻治理有限公司"
USCC = "91530100MA6K4QXY7T"


class MetaApplier:
    """Writes each record's key into node_meta: a real table, so atomicity shows in the database."""

    def begin(self, session: Session, vh: VerifiedHeader) -> None:
        self.s, self.n = session, 0

    def item(self, item: Item) -> None:
        if item["kind"] == "record":
            self.s.add(NodeMeta(key=f"r:{item['key']}", value=item["row"]["subject_name"], updated_at=START))
            self.n += 1

    def finish(self) -> dict[str, int]:
        return {"records": self.n}


def rec(i: int) -> Item:
    return {
        "kind": "record", "op": "upsert", "table": "penalty", "key": f"{i:032x}", "version": 1,
        "row": {"subject_key": "a" * 32, "subject_name": f"{NAME}{i}", "subject_category": "legal_person",
                "uscc": f"{USCC}{i}", "doc_no": f"昆罚〔2026〕{i}号", "publish_until": None, "source_unit": "test"},
    }  # fmt: skip


@pytest.fixture
def nodes(tmp_path: Path, database_factory: Any) -> Iterator[tuple[Home, Home, Exchange, Exchange, Clock]]:
    yield from two_nodes(tmp_path, database_factory)


def two_nodes(tmp_path: Path, database_factory: Any) -> Iterator[tuple[Home, Home, Exchange, Exchange, Clock]]:
    """An internal and a public node trusting each other, sharing one medium, on the clock START."""
    a, b, _, clock = trusted_pair(tmp_path, database_factory, Clock(START))
    yield a, b, open_exchange(a.node, a.identity), open_exchange(b.node, b.identity), clock
    a.node.close()
    b.node.close()


def send(ex: Exchange, peer: Home, items: list[Item]) -> Any:
    with ex.node.sessions() as s:
        key = trust_store.load_trust_state(s).current_for(peer.id)
    return ex.send(key, lambda s, seq: list(items))


def cli(home: Home, *args: str) -> Any:
    return run_cli(f"{home.node.config.role}-node", "--home", str(home.node.config.home), *args)


def medium_files(ex: Exchange) -> list[Path]:
    return sorted(ex.medium.root.rglob("*.cgp"))


def exchange_rounds(nodes: Any) -> dict[str, Any]:
    """Several exchanges both ways: one package damaged on the medium and rejected, then resent; one
    duplicate; receipts travel back and are acknowledged in turn."""
    a, b, ea, eb, clock = nodes
    p1, p2, p3 = send(ea, b, [rec(1)]), send(ea, b, [rec(2)]), send(ea, b, [rec(3)])
    damaged = medium_files(ea)[1]
    data = bytearray(damaged.read_bytes())
    data[-100] ^= 1
    damaged.write_bytes(bytes(data))
    out = eb.receive(MetaApplier)
    assert [(o.seq, o.result) for o in out] == [(1, "applied"), (2, "rejected"), (3, "pending")]
    clock.advance(minutes=10)
    r1 = send(eb, a, [])
    assert [o.result for o in ea.receive(ReturnApplier)] == ["applied"]
    clock.advance(minutes=10)
    ea.resend(b.id, 2, 2)
    assert [(o.seq, o.result) for o in eb.receive(MetaApplier)] == [(2, "applied"), (3, "applied")]
    ea.resend(b.id, 1, 1)
    assert [o.result for o in eb.receive(MetaApplier)] == ["duplicate"]
    clock.advance(minutes=10)
    r2 = send(eb, a, [])
    assert [o.result for o in ea.receive(ReturnApplier)] == ["applied"]
    clock.advance(minutes=10)
    p4 = send(ea, b, [rec(4)])
    assert [o.result for o in eb.receive(MetaApplier)] == ["applied"]
    clock.advance(minutes=10)
    r3 = send(eb, a, [])
    assert [o.result for o in ea.receive(ReturnApplier)] == ["applied"]
    return {"p": [p1, p2, p3, p4], "r": [r1, r2, r3], "damaged_digest": None}


# ------------------------------------------------------------------------------------- end to end


def test_receipts_reconcile_every_package_both_ways(nodes: Any) -> None:
    a, b, ea, eb, clock = nodes
    sent = exchange_rounds(nodes)
    p1, p2, p3, p4 = sent["p"]
    with a.node.sessions() as s:
        got = {(r.seq, r.digest, r.outcome) for r in s.scalars(select(ReceiptRow).where(ReceiptRow.direction == "in"))}
        report = reconcile(s, a.id, now=clock(), period=a.node.config.exchange_period)
    assert {(1, p1.digest, "applied"), (2, p2.digest, "applied"), (3, p3.digest, "pending"),
            (3, p3.digest, "applied"), (1, p1.digest, "duplicate"), (4, p4.digest, "applied")} <= got  # fmt: skip
    rejected = [r for r in got if r[2] == "rejected"]
    assert len(rejected) == 1 and rejected[0][0] == 2 and rejected[0][1] != p2.digest, "the damaged copy"
    assert report.ok, report.as_dict()
    assert [(p.seq, p.status) for p in report.packages] == [(1, "applied"), (2, "applied"), (3, "applied"),
                                                             (4, "applied")]  # fmt: skip
    [copy] = report.packages[1].rejected_copies
    assert copy["reason"] == "bad-ciphertext"
    # the public node's return packages are acknowledged by the internal node's next packages
    with b.node.sessions() as s:
        back = reconcile(s, b.id, now=clock(), period=b.node.config.exchange_period)
    assert [(p.seq, p.status) for p in back.packages] == [(1, "applied"), (2, "applied"), (3, "pending")]

    # the CLI: reconciled (the packages are months old by the real clock, so nothing is merely pending)
    r = cli(a, "audit", "reconcile", "--json")
    assert r.code == 0, r.out + r.err
    assert r.json()["summary"]["applied"] == 4  # type: ignore[index]
    human = cli(a, "audit", "reconcile")
    assert "reconciled" in human.out and "a copy" in human.out and "bad-ciphertext" in human.out

    # one receipt removed: that package is no longer accounted for
    with a.node.transaction() as s:
        s.execute(delete(ReceiptRow).where(ReceiptRow.direction == "in", ReceiptRow.digest == p4.digest))
    r = cli(a, "audit", "reconcile", "--json")
    assert r.code == 4
    doc: Any = r.json()
    assert doc["ok"] is False and doc["summary"]["missing"] == 1
    assert [p["seq"] for p in doc["packages"] if p["status"] == "missing"] == [4]
    assert "1 missing" in cli(a, "audit", "reconcile").err
    with a.node.sessions() as s:  # within the exchange period it is only pending
        young = reconcile(s, a.id, now=clock(), period=a.node.config.exchange_period)
    assert young.ok and young.packages[3].status == "pending"


def test_a_copy_of_a_parked_package_is_never_reported_applied(nodes: Any) -> None:
    a, b, ea, eb, clock = nodes
    send(ea, b, [rec(1)])
    p2 = send(ea, b, [rec(2)])
    p3 = send(ea, b, [rec(3)])
    medium_files(ea)[1].unlink()  # package 2 lost on the way: 3 is parked
    assert [(o.seq, o.result) for o in eb.receive(MetaApplier)] == [(1, "applied"), (3, "pending")]
    ea.resend(b.id, 3, 3)  # the operator resends 3 while 2 is still missing
    [again] = eb.receive(MetaApplier)
    assert (again.seq, again.result) == (3, "pending") and "waiting for 2" in again.message
    clock.advance(minutes=10)
    send(eb, a, [])
    ea.receive(ReturnApplier)
    with a.node.sessions() as s:
        about3 = s.scalars(select(ReceiptRow.outcome).where(ReceiptRow.direction == "in", ReceiptRow.seq == 3)).all()
        report = reconcile(s, a.id, now=clock(), period=a.node.config.exchange_period)
        late = reconcile(s, a.id, now=clock() + timedelta(days=2), period=a.node.config.exchange_period)
    assert about3 == ["pending", "pending"], "no receipt says a parked package was a duplicate of an applied one"
    assert [(p.seq, p.status) for p in report.packages] == [(1, "applied"), (2, "pending"), (3, "pending")]
    assert [(p.seq, p.status) for p in late.packages] == [(1, "applied"), (2, "missing"), (3, "parked")]
    # within their not_after: nothing failed, an action is pending (exit 5), and the report names it
    assert late.ok and not late.complete and late.verdict == "action-pending"
    assert late.packages[1].action == "internal-node export --resend 2"
    with a.node.sessions() as s:
        expired = reconcile(s, a.id, now=clock() + timedelta(days=8), period=a.node.config.exchange_period)
    assert not expired.ok and expired.verdict == "failed"
    # the lost package arrives: both are applied, and then reconcile says so
    ea.resend(b.id, 2, 2)
    assert [(o.seq, o.result) for o in eb.receive(MetaApplier)] == [(2, "applied"), (3, "applied")]
    clock.advance(minutes=10)
    send(eb, a, [])
    ea.receive(ReturnApplier)
    with a.node.sessions() as s:
        done = reconcile(s, a.id, now=clock() + timedelta(days=2), period=a.node.config.exchange_period)
    assert done.ok and [p.status for p in done.packages] == ["applied"] * 3
    assert {p.digest for p in done.packages[1:]} == {p2.digest, p3.digest}


def test_reconcile_reports_a_package_rejected_at_the_peer_and_a_receipt_for_one_never_exported(nodes: Any) -> None:
    a, b, ea, eb, clock = nodes
    p1 = send(ea, b, [rec(1)])
    assert [o.result for o in eb.receive(MetaApplier)] == ["applied"]
    short = open_exchange(a.node, a.identity, validity=600)
    with a.node.sessions() as s:
        key = trust_store.load_trust_state(s).current_for(b.id)
    p2 = short.send(key, lambda s, seq: [rec(2)])
    clock.advance(minutes=30)  # the medium travelled too slowly: package 2 expired before it arrived
    assert [(o.seq, o.result, o.reason) for o in eb.receive(MetaApplier)] == [(2, "rejected", "expired")]
    send(eb, a, [])
    ea.receive(ReturnApplier)

    r = cli(a, "audit", "reconcile", "--json")
    assert r.code == 4, r.out + r.err
    doc: Any = r.json()
    assert [(p["seq"], p["digest"], p["status"], p["reason"]) for p in doc["packages"]] == [
        (1, p1.digest, "applied", ""), (2, p2.digest, "rejected", "expired")]  # fmt: skip
    assert doc["summary"]["rejected"] == 1 and doc["unexplained_receipts"] == []
    human = cli(a, "audit", "reconcile")
    assert "REJECTED" in human.out and "expired" in human.out
    assert "1 rejected" in human.err and "0 receipt(s) for packages never exported" in human.err

    # the node's record of package 1 is gone (a database restored from an older backup): the receipt
    # the peer signed for it is now about a package this node never exported
    with a.node.transaction() as s:
        s.execute(delete(ChannelPackageRow).where(ChannelPackageRow.digest == p1.digest))
    r = cli(a, "audit", "reconcile", "--json")
    assert r.code == 4
    doc = r.json()
    [odd] = doc["unexplained_receipts"]
    assert (odd["seq"], odd["digest"], odd["outcome"], odd["issuer"]) == (1, p1.digest, "applied", b.id)
    assert [p["seq"] for p in doc["packages"]] == [2]
    human = cli(a, "audit", "reconcile")
    assert f"UNEXPLAINED receipt from {b.id}" in human.out and p1.digest[:16] in human.out
    assert "1 receipt(s) for packages never exported" in human.err


def test_both_logs_verify_after_the_exchange(nodes: Any) -> None:
    a, b, *_ = nodes
    exchange_rounds(nodes)
    for home in (a, b):
        r = cli(home, "audit", "verify", "--json")
        assert r.code == 0, r.err
        doc: Any = r.json()
        assert doc["entries"] > 10 and doc["checkpoints"] >= 4
        fp = home.identity.current_key_id
        spaced = " ".join(fp[i : i + 4] for i in range(0, 32, 4))
        assert cli(home, "audit", "verify", "--key-fingerprint", spaced).code == 0
    # each side holds the other's checkpoints, and signed acknowledgements of its own
    r = cli(a, "audit", "verify", "--against", "latest-peer", "--json")
    assert r.code == 0, r.err
    assert r.json()["against"]["size"] > 0  # type: ignore[index]
    with b.node.sessions() as s:
        assert s.scalar(select(PeerCheckpointRow.size).where(PeerCheckpointRow.peer_node == a.id).limit(1))


def test_a_package_carries_the_checkpoint_as_of_just_before_its_sealed_entry(nodes: Any) -> None:
    a, b, ea, eb, clock = nodes
    p = send(ea, b, [rec(1)])
    with a.node.sessions() as s:
        sealed = s.scalars(select(TransferLogRow).where(TransferLogRow.event == "package.sealed")).one()
        sizes = set(s.scalars(select(LogCheckpointRow.size)))
    assert sealed.index in sizes, "the carried checkpoint covers exactly the entries before 'sealed'"
    assert sealed.index + 1 in sizes, "and one more, signed after it"
    eb.receive(MetaApplier)
    with b.node.sessions() as s:
        held = s.scalars(select(PeerCheckpointRow).where(PeerCheckpointRow.source == "package")).one()
    assert (held.peer_node, held.size, held.package_seq, held.package_digest) == (a.id, sealed.index, 1, p.digest)


def test_a_checkpoint_is_signed_after_each_applied_package(nodes: Any) -> None:
    a, b, ea, eb, clock = nodes
    for i in range(3):
        send(ea, b, [rec(i)])
    assert [o.result for o in eb.receive(MetaApplier)] == ["applied"] * 3
    with b.node.sessions() as s:
        log = s.execute(select(TransferLogRow.index, TransferLogRow.event).order_by(TransferLogRow.index)).all()
        sizes = set(s.scalars(select(LogCheckpointRow.size)))
    applied = [i for i, e in log if e == "package.applied"]
    assert len(applied) == 3
    for i in applied:  # signed in the package's transaction, over every entry it wrote
        nxt = next((j for j, e in log if j > i and e == "package.received"), len(log))
        assert any(i < size <= nxt for size in sizes), (i, nxt, sorted(sizes))


def test_each_node_holds_the_other_s_checkpoints_and_its_log_extends_them(nodes: Any, tmp_path: Path) -> None:
    a, b, ea, eb, clock = nodes
    exchange_rounds(nodes)
    for me, peer in ((a, b), (b, a)):
        with peer.node.sessions() as s:
            held = s.scalars(select(PeerCheckpointRow.size).where(PeerCheckpointRow.peer_node == me.id)).all()
        assert held, f"{peer.id} holds no checkpoint of {me.id}"
        bundle = tmp_path / f"{peer.id}-evidence"
        assert cli(peer, "audit", "export", "-o", str(bundle)).code == 0
        [file] = list((bundle / "peer-checkpoints").glob(f"{me.id}-*.json"))
        assert file.name == f"{me.id}-{max(held)}.json"
        r = cli(me, "audit", "verify", "--against", str(file), "--json")
        assert r.code == 0, r.err
        doc: Any = r.json()
        assert doc["against"]["size"] == max(held) and doc["entries"] >= max(held)
        assert isinstance(doc["consistency_proof"], list)
        assert "extends the peer-held checkpoint" in cli(me, "audit", "verify", "--against", str(file)).out


# ---------------------------------------------------------------------------------- tampering


def _tamper(home: Home, stmt: Any) -> None:
    with home.node.transaction() as s:
        s.execute(stmt)


def _verify_fails(home: Home, *extra: str) -> dict[str, Any]:
    r = cli(home, "audit", "verify", "--json", *extra)
    assert r.code == 4, r.out + r.err
    doc: dict[str, Any] = r.json()  # type: ignore[assignment]
    assert doc["ok"] is False
    human = cli(home, "audit", "verify", *extra)
    assert human.code == 4 and human.err.startswith(f"{home.node.config.role}-node: error: transfer log: ")
    if doc["reason"] != "bad-checkpoint":
        assert f"entry {doc['index']}" in human.err or f"entries {doc['index']}." in human.err, human.err
    return doc


@pytest.fixture
def logged(nodes: Any) -> Home:
    a, b, ea, eb, clock = nodes
    for i in range(3):
        send(ea, b, [rec(i)])
    eb.receive(MetaApplier)
    send(eb, a, [])
    ea.receive(ReturnApplier)
    assert cli(a, "audit", "verify").code == 0
    return a  # type: ignore[no-any-return]


def test_an_edited_entry_is_caught_and_named(logged: Home) -> None:
    _tamper(logged, update(TransferLogRow).where(TransferLogRow.index == 5).values(actor="operator:mallory"))
    doc = _verify_fails(logged)
    assert (doc["index"], doc["reason"]) == (5, "edited")


def test_an_edit_with_a_recomputed_hash_is_caught_and_named(logged: Home) -> None:
    from nodekit.events import row_to_entry

    with logged.node.transaction() as s:
        row = s.get(TransferLogRow, 6)
        assert row is not None
        row.result = "ok-ish"
        row.leaf_hash = row_to_entry(row).leaf_hash
    doc = _verify_fails(logged)
    assert (doc["index"], doc["reason"]) == (6, "edited")


@pytest.mark.parametrize(
    ("column", "value", "shown", "problem"),
    [("event", "x", "x", "its event 'x' is not an event code"), ("subject", "{", "{", "its subject is not JSON"),
     ("counts", "[1]", [1], "its counts is not a JSON object"),
     ("counts", '{"records":1.5}', {"records": 1.5}, "cannot be encoded canonically")],
)  # fmt: skip
def test_an_entry_edited_beyond_decoding_is_named_and_still_shown(
    logged: Home, tmp_path: Path, column: str, value: str, shown: object, problem: str
) -> None:
    _tamper(logged, update(TransferLogRow).where(TransferLogRow.index == 5).values({column: value}))
    doc = _verify_fails(logged)
    assert (doc["index"], doc["reason"]) == (5, "edited")
    assert problem in doc["message"]
    # show and export carry the row as stored instead of failing on it
    r = cli(logged, "audit", "show", "--json")
    assert r.code == 0, r.err
    [entry] = [e for e in r.json()["entries"] if e["index"] == 5]  # type: ignore[index]
    assert entry[column] == shown and problem in entry["problem"]
    table = cli(logged, "audit", "show")
    assert table.code == 0 and any(line.split()[0] == "5" for line in table.out.splitlines()[2:]), table.out
    assert cli(logged, "audit", "show", "--csv").code == 0
    assert cli(logged, "audit", "show", "--seq", "1").code == 0
    r = cli(logged, "audit", "export", "-o", str(tmp_path / "bundle"))
    assert r.code == 0, r.err
    with logged.node.sessions() as s:
        stored = len(s.scalars(select(TransferLogRow.index)).all())
    assert len((tmp_path / "bundle" / "entries.jsonl").read_bytes().splitlines()) == stored


def test_an_edited_event_and_subject_together_name_the_first(logged: Home) -> None:
    _tamper(logged, update(TransferLogRow).where(TransferLogRow.index == 3).values(subject="{"))
    _tamper(logged, update(TransferLogRow).where(TransferLogRow.index == 8).values(event="x"))
    doc = _verify_fails(logged)
    assert (doc["index"], doc["reason"]) == (3, "edited")


def test_a_deleted_entry_is_caught_and_named(logged: Home) -> None:
    _tamper(logged, delete(TransferLogRow).where(TransferLogRow.index == 7))
    doc = _verify_fails(logged)
    assert (doc["index"], doc["reason"]) == (7, "deleted")


def test_reordered_entries_are_caught_and_named(logged: Home) -> None:
    with logged.node.transaction() as s:
        s.execute(update(TransferLogRow).where(TransferLogRow.index == 4).values(index=-1))
        s.execute(update(TransferLogRow).where(TransferLogRow.index == 9).values(index=4))
        s.execute(update(TransferLogRow).where(TransferLogRow.index == -1).values(index=9))
    doc = _verify_fails(logged)
    assert (doc["index"], doc["reason"]) == (4, "reordered")


def test_tail_truncation_is_caught_by_a_checkpoint_then_against_the_peer(
    logged: Home, nodes: Any, tmp_path: Path
) -> None:
    a, b, *_ = nodes
    with b.node.sessions() as s:
        held_size = s.scalar(select(PeerCheckpointRow.size).where(PeerCheckpointRow.peer_node == a.id).order_by(
            PeerCheckpointRow.size.desc()).limit(1))  # fmt: skip
    assert held_size is not None and held_size > 4
    cut = held_size - 3  # back before the checkpoint the peer holds
    _tamper(a, delete(TransferLogRow).where(TransferLogRow.index >= cut))
    doc = _verify_fails(a)
    assert (doc["index"], doc["reason"]) == (cut, "truncated"), "the node's own later checkpoints show it"
    # the node's own checkpoints removed too: its log alone no longer shows it...
    _tamper(a, delete(LogCheckpointRow).where(LogCheckpointRow.size > cut))
    assert cli(a, "audit", "verify").code == 0
    # ...but the peer holds a checkpoint of this log (exported with its evidence bundle)
    bundle = tmp_path / "pub-evidence"
    assert cli(b, "audit", "export", "-o", str(bundle)).code == 0
    [held] = list((bundle / "peer-checkpoints").glob(f"{a.id}-*.json"))
    assert held.name == f"{a.id}-{held_size}.json"
    doc = _verify_fails(a, "--against", str(held))
    assert (doc["index"], doc["reason"]) == (cut, "truncated")
    # and the receipts the peer signed acknowledge a checkpoint of it too
    doc = _verify_fails(a, "--against", "latest-peer")
    assert doc["reason"] == "truncated"


def test_a_checkpoint_with_a_foreign_key_fails_when_keys_are_pinned(logged: Home, nodes: Any) -> None:
    a, b, *_ = nodes
    other = b.identity.current_key_id
    r = cli(a, "audit", "verify", "--key-fingerprint", other)
    assert r.code == 2 and "no key" in r.err
    # a checkpoint signature altered in the table
    with a.node.transaction() as s:
        row = s.scalars(select(LogCheckpointRow).order_by(LogCheckpointRow.size).limit(1)).one()
        row.sig = "00" * 64
    doc = _verify_fails(a)
    assert doc["reason"] == "bad-checkpoint"


# ------------------------------------------------------------------------ receipts, checkpoints


def test_a_receipt_with_a_bad_signature_rejects_the_package(nodes: Any) -> None:
    a, b, ea, eb, clock = nodes
    send(ea, b, [rec(1)])
    eb.receive(MetaApplier)
    with b.node.sessions() as s:
        doc, _sig = s.execute(select(ReceiptRow.document, ReceiptRow.sig).where(ReceiptRow.direction == "out")).one()
    forged = {"kind": "receipt", "receipt": json.loads(doc), "sig": "11" * 64}
    send(eb, a, [forged])
    out = ea.receive(ReturnApplier)
    assert [(o.result, o.reason) for o in out] == [("rejected", "bad-receipt")]
    with a.node.sessions() as s:
        assert s.scalars(select(ReceiptRow).where(ReceiptRow.direction == "in")).all() == []


def test_the_outbox_is_carried_once(nodes: Any) -> None:
    a, b, ea, eb, clock = nodes
    send(ea, b, [rec(1)])
    send(ea, b, [rec(2)])
    eb.receive(MetaApplier)
    r1 = send(eb, a, [])
    r2 = send(eb, a, [])
    with b.node.sessions() as s:
        carriers = sorted(s.scalars(select(ReceiptRow.carrier_seq).where(ReceiptRow.direction == "out")))
    assert carriers == [r1.seq, r1.seq] and r2.seq not in carriers
    ea.receive(ReturnApplier)
    with a.node.sessions() as s:
        assert len(s.scalars(select(ReceiptRow).where(ReceiptRow.direction == "in")).all()) == 2


# ---------------------------------------------------------------------------------- alarms, status


def test_overdue_alarms_once_per_period_and_to_syslog(nodes: Any, tmp_path: Path) -> None:
    a, b, ea, eb, clock = nodes
    sock_path = tmp_path / "syslog.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(5)
    try:
        cfg = b.node.config.config_path
        cfg.write_text(cfg.read_text(encoding="utf-8") + f'\n[alarms]\nsyslog = "{sock_path}"\n', encoding="utf-8")
        node = Node.open(b.node.config.home, PUBLIC, clock=clock)
        period = node.config.exchange_period
        assert check_inbound(node) == [], "the peer was trusted just now"
        clock.advance(seconds=period + 60)
        [alarm] = check_inbound(node)
        assert alarm.kind == "no-package" and alarm.peer == a.id
        assert b"ALARM overdue: no package from" in sock.recv(4096)
        clock.advance(seconds=60)
        assert check_inbound(node) == [], "once per period"
        status = exchange_status(node)
        assert status["freshness"] == "overdue" and status["alarms"][0]["alarm"] == "no-package"
        clock.advance(seconds=period)
        assert len(check_inbound(node)) == 1, "and again in the next period"
        with node.sessions() as s:
            events = s.scalars(select(TransferLogRow.reason).where(TransferLogRow.event == "alarm.overdue")).all()
        assert events == ["no-package", "no-package"]
        node.close()
    finally:
        close_syslog(str(sock_path))
        sock.close()


def test_receipts_overdue_raise_an_alarm_at_export(nodes: Any) -> None:
    a, b, ea, eb, clock = nodes
    send(ea, b, [rec(1)])
    clock.advance(seconds=a.node.config.exchange_period + 60)
    with a.node.sessions() as s:
        [o] = receipts_overdue(s, a.node, clock())
    assert (o.kind, o.count) == ("no-receipt", 1)
    send(ea, b, [rec(2)])  # sealing checks the receipts of this channel
    send(ea, b, [rec(3)])
    with a.node.sessions() as s:
        alarms = s.scalars(select(TransferLogRow.reason).where(TransferLogRow.event == "alarm.overdue")).all()
    assert alarms == ["no-receipt"]
    st = exchange_status(a.node)
    assert "no-receipt" in [x["alarm"] for x in st["alarms"]] and st["log"]["last_checkpoint"]["size"] > 0
    eb.receive(MetaApplier)
    send(eb, a, [])
    ea.receive(ReturnApplier)
    with a.node.sessions() as s:
        assert receipts_overdue(s, a.node, clock()) == []


# ------------------------------------------------------------------------------- show, export


def test_show_filters_and_formats(logged: Home) -> None:
    r = cli(logged, "audit", "show", "--event", "package.", "--seq", "2", "--json")
    assert r.code == 0, r.err
    entries: Any = r.json()
    events = {e["event"] for e in entries["entries"]}
    assert events and all(e.startswith("package.") for e in events)
    assert all(e["subject"]["seq"] == 2 for e in entries["entries"])
    csv_out = cli(logged, "audit", "show", "--result", "applied", "--csv").out.splitlines()
    assert csv_out[0].startswith("index,at,actor,event") and len(csv_out) >= 2
    assert all(",applied," in line for line in csv_out[1:])
    table = cli(logged, "audit", "show", "--since", "2026-03-02", "--until", "2026-03-03", "--limit", "3").out
    assert len(table.splitlines()) == 5  # header, rule, 3 entries
    assert cli(logged, "audit", "show", "--until", "2026-03-02").out.count("\n") <= 2
    assert cli(logged, "audit", "show", "--since", "yesterday").code == 2


def test_the_evidence_bundle_verifies_standalone(logged: Home, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    r = cli(logged, "audit", "export", "-o", str(out), "--json")
    assert r.code == 0, r.err
    verifier = out / "verify_log.py"
    run = subprocess.run(
        [sys.executable, str(verifier), str(out), "--key-fingerprint", logged.identity.current_key_id],
        capture_output=True, text=True, check=False, cwd=out,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "OK:" in run.stdout
    assert cli(logged, "audit", "export", "-o", str(out)).code == 2, "never overwrites a bundle"
    # the bundle's verifier catches an edited entry on its own
    lines = (out / "entries.jsonl").read_bytes().splitlines()
    lines[3] = lines[3].replace(b'"actor":"', b'"actor":"x')
    (out / "entries.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    run = subprocess.run([sys.executable, str(verifier), str(out)], capture_output=True, text=True, check=False)
    assert run.returncode == 4 and "first bad entry: 3" in run.stderr
    run = subprocess.run(
        [sys.executable, str(verifier), str(out), "--key-fingerprint", "0" * 32], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert run.returncode == 4 and "not a trusted key" in run.stderr


def test_audit_checkpoint_signs_on_demand(logged: Home) -> None:
    first = cli(logged, "audit", "checkpoint", "--json").json()
    again = cli(logged, "audit", "checkpoint", "--json").json()
    assert first == again, "nothing appended: the same checkpoint"
    assert first["size"] > 0  # type: ignore[index]


# ------------------------------------------------------------------------------- what the log holds


def test_the_log_holds_no_record_contents_nor_key_material(nodes: Any) -> None:
    a, b, *_ = nodes
    exchange_rounds(nodes)
    secrets: list[bytes] = []
    for home in (a, b):
        for key in home.identity.own_keys():
            for raw in home.identity.secret_for(key.key_id).private_bytes():
                secrets += [raw, raw.hex().encode()]
    needles = [NAME.encode(), USCC.encode(), "昆罚".encode(), *secrets]
    for home in (a, b):
        with home.node.sessions() as s:
            for model in (TransferLogRow, LogCheckpointRow, ReceiptRow, PeerCheckpointRow):
                dump = repr([tuple(r) for r in s.execute(select(model.__table__))]).encode()
                dump += json.dumps([[str(c) for c in r] for r in s.execute(select(model.__table__))],
                                   ensure_ascii=False).encode()  # fmt: skip
                for needle in needles:
                    assert needle not in dump, f"{model.__tablename__} of {home.id} holds {needle[:12]!r}"
    with b.node.sessions() as s:  # the payload did arrive: the needles are real
        assert any(NAME in v for v in s.scalars(select(NodeMeta.value)))
