"""The exchange between two real node homes through a real transfer folder: order, gaps, duplicates,
tampering, atomicity of a package's transaction, resend, equivocation evidence, and key rotation and revocation
carried in a package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.engine import Exchange
from exchange.node import open_exchange
from nodekit.models import ChannelRow, NodeMeta, TransferLogRow
from tests.nodes import Clock, Home, trusted_pair
from transfer.items import Item
from transfer.opener import VerifiedHeader

pytestmark = pytest.mark.db


class MetaApplier:
    """Writes each record's key into node_meta (a real table), so atomicity is visible in the database."""

    fail_on: str | None = None

    def begin(self, session: Session, vh: VerifiedHeader) -> None:
        self.s = session
        self.n = 0

    def item(self, item: Item) -> None:
        if item["kind"] == "record":
            if item["key"] == self.fail_on:
                err = ValueError("bad record")
                err.package_fault = True  # type: ignore[attr-defined]
                err.reason = "bad-record"  # type: ignore[attr-defined]
                raise err
            self.s.add(NodeMeta(key=f"r:{item['key']}", value=item["row"]["subject_name"], updated_at=_now()))
            self.s.flush()
            self.n += 1

    def finish(self) -> dict[str, int]:
        return {"records": self.n}


_CLOCK = Clock()


def _now() -> Any:
    return _CLOCK()


def rec(i: int) -> Item:
    return {
        "kind": "record", "op": "upsert", "table": "penalty", "key": f"{i:032x}", "version": 1,
        "row": {"subject_key": "a" * 32, "subject_name": f"企业{i}", "subject_category": "legal_person", "uscc": None,
                "doc_no": str(i), "publish_until": None, "source_unit": "test"},
    }  # fmt: skip


@pytest.fixture
def homes(tmp_path: Path, database_factory: Any) -> Iterator[tuple[Home, Home, Exchange, Exchange]]:
    a, b, _, _ = trusted_pair(tmp_path, database_factory, _CLOCK)
    yield a, b, open_exchange(a.node, a.identity), open_exchange(b.node, b.identity)
    a.node.close()
    b.node.close()


def send(ex: Exchange, peer: Home, keys: list[int]) -> Any:
    from nodekit import trust_store

    with ex.node.sessions() as s:
        peer_key = trust_store.load_trust_state(s).current_for(peer.id)
    return ex.send(peer_key, lambda s, seq: [rec(i) for i in keys])


def published(home: Home) -> set[str]:
    with home.node.sessions() as s:
        return {k[2:] for k in s.scalars(select(NodeMeta.key)) if k.startswith("r:")}


def medium_files(ex: Exchange) -> list[Path]:
    return sorted(p for p in ex.medium.root.rglob("*.cgp"))


def test_in_order_exchange_applies_everything_once(homes: Any) -> None:
    a, b, ea, eb = homes
    for n in range(3):
        send(ea, b, [n])
    assert len(medium_files(ea)) == 3
    out = eb.receive(MetaApplier)
    assert [o.result for o in out] == ["applied"] * 3
    assert published(b) == {f"{n:032x}" for n in range(3)}
    assert medium_files(ea) == [], "the medium copy is removed after import"
    assert len(list(eb.archive.files(a.id, b.id))) == 3
    with b.node.sessions() as s:
        ch = s.scalars(select(ChannelRow)).one()
        assert (ch.last_seq, ch.suite) == (3, 1)
    assert eb.receive(MetaApplier) == []


def test_out_of_order_gap_waits_then_applies(homes: Any, tmp_path: Path) -> None:
    a, b, ea, eb = homes
    for n in range(3):
        send(ea, b, [n])
    hold = tmp_path / "hold"
    hold.mkdir()
    first, second, third = medium_files(ea)
    first.rename(hold / first.name)
    second.rename(hold / second.name)
    out = eb.receive(MetaApplier)
    assert [o.result for o in out] == ["pending"] and "1..2" in out[0].message
    assert published(b) == set()
    (hold / second.name).rename(second)
    assert [o.result for o in eb.receive(MetaApplier)] == ["pending"]
    (hold / first.name).rename(first)
    out = eb.receive(MetaApplier)
    assert [(o.seq, o.result) for o in out] == [(1, "applied"), (2, "applied"), (3, "applied")]
    assert len(published(b)) == 3


def test_duplicate_is_reported_and_changes_nothing(homes: Any) -> None:
    a, b, ea, eb = homes
    sent = send(ea, b, [1])
    eb.receive(MetaApplier)
    ea.resend(b.id, 1, 1)
    out = eb.receive(MetaApplier)
    assert [o.result for o in out] == ["duplicate"]
    assert medium_files(ea) == []
    assert out[0].digest == sent.digest


def test_tampered_package_is_quarantined_and_the_exchange_continues(homes: Any) -> None:
    a, b, ea, eb = homes
    send(ea, b, [1])
    send(ea, b, [2])
    send(ea, b, [3])
    one, two, three = medium_files(ea)
    data = bytearray(two.read_bytes())
    data[-100] ^= 1
    two.write_bytes(bytes(data))
    out = eb.receive(MetaApplier)
    assert [(o.seq, o.result) for o in out] == [(1, "applied"), (2, "rejected"), (3, "pending")]
    assert out[1].reason == "bad-ciphertext"
    [entry] = eb.quarantine.entries()
    assert entry["reason"] == "bad-ciphertext" and entry["bytes_kept"] is True
    assert published(b) == {f"{1:032x}"}
    # the operator resends the lost package with its original bytes from the internal archive
    ea.resend(b.id, 2, 2)
    out = eb.receive(MetaApplier)
    assert [(o.seq, o.result) for o in out] == [(2, "applied"), (3, "applied")]
    with b.node.sessions() as s:
        events = [r.event for r in s.scalars(select(TransferLogRow).order_by(TransferLogRow.index))]
    assert "package.rejected" in events and "package.quarantined" in events and "package.pending-gap" in events


def test_a_failing_package_changes_nothing(homes: Any) -> None:
    a, b, ea, eb = homes
    send(ea, b, [1, 2, 3])

    class Failing(MetaApplier):
        fail_on = f"{3:032x}"

    out = eb.receive(Failing)
    assert [o.result for o in out] == ["rejected"] and out[0].reason == "bad-record"
    assert published(b) == set(), "records 1 and 2 were written, then rolled back with the package"
    with b.node.sessions() as s:
        assert s.scalars(select(ChannelRow)).first() is None or s.scalars(select(ChannelRow)).one().last_seq == 0


def test_key_rotation_travels_in_a_package(homes: Any) -> None:
    from nodekit import trust_store
    from nodekit.identity_ops import next_send_seqs, rotate_identity

    a, b, ea, eb = homes
    send(ea, b, [1])
    eb.receive(MetaApplier)
    old = a.identity.current_key_id
    with a.node.sessions() as s:
        seqs = next_send_seqs(s, a.identity)
    rotate_identity(a.node, a.identity, now=_CLOCK(), last_seq=seqs, profile=None)
    new = a.identity.current_key_id
    assert new != old
    send(ea, b, [2])  # still signed by the old key, carries the succession statement
    send(ea, b, [3])  # signed by the new key
    out = eb.receive(MetaApplier)
    assert [o.result for o in out] == ["applied", "applied"]
    with b.node.sessions() as s:
        state = trust_store.load_trust_state(s)
    assert state.current_for(a.id).key_id == new
    old_key = state.get(old)
    assert old_key is not None and old_key.status.value == "superseded" and old_key.last_seq == 2


def test_equivocation_is_rejected_with_self_contained_evidence(homes: Any, tmp_path: Path) -> None:
    """The sender signs two different packages for one position: the second is refused, an alarm is
    logged, and the quarantine keeps both signed headers with their signatures, each verifying alone."""
    import io

    from keys import Purpose
    from nodekit import trust_store
    from tests.forge import checkpoint_item
    from transfer.header import parse_prefix
    from transfer.limits import MAGIC
    from transfer.medium import channel_dirname, package_name
    from transfer.seal import Recipient, seal

    a, b, ea, eb = homes
    first = send(ea, b, [1])
    assert [o.result for o in eb.receive(MetaApplier)] == ["applied"]
    with a.node.sessions() as s:
        peer = trust_store.load_trust_state(s).current_for(b.id)
    out = io.BytesIO()
    other = seal(
        [{"kind": "manifest", "policy": None, "content": None, "note": "second"},
         checkpoint_item(a.identity.signer_for(b.id, 1), a.id, int(_CLOCK().timestamp())), rec(99)],
        sender_node=a.id, sender_role="internal", signer=a.identity.signer_for(b.id, 1),
        recipient=Recipient(peer.node_id, peer.key_id, peer.public.enc), seq=1, prev="0" * 64,
        created=int(_CLOCK().timestamp()), out=out, spool=io.BytesIO(),
    )  # fmt: skip
    assert other.digest != first.digest
    (ea.medium.root / channel_dirname(a.id, b.id) / package_name(1, other.digest)).write_bytes(out.getvalue())

    [outcome] = eb.receive(MetaApplier)
    assert (outcome.seq, outcome.result, outcome.reason) == (1, "rejected", "equivocation")
    assert published(b) == {f"{1:032x}"}, "the equivocating package changed nothing"
    with b.node.sessions() as s:
        alarms = s.scalars(select(TransferLogRow).where(TransferLogRow.event == "alarm.equivocation")).all()
        sender_key = trust_store.load_trust_state(s).get(a.identity.current_key_id)
    assert sender_key is not None
    assert [(r.result, r.reason, orjson.loads(r.subject)["seq"]) for r in alarms] == [("alarm", "equivocation", 1)]

    [entry] = eb.quarantine.entries()
    ev = entry["evidence"]
    assert (ev["seq"], ev["known_digest"], ev["new_digest"]) == (1, first.digest, other.digest)
    headers = []
    for which in ("known", "new"):
        body = ev[f"{which}_header"].encode()
        signed = MAGIC + len(body).to_bytes(4, "big") + body
        sender_key.public.verify(Purpose.PACKAGE_HEADER, signed, bytes.fromhex(ev[f"{which}_signature"]))
        headers.append(orjson.loads(body))
    known, new = headers
    assert known["seq"] == new["seq"] == 1 and known["sender"] == new["sender"] and known != new
    [archived] = eb.archive.files(a.id, b.id)
    assert known == parse_prefix(archived.read_bytes()).document and new == other.header.document()


def test_key_revocation_travels_in_a_package(homes: Any) -> None:
    from nodekit import trust_store
    from nodekit.identity_ops import next_send_seqs, revoke_identity, rotate_identity

    a, b, ea, eb = homes
    send(ea, b, [1])
    old = a.identity.current_key_id
    with a.node.sessions() as s:
        seqs = next_send_seqs(s, a.identity)
    rotate_identity(a.node, a.identity, now=_CLOCK(), last_seq=seqs, profile=None)
    new = a.identity.current_key_id
    send(ea, b, [2])  # the old key's last package, with the succession statement
    assert [o.result for o in eb.receive(MetaApplier)] == ["applied", "applied"]
    with b.node.sessions() as s:
        before = trust_store.load_trust_state(s).get(old)
    assert before is not None and before.status.value == "superseded"

    statement, replacement = revoke_identity(a.node, a.identity, now=_CLOCK(), key_id=old, reason="compromised")
    assert replacement is None and statement.key_id == old and a.identity.current_key_id == new
    sent = send(ea, b, [3])  # signed by the new key; carries the revocation
    assert sent.counts.get("key-announcement", 0) >= 1
    assert [o.result for o in eb.receive(MetaApplier)] == ["applied"]
    with b.node.sessions() as s:
        state = trust_store.load_trust_state(s)
        events = s.scalars(select(TransferLogRow).where(TransferLogRow.event == "key.revoked")).all()
    revoked = state.get(old)
    assert revoked is not None and revoked.status.value == "revoked"
    assert state.current_for(a.id).key_id == new
    assert [orjson.loads(r.subject)["key_id"] for r in events] == [old]
