"""A public node kept in step with the internal node through a real transfer folder: a series of
exports (sample data, updates, deletions, a policy change, penalties whose publication ends) arrives
in order, out of order, duplicated and tampered with, and after every step the published database
shows exactly what the internal policy allows. Also fail-safe expiry, snapshots and documents."""

from __future__ import annotations

import base64
import os
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exchange.engine import Outcome, SentPackage
from exchange.node import open_exchange
from exchange.status import exchange_status
from internal_node import SPEC as INTERNAL
from internal_node import sample_data
from internal_node.export import export, resend
from nodekit import trust_store
from public_node import SPEC as PUBLIC
from public_node.importer import import_packages
from public_node.queries import find_by_doc_no, get_record, record_counts, subject_page
from public_node.search import search
from public_node.store import documents_of_subject, get_document
from tests.helpers import run_cli
from tests.integration.public_support import (
    COMPANY_USCC,
    Published,
    assert_in_step,
    assert_shows,
    channel_packages,
    gov_credit,
    ingest_rows,
    log_events,
    package_files,
    penalty,
    publication,
    published,
    stored_keys,
)
from tests.nodes import Clock, Home, make_home, trust_each_other
from transfer.items import Item
from transfer.medium import Quarantine

pytestmark = pytest.mark.db


@dataclass
class Net:
    """An internal and a public node, each with its own clock, sharing one transfer folder."""

    tmp: Path
    medium: Path
    internal: Home
    public: Home
    iclock: Clock
    pclock: Clock
    make_db: Any
    homes: list[Home] = field(default_factory=list)
    after: dict[int, Published] = field(default_factory=dict)  # the publication as each package left it

    @property
    def today(self) -> date:
        return self.internal.node.today()

    def advance(self, **kw: float) -> None:
        self.iclock.advance(**kw)
        self.pclock.advance(**kw)

    def ingest(self, kind: str, rows: list[dict[str, Any]]) -> None:
        report = ingest_rows(self.internal.node, kind, rows, self.tmp / "department-files")
        assert report.accepted and report.counts.rejected == 0

    def export(self, *, full: bool = False) -> dict[str, SentPackage]:
        """One export; returns the package sent to each public node, by node id."""
        report = export(self.internal.node, self.internal.identity, full=full)
        sent = {plan.peer.node_id: pkg for plan, pkg in zip(report.plans, report.sent, strict=True)}
        for pkg in sent.values():
            assert pkg.medium is not None and pkg.medium.is_file()
        self.after[max(p.seq for p in sent.values())] = publication(self.internal.node)
        return sent

    def import_(self, home: Home | None = None) -> list[tuple[int | None, str]]:
        home = home or self.public
        return [(o.seq, o.result) for o in self.outcomes(home)]

    def outcomes(self, home: Home) -> list[Outcome]:
        return import_packages(home.node, home.identity)

    def public_quarantine(self, home: Home | None = None) -> list[dict[str, Any]]:
        return Quarantine((home or self.public).node.config.quarantine_dir).entries()

    def add_public(self, name: str) -> Home:
        home = make_home(self.tmp, PUBLIC, name, self.medium, self.pclock, self.make_db(name))
        trust_each_other(self.internal, home, self.iclock)
        self.homes.append(home)
        return home


@pytest.fixture
def net(request: pytest.FixtureRequest, tmp_path: Path, database_factory: Any) -> Iterator[Net]:
    """Fixed clocks, or (``indirect`` parameter ``"wall"``) clocks starting now, for tests that also run a
    node command, which reads the real clock."""
    medium = tmp_path / "medium"
    medium.mkdir()
    start = datetime.now(UTC).replace(microsecond=0) if getattr(request, "param", None) == "wall" else None
    iclock, pclock = (Clock(start), Clock(start)) if start else (Clock(), Clock())
    internal = make_home(tmp_path, INTERNAL, "int", medium, iclock, database_factory("int"))
    public = make_home(tmp_path, PUBLIC, "pub", medium, pclock, database_factory("pub"))
    trust_each_other(internal, public, iclock)
    n = Net(tmp_path, medium, internal, public, iclock, pclock, database_factory, [internal, public])
    sample_data.run(subjects=24, seed=7, out=tmp_path / "sample", as_of=n.today, node=internal.node)
    yield n
    for h in n.homes:
        h.node.close()


def hold(pkg: SentPackage, folder: Path) -> Path:
    """Take a package off the medium (a delayed or lost device); returns where it is kept."""
    assert pkg.medium is not None
    folder.mkdir(exist_ok=True)
    return pkg.medium.rename(folder / pkg.medium.name)


def bring_back(held: Path, pkg: SentPackage) -> None:
    assert pkg.medium is not None
    held.rename(pkg.medium)


def doc_no(n: int) -> str:
    return str(penalty(n, date(2026, 1, 1))["decision_no"])


def penalty_ref(net: Net, n: int) -> tuple[str, str]:
    """The (kind, key) of test penalty ``n`` in the internal publication (found by its document number)."""
    found = [ref for ref, (_, row) in publication(net.internal.node).items() if row.get("doc_no") == doc_no(n)]
    assert len(found) == 1, f"penalty {n} is not published"
    return found[0]


def test_a_series_of_exports_keeps_the_published_database_in_step(net: Net) -> None:
    today = net.today
    decided = today - timedelta(days=30)
    net.ingest("penalty", [penalty(1, decided), penalty(2, decided), penalty(3, decided, uscc=1)])

    # 1. the first export arrives: everything the policy allows, nothing else
    first = net.export()[net.public.id]
    assert net.import_() == [(1, "applied")]
    shown = assert_in_step(net.internal.node, net.public.node)
    assert {kind for kind, _ in shown} >= {"subject", "licence", "penalty", "commitment"}
    p1, p2, p3 = (penalty_ref(net, n) for n in (1, 2, 3))
    assert package_files(net.medium) == [], "an applied package leaves the medium"
    assert first.archive.is_file()

    # 2. an update and a deletion (record_status) -> 3. a policy change -> 4. a penalty ending tomorrow
    net.ingest("penalty", [penalty(1, decided, fine="2.5"), penalty(2, decided, status="deleted")])
    second = net.export()[net.public.id]
    policy_file = net.internal.node.config.policy_file
    policy_file.write_text(
        policy_file.read_text(encoding="utf-8").replace('legal_rep = "publish"', 'legal_rep = "mask:name"'),
        encoding="utf-8",
    )
    third = net.export()[net.public.id]
    net.ingest("penalty", [penalty(4, decided, until=today + timedelta(days=1))])
    fourth = net.export()[net.public.id]
    assert [second.seq, third.seq, fourth.seq] == [2, 3, 4]
    assert second.counts["record"] == 2, "an update and a withdrawal"
    assert third.counts["record"] > 10, "a policy change re-publishes every record it changes"

    # out of order: 4 arrives first (held), then 3 (held), then 2 (all three apply, in order)
    shelf = net.tmp / "shelf"
    held2, held3 = hold(second, shelf), hold(third, shelf)
    assert net.import_() == [(4, "pending")]
    assert_shows(net.public.node, net.after[1])
    [channel] = [c for c in exchange_status(net.public.node)["channels"] if c["direction"] == "in"]
    assert (channel["last_seq"], channel["pending"], channel["missing"]) == (1, [4], [2, 3])
    bring_back(held3, third)
    assert net.import_() == [(3, "pending")]
    assert_shows(net.public.node, net.after[1])
    bring_back(held2, second)
    assert net.import_() == [(2, "applied"), (3, "applied"), (4, "applied")]
    shown = assert_in_step(net.internal.node, net.public.node)
    assert shown == net.after[4]
    assert p2 not in shown, "the deleted penalty is withdrawn"
    assert shown[p1][1]["content"] == "罚款人民币2.5万元" and shown[p1][0] > net.after[1][p1][0]
    assert shown[p3][1]["legal_rep"] == "李**", "the policy change masks legal representatives"
    assert p2 not in stored_keys(net.public.node), "a withdrawal removes the row, not only hides it"
    assert list((net.public.node.config.pending_dir).rglob("*.cgp")) == []

    # duplicates: the operator resends 2..3; the public node reports them and changes nothing
    again = resend(net.internal.node, net.internal.identity, 2, 3)
    assert [p.digest for p in again] == [second.digest, third.digest]
    assert net.import_() == [(2, "duplicate"), (3, "duplicate")]
    assert_in_step(net.internal.node, net.public.node)
    assert package_files(net.medium) == []
    assert len(log_events(net.public.node, "package.duplicate")) == 2

    # a tampered package is quarantined; the next good one waits; the resend of the lost one applies both
    net.ingest("penalty", [penalty(3, decided, fine="9", uscc=1)])
    fifth = net.export()[net.public.id]
    assert fifth.medium is not None
    data = bytearray(fifth.medium.read_bytes())
    data[-40] ^= 0x01
    fifth.medium.write_bytes(bytes(data))
    net.ingest("penalty", [penalty(1, decided, status="deleted")])
    net.export()
    out = net.outcomes(net.public)
    assert [(o.seq, o.result) for o in out] == [(5, "rejected"), (6, "pending")]
    assert out[0].reason == "bad-ciphertext"
    assert_shows(net.public.node, net.after[4])
    [entry] = net.public_quarantine()
    assert entry["reason"] == "bad-ciphertext" and entry["header"]["seq"] == 5
    resend(net.internal.node, net.internal.identity, 5, 5)
    assert net.import_() == [(5, "applied"), (6, "applied")]
    shown = assert_in_step(net.internal.node, net.public.node)
    assert p1 not in shown and shown[p3][1]["content"] == "罚款人民币9万元"

    # the clock moves past penalty 4's end of publication: the public node hides it at once, and the
    # internal node's next export withdraws it for good
    p4 = penalty_ref(net, 4)
    net.advance(days=2)
    assert p4 not in published(net.public.node) and p4 in stored_keys(net.public.node)
    net.export()
    assert net.import_() == [(7, "applied")]
    shown = assert_in_step(net.internal.node, net.public.node)
    assert p4 not in shown and p4 not in stored_keys(net.public.node)
    assert channel_packages(net.public.node, net.internal.id, net.public.id) == [(s, "applied") for s in range(1, 8)]
    applied = [e["seq"] for e in log_events(net.public.node, "package.applied")]
    assert applied == list(range(1, 8)), "every package applied exactly once, in order"
    # the withdrawn records are gone from the read model; their history is the log's counts alone
    withdrawals = {
        e["seq"]: {k: n for k, n in e["counts"].items() if k.startswith(("withdrawn.", "reasons."))}
        for e in log_events(net.public.node, "package.applied")
    }
    assert withdrawals == {
        1: {},
        2: {"withdrawn.penalty": 1, "reasons.deleted": 1},  # penalty 2's record_status "deleted"
        3: {},
        4: {},
        5: {},
        6: {"withdrawn.penalty": 1, "reasons.deleted": 1},  # penalty 1 deleted
        7: {"withdrawn.penalty": 1, "reasons.expired": 1},  # penalty 4 past its publication end
    }


def test_the_public_node_stops_showing_a_record_past_its_end_even_without_the_withdrawal(net: Net) -> None:
    today = net.today
    decided, tomorrow = today - timedelta(days=10), today + timedelta(days=1)
    net.ingest("penalty", [penalty(11, decided, until=tomorrow)])
    net.ingest("gov_credit", [gov_credit(1, decided, until=tomorrow)])
    net.export()
    assert net.import_() == [(1, "applied")]
    assert_in_step(net.internal.node, net.public.node)
    p11 = penalty_ref(net, 11)
    [g1] = [
        ref for ref, (_, row) in net.after[1].items() if ref[0] == "gov_credit" and row["doc_no"] == "ZWCX-测试-000001"
    ]
    company = net.after[1][p11][1]["subject_key"]
    # a second penalty is exported too, but the device carrying it is late
    net.ingest("penalty", [penalty(12, decided, until=tomorrow)])
    second = net.export()[net.public.id]
    late = hold(second, net.tmp / "shelf")

    def view(on: date) -> dict[str, Any]:
        with net.public.node.sessions() as s:
            page = subject_page(s, company, today=on)
            [department] = search(s, "示例管理", today=on).items  # a subject row of its own: always found
            dept_page = subject_page(s, department.subject_key, today=on)
            assert dept_page is not None
            return {
                "record": get_record(s, *p11, today=on) is not None,
                "by_doc_no": [v.key for v in find_by_doc_no(s, doc_no(11), today=on)],
                "subject_penalties": [] if page is None else [v.key for v in page.records.get("penalty", [])],
                "department_records": [v.key for v in dept_page.records.get("gov_credit", [])],
                "counts": record_counts(s, today=on),
            }

    before = view(net.public.node.today())
    assert before["record"] and before["by_doc_no"] == [p11[1]] and p11[1] in before["subject_penalties"]
    assert before["department_records"] == [g1[1]]

    # only the public node's clock moves: no export, no withdrawal
    net.pclock.advance(days=2)
    after = view(net.public.node.today())
    assert not after["record"] and after["by_doc_no"] == [] and p11[1] not in after["subject_penalties"]
    assert after["department_records"] == []
    assert after["counts"]["penalty"] == before["counts"]["penalty"] - 1
    assert after["counts"]["gov_credit"] == before["counts"]["gov_credit"] - 1
    assert {p11, g1} <= stored_keys(net.public.node), "hidden by the queries, not yet withdrawn"

    # the late package arrives after the end of its record's publication: the record is never stored
    bring_back(late, second)
    [outcome] = net.outcomes(net.public)
    assert (outcome.seq, outcome.result) == (2, "applied") and outcome.counts.get("expired.penalty") == 1
    p12 = penalty_ref(net, 12)
    assert p12 not in stored_keys(net.public.node)
    public_today = net.public.node.today()
    allowed = {
        ref: v
        for ref, v in publication(net.internal.node).items()
        if not _ended(v[1].get("publish_until"), public_today)
    }
    assert_shows(net.public.node, allowed)
    assert p11 not in allowed and g1 not in allowed


def _ended(until: Any, today: date) -> bool:
    return until is not None and date.fromisoformat(until) < today


@pytest.mark.parametrize("net", ["wall"], indirect=True)
def test_a_snapshot_rebases_a_far_behind_and_a_new_public_node(net: Net) -> None:
    today = net.today
    decided = today - timedelta(days=30)
    net.ingest("penalty", [penalty(1, decided), penalty(2, decided)])
    net.export()
    assert net.import_() == [(1, "applied")]
    p1 = penalty_ref(net, 1)
    # two packages are lost on the way, the third waits for them: the public node is stuck behind
    net.ingest("penalty", [penalty(1, decided, status="deleted")])
    for sent in (net.export(), net.export()):
        lost = sent[net.public.id].medium
        assert lost is not None
        lost.unlink()
    net.ingest("penalty", [penalty(2, decided, fine="7")])
    net.export()
    assert net.import_() == [(4, "pending")]
    # a new public node joins
    newcomer = net.add_public("pub2")

    result = run_cli("internal-node", "--home", str(net.internal.node.config.home), "export", "--full", "--json")
    assert result.code == 0, result.err
    snapshots = {p["channel"].split("_to_")[1]: p for p in result.json()["sent"]}  # type: ignore[index]
    assert {k: (v["seq"], v["counts"]["snapshot"]) for k, v in snapshots.items()} == {
        net.public.id: (5, 1),
        newcomer.id: (1, 1),
    }

    assert net.import_() == [(5, "rebased")]
    assert_in_step(net.internal.node, net.public.node)
    assert p1 not in stored_keys(net.public.node), "the snapshot removed what the lost package withdrew"
    assert channel_packages(net.public.node, net.internal.id, net.public.id) == [(1, "applied"), (5, "applied")]
    assert package_files(net.public.node.config.pending_dir) == [], "the parked package 4 is superseded"
    assert net.import_(newcomer) == [(1, "applied")]
    assert_in_step(net.internal.node, newcomer.node)

    # both carry on with ordinary deltas (the fixture's clocks catch up with the command's real one)
    net.iclock.now = net.pclock.now = datetime.now(UTC) + timedelta(seconds=1)
    net.ingest("penalty", [penalty(2, decided, status="deleted")])
    net.export()
    assert net.import_() == [(6, "applied")]
    assert net.import_(newcomer) == [(2, "applied")]
    shown = assert_in_step(net.internal.node, net.public.node)
    assert shown == assert_in_step(net.internal.node, newcomer.node)
    assert not any(row.get("doc_no") in (doc_no(1), doc_no(2)) for _, row in shown.values())


PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def _png(width: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + (1).to_bytes(4, "big") + bytes([8, 6, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def publish(net: Net, *args: str) -> dict[str, Any]:
    """``internal-node publish`` as the operator runs it (it seals nothing, so the real clock does not matter)."""
    home = str(net.internal.node.config.home)
    result = run_cli("internal-node", "--home", home, "publish", *args, "--approved-by", "张明", "--yes", "--json")
    assert result.code == 0, result.err
    out = result.json()
    assert isinstance(out, dict)
    return out


def served(net: Net, key: str) -> tuple[int, str, bytes] | None:
    with net.public.node.sessions() as s:
        found = get_document(s, key, today=net.public.node.today())
    return None if found is None else (found[0].version, found[0].media_type, found[1])


def test_documents_published_through_the_internal_node_reach_the_public_node(net: Net) -> None:
    net.ingest("penalty", [penalty(1, net.today - timedelta(days=30))])
    net.export()
    assert net.import_() == [(1, "applied")]
    company = net.after[1][penalty_ref(net, 1)][1]["subject_key"]
    files = net.tmp / "docs"
    files.mkdir()
    (files / "处罚决定书.pdf").write_bytes(PDF)
    (files / "公告.png").write_bytes(_png(1))
    until = (net.today + timedelta(days=1)).isoformat()
    decision = publish(
        net, str(files / "处罚决定书.pdf"), "--title", "行政处罚决定书", "--subject-uscc", COMPANY_USCC[0]
    )
    notice = publish(net, str(files / "公告.png"), "--title", "公告", "--publish-until", until)
    assert (decision["media_type"], notice["media_type"]) == ("application/pdf", "image/png")
    net.export()
    assert net.import_() == [(2, "applied")]
    assert_in_step(net.internal.node, net.public.node)
    assert served(net, decision["key"])[1:] == ("application/pdf", PDF)  # type: ignore[index]
    assert served(net, notice["key"])[1:] == ("image/png", _png(1))  # type: ignore[index]
    with net.public.node.sessions() as s:
        on_page = documents_of_subject(s, company, today=net.public.node.today())
    assert [d.key for d in on_page] == [decision["key"]]

    # a withdrawal and a new version of the notice (same name and title: same document)
    publish(net, "--withdraw", decision["key"], "--reason", "revoked")
    (files / "公告.png").write_bytes(_png(2))
    again = publish(net, str(files / "公告.png"), "--title", "公告", "--publish-until", until)
    assert again["key"] == notice["key"]
    net.export()
    assert net.import_() == [(3, "applied")]
    assert_in_step(net.internal.node, net.public.node)
    assert served(net, decision["key"]) is None
    version, _, data = served(net, notice["key"])  # type: ignore[misc]
    assert data == _png(2) and version > 2

    # a snapshot carries the documents too (next in sequence: applied like a delta)
    net.export(full=True)
    assert net.import_() == [(4, "applied")]
    assert_in_step(net.internal.node, net.public.node)
    assert served(net, notice["key"]) is not None

    # fail-safe expiry applies to documents: the public clock passes the notice's last day
    net.pclock.advance(days=2)
    assert served(net, notice["key"]) is None


def document_item(key: str, version: int, name: str, media_type: str, data: bytes) -> Item:
    return {
        "kind": "document", "op": "upsert", "key": key, "version": version, "name": name, "media_type": media_type,
        "title": name, "subject_key": None, "publish_until": None, "data": base64.b64encode(data).decode(),
    }  # fmt: skip


def test_a_document_whose_bytes_are_not_its_media_type_is_refused_with_its_package(net: Net) -> None:
    net.export()
    assert net.import_() == [(1, "applied")]
    shown = assert_in_step(net.internal.node, net.public.node)
    # the internal node sniffs what it publishes, so a mislabelled document is sealed by hand here (as a
    # compromised or buggy sender would); a good JPEG in the same package must not be kept either
    exchange = open_exchange(net.internal.node, net.internal.identity)
    with net.internal.node.sessions() as s:
        peer = trust_store.load_trust_state(s).current_for(net.public.id)
    good = document_item("c3" * 16, 10**9, "现场.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 32)
    bad = document_item("d4" * 16, 10**9, "公告.png", "image/png", PDF)
    exchange.send(peer, lambda s, seq: [good, bad])
    out = net.outcomes(net.public)
    assert [(o.seq, o.result, o.reason) for o in out] == [(2, "rejected", "bad-document")]
    assert served(net, good["key"]) is None and served(net, bad["key"]) is None
    assert_shows(net.public.node, shown)
    [entry] = net.public_quarantine()
    assert entry["reason"] == "bad-document" and entry["bytes_kept"] is True and entry["header"]["seq"] == 2

    # its archived bytes are the same, so a resend cannot cure it: the channel waits for seq 2 until a
    # snapshot rebases it
    net.ingest("penalty", [penalty(1, net.today - timedelta(days=30))])
    net.export()
    assert net.import_() == [(3, "pending")]
    net.export(full=True)
    assert net.import_() == [(4, "rebased")]
    assert_in_step(net.internal.node, net.public.node)
    assert package_files(net.public.node.config.pending_dir) == []


def test_an_incomplete_file_is_left_on_the_medium_until_it_is_too_old_to_be_still_written(net: Net) -> None:
    pkg = net.export()[net.public.id]
    assert pkg.medium is not None
    whole = pkg.medium.read_bytes()
    pkg.medium.write_bytes(whole[: len(whole) // 2])  # a device writing under the final name, half done
    out = net.outcomes(net.public)
    assert [(o.file, o.result, o.reason) for o in out] == [(pkg.medium.name, "skipped", "incomplete")]
    assert pkg.medium.is_file() and net.public_quarantine() == [] and published(net.public.node) == {}
    # nothing more was ever written: once the file is old, it is what it is
    old = time.time() - 3600
    os.utime(pkg.medium, (old, old))
    out = net.outcomes(net.public)
    assert [(o.seq, o.result, o.reason) for o in out] == [
        (1, "rejected", "truncated")
    ]  # verified header: its seq (issue 13 case 8)
    assert not pkg.medium.exists() and [e["reason"] for e in net.public_quarantine()] == ["truncated"]
    resend(net.internal.node, net.internal.identity, 1, 1)
    assert net.import_() == [(1, "applied")]
    assert_in_step(net.internal.node, net.public.node)
