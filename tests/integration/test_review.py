"""Issue 14 end to end on a real node pair: a doubtful version waits for a person while the version
published before stays published (deltas and snapshots), a person's decisions are applied and
logged, a dry run writes nothing, a withdrawal is reversed only deliberately, the field-aware ID
guard, and ``status`` shows the held count."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import create_engine, select, text

from internal_node.export import export
from internal_node.guarded import protect_fields
from internal_node.ingest import IngestRejected, ingest_file
from internal_node.models import Penalty
from nodekit.models import TransferLogRow
from public_node.importer import import_packages
from tests.helpers import run_cli
from tests.integration.test_export import AUTHORITY_USCC, items_of, penalty
from tests.nodes import Clock, Home, trusted_pair
from tests.unit.internal_node.disclosure_samples import resident_id

pytestmark = pytest.mark.db

SECRET = "经查，该案材料属机密级，详见内部通报"


@pytest.fixture
def homes(tmp_path: Path, database_factory: Any) -> Iterator[tuple[Home, Home, Clock, Path]]:
    a, b, _, clock = trusted_pair(tmp_path, database_factory)
    yield a, b, clock, tmp_path
    a.node.close()
    b.node.close()


def ingest(home: Home, tmp: Path, rows: list[dict[str, Any]], name: str, kind: str = "penalty", **kw: Any) -> Any:
    f = tmp / name
    f.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return ingest_file(home.node, f, kind=kind, source="昆明市市场监督管理局", source_uscc=AUTHORITY_USCC, **kw)


def cli(home: Home, *args: str) -> Any:
    r = run_cli("internal-node", "--home", str(home.node.config.home), *args)
    assert r.code == 0, r.err
    return r


def rows_of(items: list[dict[str, Any]], table: str = "penalty") -> list[dict[str, Any]]:
    return [i["row"] for i in items if i.get("kind") == "record" and i.get("table") == table and i["op"] == "upsert"]


def test_a_held_update_leaves_the_published_version_until_a_person_decides(homes: Any) -> None:
    a, b, clock, tmp = homes
    ingest(a, tmp, [penalty(1), penalty(2)], "v1.jsonl")
    export(a.node, a.identity)
    import_packages(b.node, b.identity)

    # the department corrects both records; one correction states a classification in its text
    clock.advance(minutes=5)
    report = ingest(a, tmp, [penalty(1, violation_facts=SECRET), penalty(2, content="罚款人民币六万元")], "v2.jsonl")
    assert report.review_held == 1, "the ingest's refresh holds the version at once"
    status = run_cli("internal-node", "--home", str(a.node.config.home), "status", "--json").json()
    assert status["review"] == {"held": 1}  # type: ignore[index]
    [held] = cli(a, "review", "list", "--json").json()["held"]
    assert held["rules"] == ["classification-text"] and held["version"] == 2
    assert held["findings"][0]["match"] == "机密级" and "该案材料" in held["findings"][0]["context"]

    delta = items_of(export(a.node, a.identity).sent[0].archive, b)
    assert [r["content"] for r in rows_of(delta)] == ["罚款人民币六万元"], "the held version never enters a package"
    snapshot = items_of(export(a.node, a.identity, full=True).sent[0].archive, b)
    facts = sorted(r["violation_facts"] for r in rows_of(snapshot))
    assert facts == ["在其网站发布虚假广告", "在其网站发布虚假广告"], "the version published before stays, in full too"
    assert SECRET not in orjson.dumps(snapshot).decode()

    # keep: the old version stays and the held one is dropped for good
    cli(a, "review", "keep", str(held["id"]), "--operator", "李审核", "--reason", "内部通报不得公开")
    assert rows_of(items_of(export(a.node, a.identity).sent[0].archive, b)) == []
    with a.node.sessions() as s:
        [entry] = [r for r in s.scalars(select(TransferLogRow)) if r.event == "review.decided"]
    assert entry.actor == "operator:李审核" and entry.result == "keep"
    subject = orjson.loads(entry.subject)
    assert subject["version"] == 2 and subject["rules"] == "classification-text" and subject["kind"] == "penalty"
    assert SECRET not in entry.subject, "the log never carries the record's content"

    # a later version is checked afresh; publish overrides a finding for that exact version only
    clock.advance(minutes=5)
    ingest(a, tmp, [penalty(1, violation_facts="当事人王建国在其网站发布虚假广告")], "v3.jsonl")
    [again] = cli(a, "review", "list", "--json").json()["held"]
    assert again["version"] == 3 and again["rules"] == ["person-name"]
    cli(a, "review", "publish", str(again["id"]), "--operator", "李审核", "--reason", "王建国是当事人的字号")
    assert [r["violation_facts"] for r in rows_of(items_of(export(a.node, a.identity).sent[0].archive, b))] == [
        "当事人王建国在其网站发布虚假广告"
    ]
    # withdraw: the record leaves the public side
    clock.advance(minutes=5)
    ingest(a, tmp, [penalty(2, content="罚款六万元，联系电话13812345678")], "v4.jsonl")
    [third] = cli(a, "review", "list", "--json").json()["held"]
    r = run_cli("internal-node", "--home", str(a.node.config.home), "review", "withdraw", str(third["id"]))
    assert r.code == 2 and "--reason" in r.err
    cli(a, "review", "withdraw", str(third["id"]), "--reason", "含个人手机号，待部门更正")
    got = items_of(export(a.node, a.identity).sent[0].archive, b)
    assert [(i["op"], i["reason"]) for i in got if i.get("kind") == "record"] == [("withdraw", "not-public")]
    r = run_cli(
        "internal-node", "--home", str(a.node.config.home), "review", "publish", str(third["id"]), "--reason", "x"
    )
    assert r.code == 2 and "withdrawn, not held" in r.err, "a decision is taken once per version"


def dump(home: Home) -> str:
    """Every table, row and sequence of the node's database, as text."""
    url = home.node.config.database_url
    if url.startswith("sqlite"):
        engine = create_engine(url)
        with engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            out = "\n".join(raw.iterdump())  # type: ignore[union-attr]
        engine.dispose()
        return out
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    out = subprocess.run(["pg_dump", "--no-owner", plain], capture_output=True, text=True, check=True).stdout
    # pg_dump's \restrict line carries a random token of its own each run; everything else is data
    return "\n".join(line for line in out.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


def test_a_dry_run_writes_nothing(homes: Any) -> None:
    a, b, clock, tmp = homes
    ingest(a, tmp, [penalty(1, severity="minor", decision_date="2026-09-01"), penalty(2)], "v1.jsonl")
    export(a.node, a.identity)
    clock.advance(days=10)  # penalty 1's period ended: the next refresh withdraws it
    ingest(a, tmp, [penalty(3, violation_facts=SECRET)], "v2.jsonl", refresh_publication=False)
    (a.node.config.home / "policy.toml").write_text(
        (a.node.config.home / "policy.toml").read_text().replace('severity = "publish"', 'severity = "drop"')
    )  # a policy change: everything is projected again, and policy.changed would be logged
    before = dump(a)
    dry = cli(a, "export", "--dry-run", "--json").json()
    assert dump(a) == before, "the dry run left the database exactly as it was (rows, counters, sequences)"
    [peer] = dry["peers"]
    assert peer["summary"]["penalty"] == {"new": 0, "changed": 1, "withdrawn": 1, "held": 1, "reversed": 0}
    human = cli(a, "export", "--dry-run").out
    assert human.index("withdrawn") < human.index("upsert penalty"), "the summary comes before the detail"
    assert dump(a) == before
    # what was previewed is exactly what is sealed
    sealed = cli(a, "export", "--expect", peer["digest"])
    assert "sealed" in sealed.out or sealed.code == 0


def test_a_withdrawn_record_comes_back_only_deliberately(homes: Any) -> None:
    a, b, clock, tmp = homes
    ingest(a, tmp, [penalty(1), penalty(2)], "last-month.jsonl")
    export(a.node, a.identity)
    clock.advance(days=1)
    ingest(a, tmp, [penalty(1, withdrawal_reason="信用修复")], "repair.jsonl")
    assert [
        i["reason"] for i in items_of(export(a.node, a.identity).sent[0].archive, b) if i.get("op") == "withdraw"
    ] == ["repaired"]
    clock.advance(days=1)
    with pytest.raises(IngestRejected) as err:
        ingest(a, tmp, [penalty(1), penalty(2)], "last-month-again.jsonl")
    [problem] = err.value.report.problems
    line = problem.render("last-month-again.jsonl")
    assert line.startswith(
        "last-month-again.jsonl:1: (row): penalty 昆市监罚〔2026〕1号, 昆明市市场监督管理局: withdrawn"
    )
    assert "信用修复" in line and "2026-11-27" in line and "--reactivate" in line
    # deliberately: accepted, logged with who and why, and listed as a reversal by the dry run
    report = ingest(a, tmp, [penalty(1), penalty(2)], "last-month-again.jsonl", reactivate="修复决定已撤销",
                    actor="operator:王科长")  # fmt: skip
    assert report.counts.reactivated == 1
    with a.node.sessions() as s:
        [entry] = [r for r in s.scalars(select(TransferLogRow)) if r.event == "record.reactivated"]
    assert entry.actor == "operator:王科长" and orjson.loads(entry.subject)["why"] == "修复决定已撤销"
    [peer] = cli(a, "export", "--dry-run", "--json").json()["peers"]
    assert peer["summary"]["penalty"]["reversed"] == 1 and len(peer["reversals"]) == 1


def test_a_field_an_upheld_objection_corrected_is_protected(homes: Any) -> None:
    a, b, clock, tmp = homes
    ingest(a, tmp, [penalty(1, fine_amount="3")], "v1.jsonl")
    with a.node.transaction() as s:
        pid = s.scalar(select(Penalty.id))
        assert pid is not None
        protect_fields(s.connection(), "penalty", pid, {"fine_amount": s.scalar(select(Penalty.fine_amount))},
                       objection="OBJ-7", at=clock(), by="operator:异议岗")  # fmt: skip
    with pytest.raises(IngestRejected) as err:
        ingest(a, tmp, [penalty(1, fine_amount="5")], "old.jsonl")
    assert "upheld objection OBJ-7" in err.value.report.problems[0].message
    report = ingest(a, tmp, [penalty(1, fine_amount="5")], "old.jsonl", override_objection="复议改判")
    assert report.counts.objection_overridden == 1


LICENCE = {
    "party_name": "昆明测试建筑工程有限公司", "party_category": "legal_person", "party_uscc": "91350100M000100Y43",
    "decision_doc_title": "建筑工程施工许可决定书", "licence_category": "ordinary", "content": "住宅项目建筑工程施工",
    "decision_date": "2026-10-01", "valid_from": "2026-10-01", "authority": "昆明市住房和城乡建设局",
    "authority_uscc": AUTHORITY_USCC,
}  # fmt: skip


def test_licence_numbers_that_pass_the_id_check(homes: Any) -> None:
    a, b, clock, tmp = homes
    person = resident_id("530102", __import__("datetime").date(1985, 7, 14), "123")
    looks_like_an_id = next(
        n for n in (f"530100{d}{s:04d}" for d in ("20260101", "20260315") for s in range(1000))
        if __import__("internal_node.leakguard").leakguard.id18_birth_date(n) is not None
    )  # fmt: skip
    with_x = resident_id("530102", __import__("datetime").date(1990, 1, 1), "001")
    with_x = next(
        resident_id("530102", __import__("datetime").date(1990, 1, d), "001")
        for d in range(1, 29)
        if resident_id("530102", __import__("datetime").date(1990, 1, d), "001").endswith("X")
    )
    ingest(a, tmp, [{"party_name": "张三丰", "party_category": "natural_person", "party_id_no": person,
                     **{k: v for k, v in penalty(9).items() if not k.startswith("party") and k != "legal_rep"}}],
           "person.jsonl")  # fmt: skip
    rows = [
        {**LICENCE, "decision_doc_no": "昆住建许〔2026〕1号", "licence_no": looks_like_an_id},
        {**LICENCE, "decision_doc_no": "昆住建许〔2026〕2号", "licence_no": person},  # a real ID the database holds
        {**LICENCE, "decision_doc_no": "昆住建许〔2026〕3号", "licence_no": with_x},  # fails the licence format
    ]
    ingest(a, tmp, rows, "licences.jsonl", kind="licence")
    held = {h["doc_no"]: h["rules"] for h in cli(a, "review", "list", "--json").json()["held"]}
    assert held == {"昆住建许〔2026〕2号": ["resident-id"], "昆住建许〔2026〕3号": ["resident-id"]}
    sent = rows_of(items_of(export(a.node, a.identity).sent[0].archive, b), "licence")
    assert [r["licence_no"] for r in sent] == [looks_like_an_id]
    assert person not in orjson.dumps(sent).decode()
    _ = text


def test_review_show_gives_every_finding_with_its_context_and_the_decision(homes: Any) -> None:
    a, b, clock, tmp = homes
    facts = "证人王建国在场，联系电话13812345678，住所地为翠湖小区3栋2单元501室，该案材料属机密级"
    ingest(a, tmp, [penalty(1, violation_facts=facts)], "v1.jsonl")
    [held] = cli(a, "review", "list", "--json").json()["held"]
    rules = {"person-name", "mobile", "address", "classification-text"}
    assert set(held["rules"]) == rules
    listed = cli(a, "review", "list").out
    assert f"more (review show {held['id']})" in listed, "the list shows three findings and points to show"

    shown = cli(a, "review", "show", str(held["id"])).out
    for rule, match in (("mobile", "13812345678"), ("address", "3栋2单元501室"), ("classification-text", "机密级")):
        [line] = [ln for ln in shown.splitlines() if f"violation_facts: {rule}:" in ln]
        assert match in line and "  in  …" in line, line  # the matched text, with its context
    assert "person-name" in shown
    doc = cli(a, "review", "show", str(held["id"]), "--json").json()
    assert {f["rule"] for f in doc["findings"]} == rules and all(f["context"] for f in doc["findings"])

    cli(a, "review", "keep", str(held["id"]), "--operator", "李审核", "--reason", "含个人信息")
    after = cli(a, "review", "show", str(held["id"])).out
    assert "decided by operator:李审核" in after and "含个人信息" in after
    missing = run_cli("internal-node", "--home", str(a.node.config.home), "review", "show", "999")
    assert missing.code != 0 and "review 999: no such entry" in missing.err and "Traceback" not in missing.err
