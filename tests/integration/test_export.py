"""Export from a real internal node to a real public node: incremental changes, heartbeats, snapshots,
resends, reviewed exports, publication-period withdrawals, the leak guard on every path, documents."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from internal_node.cli_exchange import _human, _report_dict
from internal_node.documents import queue_document
from internal_node.errors import ContentChanged, DocumentError, ExportError
from internal_node.export import export
from internal_node.ingest import ingest_file
from internal_node.pubmodels import Publication
from keys import canonical
from nodekit.models import ChannelRow, TransferLogRow
from public_node.importer import import_packages
from public_node.queries import find_by_doc_no, record_counts
from tests.helpers import run_cli
from tests.nodes import Clock, Home, trusted_pair
from transfer.files import read_chunks
from transfer.header import parse_prefix

pytestmark = pytest.mark.db

USCC = ["91350100M000100Y43", "91350200776049653A"]
AUTHORITY_USCC = "91350200776049653A"


def penalty(n: int, **over: Any) -> dict[str, Any]:
    row = {
        "party_name": f"昆明测试{n}科技有限公司", "party_category": "legal_person", "party_uscc": USCC[n % 2],
        "legal_rep": "张三", "decision_no": f"昆市监罚〔2026〕{n}号", "violation_type": "虚假宣传",
        "violation_facts": "在其网站发布虚假广告", "legal_basis": "《中华人民共和国广告法》第五十五条",
        "penalty_types": "fine", "content": "罚款人民币五万元", "fine_amount": "5", "decision_date": "2026-10-01",
        "severity": "general", "authority": "昆明市市场监督管理局", "authority_uscc": AUTHORITY_USCC,
    }  # fmt: skip
    row.update(over)
    return row


@pytest.fixture
def homes(tmp_path: Path, database_factory: Any) -> Iterator[tuple[Home, Home, Clock, Path]]:
    a, b, _, clock = trusted_pair(tmp_path, database_factory)
    yield a, b, clock, tmp_path
    a.node.close()
    b.node.close()


def ingest(home: Home, tmp: Path, rows: list[dict[str, Any]], name: str = "p.jsonl") -> None:
    f = tmp / name
    f.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    ingest_file(home.node, f, kind="penalty", source="昆明市市场监督管理局", source_uscc=AUTHORITY_USCC)


def items_of(path: Path, home: Home) -> list[dict[str, Any]]:
    """Open a sealed package as its recipient would (without applying it)."""
    from nodekit import trust_store
    from transfer.opener import OpenContext, PackageOpener

    with home.node.sessions() as s:
        ctx = OpenContext(own_node=home.id, own_role="public", trust=trust_store.load_trust_state(s),
                          own_keys=home.identity.secret_for, now=int(home.node.clock().timestamp()))  # fmt: skip
    opener = PackageOpener(read_chunks(path), ctx, file_size=path.stat().st_size)
    return list(opener.items())


def kinds(items: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items:
        if it["kind"] in ("checkpoint", "receipt"):  # the transfer log's items, tested in test_audit.py
            continue
        k = it["kind"] if it["kind"] != "record" else f"{it['op']}.{it['table']}"
        out[k] = out.get(k, 0) + 1
    return out


def test_incremental_heartbeat_snapshot_and_resend(homes: Any) -> None:
    a, b, clock, tmp = homes
    ingest(a, tmp, [penalty(1), penalty(2)])
    r1 = export(a.node, a.identity)
    [p1] = r1.sent
    assert kinds(items_of(p1.archive, b)) == {"manifest": 1, "upsert.penalty": 2, "upsert.subject": 2}
    assert [o.result for o in import_packages(b.node, b.identity)] == ["applied"]
    with b.node.sessions() as s:
        assert record_counts(s, today=b.node.today())["penalty"] == 2

    # nothing changed: a heartbeat, so "nothing happened" differs from "nothing arrived"
    [p2] = export(a.node, a.identity).sent
    assert kinds(items_of(p2.archive, b)) == {"manifest": 1, "heartbeat": 1}
    assert export(a.node, a.identity, heartbeat=False).skipped == [b.id]

    # one record changes: only it travels
    clock.advance(minutes=5)
    ingest(a, tmp, [penalty(1, violation_facts="在其网站及微信公众号发布虚假广告")], "p2.jsonl")
    [p3] = export(a.node, a.identity).sent
    got = items_of(p3.archive, b)
    assert kinds(got) == {"manifest": 1, "upsert.penalty": 1}
    [changed] = [i for i in got if i["kind"] == "record"]
    assert changed["row"]["violation_facts"].startswith("在其网站及微信")
    assert got[0]["policy"] == r1.policy_digest, "every package carries the digest of the policy that produced it"

    # a snapshot of everything, then a resend of an already-sealed package with its original bytes
    [p4] = export(a.node, a.identity, full=True).sent
    snap = items_of(p4.archive, b)
    assert kinds(snap) == {"manifest": 1, "upsert.penalty": 2, "upsert.subject": 2, "snapshot": 1}
    assert parse_prefix(p4.archive.read_bytes()[:70000]).document["type"] == "snapshot"
    out = import_packages(b.node, b.identity)
    assert [o.result for o in out] == ["applied", "applied", "applied"]
    original = p2.archive.read_bytes()
    run = run_cli("internal-node", "--home", str(a.node.config.home), "export", "--resend", "2", "--json")
    assert run.code == 0, run.err
    [again] = run.json()["sent"]  # type: ignore[index]
    assert Path(again["medium"]).read_bytes() == original
    assert [o.result for o in import_packages(b.node, b.identity)] == ["duplicate"]


def test_publication_period_ends_with_a_withdrawal(homes: Any) -> None:
    a, b, clock, tmp = homes
    # 轻微 (minor): published for three months from the decision date by the default policy
    ingest(a, tmp, [penalty(1, severity="minor", decision_date="2026-09-01")])
    export(a.node, a.identity)
    import_packages(b.node, b.identity)
    with b.node.sessions() as s:
        assert len(find_by_doc_no(s, "昆市监罚〔2026〕1号", today=b.node.today())) == 1
    clock.advance(days=10)  # 2026-12-06: the period ended on 2026-12-01
    r = export(a.node, a.identity)
    assert r.refresh.expired == 1
    got = items_of(r.sent[0].archive, b)
    assert [(i["op"], i["reason"]) for i in got if i["kind"] == "record"] == [("withdraw", "expired")]
    import_packages(b.node, b.identity)
    with b.node.sessions() as s:
        assert find_by_doc_no(s, "昆市监罚〔2026〕1号", today=b.node.today()) == []


def test_reviewed_export_is_refused_after_the_content_changed(homes: Any) -> None:
    a, b, clock, tmp = homes
    ingest(a, tmp, [penalty(1)])
    dry = run_cli("internal-node", "--home", str(a.node.config.home), "export", "--dry-run", "--json")
    assert dry.code == 0, dry.err
    [peer] = dry.json()["peers"]  # type: ignore[index]
    reviewed = peer["digest"]
    assert peer["count"] == 2 and peer["items"][0]["row"]["subject_name"]
    assert a.node.config.medium.is_dir() and not list(a.node.config.medium.rglob("*.cgp")), "a dry run seals nothing"
    ingest(a, tmp, [penalty(2)], "more.jsonl")
    with pytest.raises(ContentChanged):
        export(a.node, a.identity, expect=reviewed)
    with a.node.sessions() as s:
        assert s.scalars(select(ChannelRow)).first() is None, "nothing was sealed"
    assert not list(a.node.config.medium.rglob("*.cgp"))
    dry2 = run_cli("internal-node", "--home", str(a.node.config.home), "export", "--dry-run", "--json")
    digest = dry2.json()["peers"][0]["digest"]  # type: ignore[index]
    r = run_cli("internal-node", "--home", str(a.node.config.home), "export", "--expect", digest)
    assert r.code == 0, r.err
    [p] = list(a.node.config.medium.rglob("*.cgp"))
    sealed = items_of(p, b)
    assert sealed[0]["content"] == digest
    # the digest is the documented one over exactly the data items the package carries
    data = [canonical.encode(i) for i in sealed if i["kind"] in ("record", "document")]
    assert len(data) == 4
    stated = hashlib.sha256(b"credgap-content/1\n" + b"".join(len(d).to_bytes(4, "big") + d for d in data))
    assert stated.hexdigest() == digest
    assert [canonical.encode(i) for i in dry2.json()["peers"][0]["items"]] == data  # type: ignore[index]


ID_IN_TEXT = "当事人身份证号11010519491231002X在现场"


def test_leak_guard_runs_on_every_path(homes: Any) -> None:
    a, b, clock, tmp = homes
    ingest(a, tmp, [penalty(1), penalty(2, violation_facts=ID_IN_TEXT)])
    from internal_node.review import list_held

    with a.node.sessions() as s:
        [held] = list_held(s)  # the ingest's refresh held the version for review
    assert held.findings[0]["field"] == "violation_facts"
    assert "11010519491231002X" not in held.findings[0]["description"], "the description masks what it found"
    r = export(a.node, a.identity)
    sent = items_of(r.sent[0].archive, b)
    assert {i["row"]["doc_no"] for i in sent if i.get("table") == "penalty"} == {"昆市监罚〔2026〕1号"}
    full = items_of(export(a.node, a.identity, full=True).sent[0].archive, b)
    assert not any(ID_IN_TEXT in orjson.dumps(i).decode() for i in full), "--full runs the same guard"
    # the prepared publication is edited behind the projection's back: the export-time guard refuses it
    with a.node.transaction() as s:
        pub = s.scalars(
            select(Publication).where(Publication.table_name == "penalty", Publication.state == "publish")
        ).first()
        assert pub is not None and pub.item is not None
        doc = orjson.loads(pub.item)
        doc["row"]["content"] = ID_IN_TEXT
        # a new pub_seq, so the delta path (above the public node's position) carries it too
        s.execute(
            update(Publication).where(Publication.id == pub.id).values(item=orjson.dumps(doc).decode(), pub_seq=1000)
        )
    for kwargs in ({"full": True}, {}):
        with pytest.raises(ExportError) as err:
            export(a.node, a.identity, **kwargs)  # type: ignore[arg-type]
        assert err.value.reason == "leak-guard"


def test_a_document_needs_an_approval_and_reaches_the_public_node(homes: Any) -> None:
    a, b, clock, tmp = homes
    pdf = tmp / "decision.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    r = run_cli(
        "internal-node", "--home", str(a.node.config.home), "publish", str(pdf), "--title", "行政处罚决定书", "--yes"
    )
    assert r.code == 2 and "--approved-by" in r.err
    fake = tmp / "fake.pdf"
    fake.write_bytes(b"MZ\x90\x00 not a pdf")
    with a.node.transaction() as s, pytest.raises(Exception, match="magic bytes"):
        queue_document(s, fake, title="x", approved_by="李四", at=clock())
    r = run_cli("internal-node", "--home", str(a.node.config.home), "publish", str(pdf), "--title", "行政处罚决定书",
                "--approved-by", "李四", "--yes", "--json")  # fmt: skip
    assert r.code == 0, r.err
    key = r.json()["key"]  # type: ignore[index]
    [p] = export(a.node, a.identity).sent
    [doc] = [i for i in items_of(p.archive, b) if i["kind"] == "document"]
    assert doc["media_type"] == "application/pdf" and doc["key"] == key
    assert [o.result for o in import_packages(b.node, b.identity)] == ["applied"]
    from public_node.documents import get_document

    with b.node.sessions() as s:
        got = get_document(s, key, today=b.node.today())
    assert got is not None and got[1] == pdf.read_bytes()
    with a.node.sessions() as s:
        from nodekit.models import TransferLogRow

        approvals = [r for r in s.scalars(select(TransferLogRow)) if r.event == "document.approved"]
    assert len(approvals) == 1 and approvals[0].actor == "operator:李四"
    _ = timedelta


@pytest.mark.parametrize(
    ("name", "title", "field"),
    [
        ("decision.pdf", "关于张三（身份证号11010519491231002X）的处罚决定", "title"),
        ("decision.pdf", "机密★一年 检查通报", "title"),
        ("11010519491231002X.pdf", "行政处罚决定书", "name"),
        ("【内部】通报.pdf", "行政处罚决定书", "name"),
    ],
)
def test_a_document_title_or_name_the_leak_guard_finds_is_refused(
    homes: Any, name: str, title: str, field: str
) -> None:
    a, _, clock, tmp = homes
    pdf = tmp / name
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    with a.node.transaction() as s, pytest.raises(DocumentError) as err:
        queue_document(s, pdf, title=title, approved_by="李四", at=clock())
    message = str(err.value)
    assert "\n" not in message and f"field {field}: " in message and "leak guard" in message
    assert "11010519491231002X" not in message  # reported masked, the path included
    r = run_cli("internal-node", "--home", str(a.node.config.home), "publish", str(pdf), "--title", title,
                "--approved-by", "李四", "--yes")  # fmt: skip
    assert r.code != 0 and f"field {field}: " in r.err
    with a.node.sessions() as s:
        assert s.scalars(select(Publication)).all() == []


def test_the_dry_run_shows_every_value_in_full(homes: Any) -> None:
    a, _, clock, tmp = homes
    long_facts = "当事人在其网站及微信公众号发布的广告中使用“国家级”“最佳”等用语，" * 4  # well over 60 characters
    ingest(a, tmp, [penalty(1, violation_facts=long_facts, confiscation_amount=None)])
    pdf = tmp / "decision.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    with a.node.transaction() as s:
        queue_document(s, pdf, title="行政处罚决定书", approved_by="李四", at=clock())
    home = str(a.node.config.home)
    human = run_cli("internal-node", "--home", home, "export", "--dry-run")
    exact = run_cli("internal-node", "--home", home, "export", "--dry-run", "--json")
    assert human.code == 0 and exact.code == 0, human.err + exact.err
    lines = human.out.splitlines()

    def shown(v: object) -> str:
        return "null" if v is None else f'"{v}"' if isinstance(v, str) else str(v)

    [peer] = exact.json()["peers"]  # type: ignore[index]
    nulls = 0
    for it in peer["items"]:
        assert f"  {it['op']} {it.get('table', it['kind'])} {it['key']} v{it['version']}" in lines
        for name, value in it.items():
            if name == "row":
                for field, v in value.items():
                    assert f"    row.{field}: {shown(v)}" in lines, (field, v)
                    nulls += v is None
            elif name == "data":
                assert f"    data: {pdf.stat().st_size} bytes, SHA-256 " in human.out
            elif name not in ("kind", "op", "table", "key", "version"):
                assert f"    {name}: {shown(value)}" in lines, (name, value)
    assert nulls > 0, "nulls are shown, not left out"
    assert f'    row.violation_facts: "{long_facts}"' in lines
    assert f"content digest {peer['digest']}" in human.out


def test_a_quiet_export_without_heartbeats_still_raises_the_receipts_alarm(
    homes: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, clock, tmp = homes
    ingest(a, tmp, [penalty(1)])
    [sent] = export(a.node, a.identity).sent  # the public node never acknowledges it
    assert export(a.node, a.identity, heartbeat=False).alarms == [], "not overdue yet"
    clock.advance(seconds=a.node.config.exchange_period + 60)
    quiet = export(a.node, a.identity, heartbeat=False)
    assert quiet.sent == [] and quiet.skipped == [b.id]
    [alarm] = quiet.alarms
    assert (alarm.kind, alarm.peer, alarm.count) == ("no-receipt", b.id, 1)
    _human(quiet, False)  # what `export --no-heartbeat` prints (the CLI runs on the wall clock)
    out = capsys.readouterr()
    assert "nothing to send to pub (--no-heartbeat)" in out.out, "named by its node name, not its id"
    [line] = [x for x in out.err.splitlines() if x.startswith("ALARM")]
    assert f"ALARM overdue: 1 package without a receipt from pub ({b.id})" in line
    assert _report_dict(quiet, False)["alarms"] == [line]
    with a.node.sessions() as s:
        raised = s.scalars(select(TransferLogRow.reason).where(TransferLogRow.event == "alarm.overdue")).all()
    assert raised == ["no-receipt"]
    again = export(a.node, a.identity, heartbeat=False)
    assert again.skipped == [b.id] and again.alarms == [], "once per period"
    assert [p.seq for p in again.sent] == [] and sent.seq == 1


def test_a_renamed_subject_sends_its_records_again_with_the_new_name(homes: Any) -> None:
    """A record carries its subject's name and code: when only the subject changes, the next delta
    re-sends the subject and every record that names it (and nothing else)."""
    a, b, clock, tmp = homes
    ingest(a, tmp, [penalty(1), penalty(2)])
    export(a.node, a.identity)
    clock.advance(minutes=5)
    f = tmp / "s.jsonl"
    renamed = {"name": "昆明改名后科技有限公司", "category": "legal_person", "uscc": USCC[1], "legal_rep": "张三"}
    f.write_bytes(orjson.dumps(renamed) + b"\n")
    ingest_file(a.node, f, kind="subject", source="昆明市市场监督管理局", source_uscc=AUTHORITY_USCC)
    [pkg] = export(a.node, a.identity).sent
    got = items_of(pkg.archive, b)
    assert kinds(got) == {"manifest": 1, "upsert.subject": 1, "upsert.penalty": 1}
    [again] = [i for i in got if i["kind"] == "record" and i["table"] == "penalty"]
    assert "改名后" in again["row"]["subject_name"]
