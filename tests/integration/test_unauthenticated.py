"""Issue 13, case 8: unauthenticated input must not make a node sign. Junk named like a package (a header
whose signature does not verify) is logged locally once per distinct file and never receipted; a
verified package whose size check failed is receipted with its verified seq; and `audit reconcile`
reads a damaged copy as evidence, exiting 5 (action pending) with the resend to run, not 0 or 4."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from exchange.engine import Exchange
from exchange.node import open_exchange
from exchange.reconcile import reconcile
from internal_node.returns import ReturnApplier
from nodekit import trust_store
from nodekit.models import LogCheckpointRow, ReceiptRow, TransferLogRow
from tests.helpers import run_cli
from tests.integration.test_audit import MetaApplier, rec
from tests.nodes import Clock, Home, trusted_pair
from transfer.header import parse_prefix
from transfer.items import Item
from transfer.medium import channel_dirname

pytestmark = pytest.mark.db


@pytest.fixture
def nodes(tmp_path: Path, database_factory: Any) -> Iterator[tuple[Home, Home, Exchange, Exchange, Clock]]:
    # an hour before the real clock: the CLI (which reads it) sees these packages within their not_after
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    a, b, _, clock = trusted_pair(tmp_path, database_factory, Clock(start))
    yield a, b, open_exchange(a.node, a.identity), open_exchange(b.node, b.identity), clock
    a.node.close()
    b.node.close()


def send(ex: Exchange, peer: Home, items: list[Item]) -> Any:
    with ex.node.sessions() as s:
        key = trust_store.load_trust_state(s).current_for(peer.id)
    return ex.send(key, lambda s, seq: list(items))


def cli(home: Home, *args: str) -> Any:
    return run_cli(f"{home.node.config.role}-node", "--home", str(home.node.config.home), *args)


def counts(home: Home) -> tuple[int, int, int]:
    """(receipts in the outbox, signed checkpoints, log entries) of a node."""
    with home.node.sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(ReceiptRow).where(ReceiptRow.direction == "out")) or 0,
            s.scalar(select(func.count()).select_from(LogCheckpointRow)) or 0,
            s.scalar(select(func.count()).select_from(TransferLogRow)) or 0,
        )


def test_fifty_unsigned_headers_get_no_receipt_no_signature_and_one_entry_each(nodes: Any) -> None:
    a, b, ea, eb, clock = nodes
    real = send(ea, b, [rec(1)])
    assert [o.result for o in eb.receive(MetaApplier)] == ["applied"]
    prefix = real.archive.read_bytes()
    raw = parse_prefix(prefix[:70_000])
    header_only = prefix[: raw.prefix_len]
    sig_at = raw.prefix_len - len(raw.signature)
    before = counts(b)
    folder = ea.medium.root / channel_dirname(a.id, b.id)

    def junk(round_: int) -> None:
        for i in range(50):
            # the real header naming the internal node and its key, with a signature nobody made
            forged_sig = i.to_bytes(2, "big") * (len(raw.signature) // 2)
            name = folder / f"p{2 + i:012d}-{i:016x}.cgp"
            name.write_bytes(header_only[:sig_at] + forged_sig)
            os.utime(name, (1, 1))

    junk(1)
    out = eb.receive(MetaApplier)
    assert len(out) == 50 and {(o.result, o.reason, o.seq) for o in out} == {("rejected", "bad-signature", None)}
    receipts, checkpoints, entries = counts(b)
    assert receipts == before[0], "no receipt for a package nobody signed"
    assert checkpoints == before[1], "no signature of ours per junk file"
    assert entries == before[2] + 50, "one local entry per distinct file"
    with b.node.sessions() as s:
        logged = [orjson.loads(r) for r in s.scalars(select(TransferLogRow.subject).where(
            TransferLogRow.index >= before[2]))]  # fmt: skip
    assert all(e["verified"] is False and "seq" not in e and "channel" not in e for e in logged)

    junk(2)  # the same 50 files again: already logged
    assert len(eb.receive(MetaApplier)) == 50
    assert counts(b) == (before[0], before[1], before[2] + 50)

    # the public node's next package carries its receipts: only the real package's
    clock.advance(minutes=10)
    send(eb, a, [])
    assert [o.result for o in ea.receive(ReturnApplier)] == ["applied"]
    with a.node.sessions() as s:
        got = s.execute(select(ReceiptRow.seq, ReceiptRow.outcome).where(ReceiptRow.direction == "in")).all()
        report = reconcile(s, a.id, now=clock(), period=a.node.config.exchange_period)
    assert got == [(1, "applied")]
    assert report.complete and report.unexplained == []
    r = cli(a, "audit", "reconcile", "--json")
    assert r.code == 0, r.out + r.err
    assert r.json()["verdict"] == "complete"  # type: ignore[index]


def test_a_verified_package_of_the_wrong_size_is_receipted_with_its_seq(nodes: Any) -> None:
    a, b, ea, eb, clock = nodes
    send(ea, b, [rec(1)])
    p2 = send(ea, b, [rec(2)])
    p3 = send(ea, b, [rec(3)])
    data2, data3 = p2.medium.read_bytes(), p3.medium.read_bytes()
    p2.medium.write_bytes(data2 + b"\0" * 10)  # extended
    p3.medium.write_bytes(data3[:-10])  # truncated
    for p in (p2, p3):
        os.utime(p.medium, (1, 1))  # long finished: not still being written
    out = eb.receive(MetaApplier)
    assert sorted((o.seq, o.result, o.reason) for o in out) == [
        (1, "applied", ""), (2, "rejected", "extended"), (3, "rejected", "truncated")
    ]  # fmt: skip
    with b.node.sessions() as s:
        receipts = s.execute(
            select(ReceiptRow.seq, ReceiptRow.outcome, ReceiptRow.reason)
            .where(ReceiptRow.direction == "out")
            .order_by(ReceiptRow.seq)
        ).all()
    assert receipts == [(1, "applied", ""), (2, "rejected", "extended"), (3, "rejected", "truncated")]
    clock.advance(minutes=10)
    send(eb, a, [])
    ea.receive(ReturnApplier)
    with a.node.sessions() as s:
        report = reconcile(s, a.id, now=clock(), period=a.node.config.exchange_period)
    assert [(p.seq, p.status) for p in report.packages] == [(1, "applied"), (2, "damaged"), (3, "damaged")]
    assert report.ok and not report.complete and report.unexplained == []


def test_a_bad_ciphertext_copy_leaves_reconcile_pending_with_the_resend_to_run(nodes: Any) -> None:
    a, b, ea, eb, clock = nodes
    send(ea, b, [rec(1)])
    p2 = send(ea, b, [rec(2)])
    data = bytearray(p2.medium.read_bytes())
    data[-100] ^= 1
    p2.medium.write_bytes(bytes(data))
    assert [(o.seq, o.result, o.reason) for o in eb.receive(MetaApplier)] == [
        (1, "applied", ""), (2, "rejected", "bad-ciphertext")
    ]  # fmt: skip
    clock.advance(minutes=10)
    send(eb, a, [])
    ea.receive(ReturnApplier)

    r = cli(a, "audit", "reconcile", "--json")
    assert r.code == 5, r.out + r.err
    doc: Any = r.json()
    assert doc["ok"] is True and doc["complete"] is False and doc["verdict"] == "action-pending"
    [waiting] = [p for p in doc["packages"] if p["status"] != "applied"]
    assert (waiting["seq"], waiting["status"], waiting["expired"]) == (2, "damaged", False)
    assert waiting["action"] == "internal-node export --resend 2"
    assert waiting["rejected_copies"][0]["reason"] == "bad-ciphertext"
    human = cli(a, "audit", "reconcile")
    assert human.code == 5
    assert "export --resend 2" in human.err and "evidence of the medium" in human.out

    # the resend is applied: complete, exit 0
    ea.resend(b.id, 2, 2)
    assert [(o.seq, o.result) for o in eb.receive(MetaApplier)] == [(2, "applied")]
    clock.advance(minutes=10)
    send(eb, a, [])
    ea.receive(ReturnApplier)
    r = cli(a, "audit", "reconcile", "--json")
    assert r.code == 0, r.out + r.err

    # past its not_after, a package not applied is a failure (4): a resend would be refused as expired
    with a.node.sessions() as s:
        late = reconcile(s, a.id, now=clock() + timedelta(days=8), period=a.node.config.exchange_period)
    assert late.complete
    p3 = send(ea, b, [rec(3)])
    p3.medium.unlink()
    with a.node.sessions() as s:
        late = reconcile(s, a.id, now=clock() + timedelta(days=8), period=a.node.config.exchange_period)
        soon = reconcile(s, a.id, now=clock() + timedelta(days=2), period=a.node.config.exchange_period)
    assert (late.verdict, late.packages[-1].status, late.packages[-1].expired) == ("failed", "missing", True)
    assert "export --full" in late.packages[-1].action
    assert (soon.verdict, soon.packages[-1].action) == ("action-pending", "internal-node export --resend 3")
