"""Issue 13 cases 6, 7, 9, 10 and 11 end to end: a stolen or expired internal key, a second internal node,
and clocks that are wrong, against a real internal and public node sharing a real transfer folder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.engine import Exchange, SentPackage
from exchange.node import open_exchange
from internal_node import SPEC as INTERNAL
from internal_node.export import export
from nodekit import trust_store
from nodekit.models import ChannelPackageRow, NodeMeta
from public_node import SPEC as PUBLIC
from public_node.importer import import_packages
from tests.forge import forge, snapshot_marker
from tests.integration.public_support import channel_packages, ingest_rows, penalty, published
from tests.nodes import Clock, Home, make_home, trust_each_other
from transfer.items import Item
from transfer.limits import MAX_SEQ
from transfer.opener import VerifiedHeader

pytestmark = pytest.mark.db


@dataclass
class Net:
    """An internal and a public node, each on its own clock, sharing one transfer folder."""

    tmp: Path
    medium: Path
    internal: Home
    public: Home
    iclock: Clock
    pclock: Clock
    n: int = 0

    def ingest(self, count: int = 1) -> None:
        decided = self.internal.node.today() - timedelta(days=20)
        rows = [penalty(self.n + i, decided) for i in range(1, count + 1)]
        self.n += count
        assert ingest_rows(self.internal.node, "penalty", rows, self.tmp / "department-files").accepted

    def export(self, *, full: bool = False) -> SentPackage:
        [pkg] = export(self.internal.node, self.internal.identity, full=full).sent
        return pkg

    def import_(self) -> list[tuple[int | None, str, str]]:
        return [(o.seq, o.result, o.reason) for o in import_packages(self.public.node, self.public.identity)]

    def public_key(self) -> Any:
        with self.internal.node.sessions() as s:
            return trust_store.load_trust_state(s).current_for(self.public.id)

    def advance(self, **kw: float) -> None:
        self.iclock.advance(**kw)
        self.pclock.advance(**kw)

    def now(self) -> int:
        return int(self.iclock().timestamp())


@pytest.fixture
def net(tmp_path: Path, database_factory: Any) -> Iterator[Net]:
    medium = tmp_path / "medium"
    medium.mkdir()
    iclock, pclock = Clock(), Clock()
    internal = make_home(tmp_path, INTERNAL, "int", medium, iclock, database_factory("int"))
    public = make_home(tmp_path, PUBLIC, "pub", medium, pclock, database_factory("pub"))
    trust_each_other(internal, public, iclock)
    yield Net(tmp_path, medium, internal, public, iclock, pclock)
    internal.node.close()
    public.node.close()


def shown(net: Net) -> set[str]:
    return {key for _, key in published(net.public.node)}


# -- case 6: a snapshot signed with a stolen key cannot rewind the channel for good --------------------


def test_a_forged_snapshot_at_the_end_of_the_sequence_space_is_refused(net: Net) -> None:
    net.ingest(3)
    first = net.export()
    assert net.import_() == [(1, "applied", "")]
    before = shown(net)
    assert len(before) >= 3
    # whoever stole the internal key signs an empty snapshot at the last sequence number there is
    forge(
        net.medium, signer=net.internal.identity.current_secret(), sender=net.internal.id, recipient=net.public.id,
        recipient_key=net.public_key(), seq=MAX_SEQ, prev="f" * 64, created=net.now(),
        items=[snapshot_marker()], package_type="snapshot",
    )  # fmt: skip
    assert net.import_() == [(MAX_SEQ, "rejected", "rebase-too-far")]
    assert shown(net) == before, "the published database is untouched"
    # the channel goes on: the next real package (and a --full) still apply, nothing is "superseded"
    net.ingest(1)
    assert net.export().seq == first.seq + 1
    assert net.import_() == [(2, "applied", "")]
    assert net.export(full=True).seq == 3
    assert net.import_() == [(3, "applied", "")]
    assert len(shown(net)) == len(before) + 1


def test_a_forged_delta_far_ahead_is_not_parked(net: Net) -> None:
    """A delta beyond the bound could only ever be taken up by a rebase beyond it: refused, not parked
    (where it would count as a newer package known for good)."""
    net.ingest(1)
    net.export()
    assert net.import_() == [(1, "applied", "")]
    forge(
        net.medium, signer=net.internal.identity.current_secret(), sender=net.internal.id, recipient=net.public.id,
        recipient_key=net.public_key(), seq=MAX_SEQ, prev="f" * 64, created=net.now(), items=[{"kind": "heartbeat"}],
    )  # fmt: skip
    assert net.import_() == [(MAX_SEQ, "rejected", "rebase-too-far")]
    assert channel_packages(net.public.node, net.internal.id, net.public.id) == [(1, "applied")]


def test_a_snapshot_within_the_bound_but_older_than_the_channel_is_refused(net: Net) -> None:
    net.ingest(1)
    net.export()
    net.advance(hours=1)
    net.ingest(1)
    net.export()
    assert [r for _, r, _ in net.import_()] == ["applied", "applied"]
    before = shown(net)
    forge(
        net.medium, signer=net.internal.identity.current_secret(), sender=net.internal.id, recipient=net.public.id,
        recipient_key=net.public_key(), seq=9, prev="f" * 64, created=net.now() - 1800,
        items=[snapshot_marker()], package_type="snapshot",
    )  # fmt: skip
    assert net.import_() == [(9, "rejected", "clock-regression")]
    assert shown(net) == before


# -- case 7: an expired key is refused at the reader's clock; only applied or parked packages are "newer" --


class MetaApplier:
    """Writes each record's key into node_meta, so what a package applied is visible in the database."""

    def begin(self, session: Session, vh: VerifiedHeader) -> None:
        self.s = session

    def item(self, item: Item) -> None:
        if item["kind"] == "record":
            self.s.add(NodeMeta(key=f"r:{item['key']}", value="x", updated_at=datetime.now(UTC)))

    def finish(self) -> dict[str, int]:
        return {}


def rec(i: int) -> Item:
    return {
        "kind": "record", "op": "upsert", "table": "penalty", "key": f"{i:032x}", "version": 1,
        "row": {"subject_key": "a" * 32, "subject_name": f"企业{i}", "subject_category": "legal_person", "uscc": None,
                "doc_no": str(i), "publish_until": None, "source_unit": "test"},
    }  # fmt: skip


@dataclass
class Pair:
    """An internal node whose first key is valid for 30 days and a public node, on one clock, as exchanges."""

    a: Home
    b: Home
    ea: Exchange
    eb: Exchange
    clock: Clock
    medium: Path

    def send(self, *keys: int) -> SentPackage:
        with self.a.node.sessions() as s:
            peer = trust_store.load_trust_state(s).current_for(self.b.id)
        return self.ea.send(peer, lambda s, seq: [rec(i) for i in keys])

    def receive(self) -> list[tuple[int | None, str, str]]:
        return [(o.seq, o.result, o.reason) for o in self.eb.receive(MetaApplier)]

    def published(self) -> set[int]:
        with self.b.node.sessions() as s:
            return {int(k[2:], 16) for k in s.scalars(select(NodeMeta.key)) if k.startswith("r:")}

    def forge(self, seq: int, created: int, *keys: int, prev: str = "f" * 64) -> SentPackage:
        """A package signed with the internal node's first key (stolen, or long expired)."""
        with self.a.node.sessions() as s:
            peer = trust_store.load_trust_state(s).current_for(self.b.id)
        first = self.a.identity.own_keys()[0].key_id
        sealed = forge(
            self.medium, signer=self.a.identity.secret_for(first), sender=self.a.id, recipient=self.b.id,
            recipient_key=peer, seq=seq, created=created, items=[rec(i) for i in keys], prev=prev,
        )  # fmt: skip
        return SentPackage(seq, sealed.digest, sealed.size, "", Path(), None, {})


KEY_DAYS = 30


@pytest.fixture
def pair(tmp_path: Path, database_factory: Any) -> Iterator[Pair]:
    clock = Clock()
    medium = tmp_path / "medium"
    medium.mkdir()
    a = make_home(tmp_path, INTERNAL, "int", medium, clock, database_factory("int"), validity=timedelta(days=KEY_DAYS))
    b = make_home(tmp_path, PUBLIC, "pub", medium, clock, database_factory("pub"))
    trust_each_other(a, b, clock)
    yield Pair(a, b, open_exchange(a.node, a.identity), open_exchange(b.node, b.identity), clock, medium)
    a.node.close()
    b.node.close()


def test_a_key_expired_50_days_ago_cannot_publish_a_forged_record(pair: Pair) -> None:
    first = pair.send(1)
    assert pair.receive() == [(1, "applied", "")]
    start = int(pair.clock().timestamp())
    pair.clock.advance(days=KEY_DAYS + 50)
    # created inside the key's validity, chained to the real package 1; and a second forged package at
    # seq 9, whose verified header made package 2 look like an old resend filling a gap
    within = start + (KEY_DAYS - 1) * 86400
    pair.forge(2, within, 666, prev=first.digest)
    pair.forge(9, within, 667)
    assert pair.receive() == [(None, "rejected", "expired-signer")] * 2  # (a header that does not verify has no seq)
    assert pair.published() == {1}, "no forged record is published"


def test_a_package_rejected_later_does_not_make_an_expired_one_a_resend(pair: Pair, tmp_path: Path) -> None:
    """Only applied or parked packages count as newer known: the newest real package, expired while the
    medium holder kept it, stays refused beside a newer one that is itself refused (here future-dated)."""
    pair.send(1)
    assert pair.receive() == [(1, "applied", "")]
    second = pair.send(2)
    assert second.medium is not None
    kept = second.medium.rename(tmp_path / second.medium.name)
    pair.clock.advance(days=8)  # package 2 is past its not_after now
    kept.rename(second.medium)
    current = pair.a.identity.current_secret()
    with pair.a.node.sessions() as s:
        peer = trust_store.load_trust_state(s).current_for(pair.b.id)
    forge(
        pair.medium, signer=current, sender=pair.a.id, recipient=pair.b.id, recipient_key=peer, seq=9,
        created=int(pair.clock().timestamp()) + 86400, items=[rec(9)], prev="f" * 64,
    )  # fmt: skip
    # package 2 waits for the rest of the batch, which is refused: then it is the newest known, and expired
    assert pair.receive() == [(9, "rejected", "future-dated"), (2, "rejected", "expired")]
    assert pair.published() == {1}


def test_an_old_package_in_one_batch_with_newer_ones_still_fills_its_gap(pair: Pair, tmp_path: Path) -> None:
    """The newer packages of the batch are parked first, then the old one is a resend filling a gap."""
    pair.send(1)
    assert pair.receive() == [(1, "applied", "")]
    second = pair.send(2)
    assert second.medium is not None
    kept = second.medium.rename(tmp_path / second.medium.name)
    pair.clock.advance(days=8)
    pair.send(3)
    kept.rename(second.medium)
    outcomes = pair.receive()
    assert outcomes[-2:] == [(2, "applied", ""), (3, "applied", "")]
    assert pair.published() == {1, 2, 3}


def test_a_package_resent_after_its_key_expired_fills_the_gap_of_a_rotation(pair: Pair, tmp_path: Path) -> None:
    """Package 2, signed by the old key before a rotation and lost, is resent once that key has expired:
    package 3, parked and signed by the new key, commits to its digest, so it is accepted."""
    from nodekit.identity_ops import next_send_seqs, rotate_identity

    pair.send(1)
    assert pair.receive() == [(1, "applied", "")]
    pair.clock.advance(days=KEY_DAYS - 10)
    with pair.a.node.sessions() as s:
        seqs = next_send_seqs(s, pair.a.identity)
    statement = rotate_identity(pair.a.node, pair.a.identity, now=pair.clock(), last_seq=seqs, profile=None)
    second, _ = pair.send(2), pair.send(3)  # 2: the old key's last, with the statement; 3: the new key
    assert second.medium is not None
    lost = second.medium.rename(tmp_path / second.medium.name)
    with pair.b.node.transaction() as s:  # the operator applies the statement file (keys apply-statement)
        trust_store.apply_statement(s, statement, pair.clock())
    assert pair.receive() == [(3, "pending", "")]
    pair.clock.advance(days=15)  # the old key has expired
    from exchange.inspect import inspect_package

    report = inspect_package(pair.b.node, pair.b.identity, lost)  # security staff see what import will do
    assert report["verified"] is True and report["channel"]["verdict"] == "accept", report
    lost.rename(second.medium)
    assert pair.receive() == [(2, "applied", ""), (3, "applied", "")]
    assert pair.published() == {1, 2, 3}


# -- case 9: a public node publishes exactly one internal node ------------------------------------------


def test_a_second_internal_nodes_full_export_does_not_replace_the_published_state(net: Net) -> None:
    """Two internal nodes on one public node: the second one's --full replaced the whole published
    state. `keys trust` refuses the second card now; here the trust store was edited by hand, and the
    reader still refuses it (defence in depth)."""
    from nodekit.models import TrustedKeyRow

    net.ingest(5)
    net.export()
    assert net.import_() == [(1, "applied", "")]
    before = shown(net)
    bureau = make_home(net.tmp, INTERNAL, "bureau", net.medium, net.iclock)
    card = net.public.identity.card()
    with bureau.node.transaction() as s:
        trust_store.trust_card(s, card, card.key_id, net.iclock(), own_role="internal")
    theirs = bureau.identity.card()
    with net.public.node.transaction() as s:  # what `keys trust` refuses, written into the database
        s.add(
            TrustedKeyRow(
                key_id=theirs.key_id, node_id=theirs.node_id, node_name=theirs.node_name, role="internal",
                sign_public=theirs.public.sign.hex(), enc_public=theirs.public.enc.hex(), status="trusted",
                created=theirs.created, expires=theirs.expires, last_seq=None, replaced_by=None,
                trusted_at=net.pclock(), changed_at=net.pclock(), source=theirs.encode().decode(), change=None,
            )
        )  # fmt: skip
    decided = bureau.node.today() - timedelta(days=3)
    assert ingest_rows(bureau.node, "penalty", [penalty(90, decided)], net.tmp / "bureau-files").accepted
    assert export(bureau.node, bureau.identity, full=True).sent[0].seq == 1
    outcomes = import_packages(net.public.node, net.public.identity)
    assert [(o.seq, o.result, o.reason) for o in outcomes] == [(None, "rejected", "wrong-sender")]
    assert "exactly one internal node" in outcomes[0].message
    assert shown(net) == before, "the published state is the first internal node's, untouched"
    net.ingest(1)
    net.export()
    assert net.import_() == [(2, "applied", "")], "the internal node it publishes goes on"
    bureau.node.close()


# -- case 10: a corrected clock does not jam the channel ------------------------------------------------


def test_a_sender_clock_corrected_backwards_does_not_jam_the_channel(
    net: Net, caplog: pytest.LogCaptureFixture
) -> None:
    """The internal clock ran 5 minutes fast (within the skew), then was corrected: the next package is
    sealed with the previous package's created, not before it (which the reader refuses for good)."""
    from tests.integration.public_support import log_events

    net.iclock.advance(minutes=5)
    net.ingest(1)
    first = net.export()
    assert net.import_() == [(1, "applied", "")]
    net.iclock.advance(minutes=-5)  # NTP puts it right
    net.ingest(1)
    with caplog.at_level("WARNING", logger="credgap.exchange"):
        net.export()
    assert net.import_() == [(2, "applied", "")]
    sealed = log_events(net.internal.node, "package.sealed")
    assert [e["counts"].get("clamped", 0) for e in sealed] == [0, 300]
    assert any("clock" in r.getMessage() and "300" in r.getMessage() for r in caplog.records)
    with net.internal.node.sessions() as s:
        created = s.scalars(select(ChannelPackageRow.created).order_by(ChannelPackageRow.seq)).all()
    assert created == [net.now() + 300] * 2, "sealed at the previous package's time, not before it"
    assert first.seq == 1


# -- case 11: a clock far off is reported by status and raises an alarm, on both sides ------------------


def test_a_clock_far_behind_is_shown_in_status_and_alarmed_on_both_sides(tmp_path: Path, database_factory: Any) -> None:
    """ "Far off" is more than a day behind the newest ``created`` the node has sealed or received. The
    node commands read the real clock, so the packages are made three days ahead of it, as by nodes
    whose clocks were then set back (an RTC reset)."""
    import socket

    from exchange.alarms import check_clock, close_syslog
    from exchange.status import exchange_status
    from nodekit.runtime import Node
    from tests.helpers import run_cli
    from tests.integration.public_support import log_events

    real = datetime.now(UTC).replace(microsecond=0)
    iclock, pclock = Clock(real + timedelta(days=3)), Clock(real + timedelta(days=3))
    medium = tmp_path / "medium"
    medium.mkdir()
    internal = make_home(tmp_path, INTERNAL, "int", medium, iclock, database_factory("int"))
    public = make_home(tmp_path, PUBLIC, "pub", medium, pclock, database_factory("pub"))
    trust_each_other(internal, public, iclock)
    net = Net(tmp_path, medium, internal, public, iclock, pclock)
    net.ingest(1)
    net.export()
    assert net.import_() == [(1, "applied", "")]
    assert exchange_status(public.node)["clock"]["status"] == "ok"

    for home in (internal, public):  # `status` on the real clock: three days behind what each has seen
        program = f"{home.node.config.role}-node"
        r = run_cli(program, "--home", str(home.node.config.home), "status", "--json")
        assert r.code == 0, r.err
        clock = r.json()["exchange"]["clock"]  # type: ignore[index]
        assert clock["status"] == "behind" and clock["behind_seconds"] > 2 * 86400
        human = run_cli(program, "--home", str(home.node.config.home), "status")
        assert "clock      BEHIND" in human.out and "set the clock right" in human.out

    sock_path = tmp_path / "syslog.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(5)
    try:
        cfg = public.node.config.config_path
        cfg.write_text(cfg.read_text(encoding="utf-8") + f'\n[alarms]\nsyslog = "{sock_path}"\n', encoding="utf-8")
        pclock.now = iclock.now = real  # both clocks set back
        node = Node.open(public.node.config.home, PUBLIC, clock=pclock)
        assert import_packages(node, public.identity) == []  # the public side: at every import or watch round
        [alarm] = log_events(node, "alarm.clock")
        assert (alarm["reason"], alarm["result"]) == ("clock-behind", "alarm")
        assert alarm["counts"]["behind_seconds"] == 3 * 86400
        assert b"ALARM clock" in sock.recv(4096)
        assert import_packages(node, public.identity) == []
        assert len(log_events(node, "alarm.clock")) == 1, "once per period"
        node.close()
    finally:
        close_syslog(str(sock_path))
        sock.close()
    net.ingest(1)
    net.export()  # the internal side: at every package it seals
    [alarm] = log_events(internal.node, "alarm.clock")
    assert alarm["reason"] == "clock-behind"
    with internal.node.transaction() as s:
        assert check_clock(s, internal.node) is None, "once per period"
    internal.node.close()
    public.node.close()


def test_an_idle_channel_is_not_a_clock_fault(net: Net) -> None:
    """Nothing arriving for a month is the overdue alarm's business, not the clock's: a clock ahead of
    every package seen is not reported (it cannot be told from a quiet channel)."""
    from exchange.alarms import check_clock
    from exchange.status import exchange_status
    from tests.integration.public_support import log_events

    net.ingest(1)
    net.export()
    assert net.import_() == [(1, "applied", "")]
    net.advance(days=30)
    for home in (net.internal, net.public):
        assert exchange_status(home.node)["clock"] == {
            "status": "ok", "now": net.iclock().isoformat(timespec="seconds"),
            "newest_created": (net.iclock() - timedelta(days=30)).isoformat(timespec="seconds"),
        }  # fmt: skip
        with home.node.transaction() as s:
            assert check_clock(s, home.node) is None
        assert log_events(home.node, "alarm.clock") == []
