"""Applications across the gap through the real medium (issue 17): a public node's binding request and
applications reach the internal node in format-2 return packages, the credit office decides them, and
the decisions — with the record's withdrawal for an approved repair — come back in the next export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from exchange.node import open_exchange
from internal_node import applications as apps
from internal_node.errors import ApplicationError
from internal_node.export import export
from internal_node.ingest import IngestRejected
from internal_node.returns import import_returns
from nodekit import trust_store
from nodekit.models import TransferLogRow
from public_node.importer import import_packages
from public_node.models import ApplicationDecision, ApplicationStatus, PublishedRecord
from tests.integration.public_support import COMPANY_USCC, ingest_rows, penalty
from tests.nodes import Clock, Home, trusted_pair
from tests.vectors.format2 import attachment, tiny_png
from transfer.items import Item

pytestmark = pytest.mark.db


def _advertise(a: Home, b: Home, clock: Clock) -> None:
    for card_of, to in ((a, b), (b, a)):
        card = card_of.identity.card(reads=2)
        with to.node.transaction() as s:
            trust_store.trust_card(s, card, card.key_id, clock(), own_role=to.node.config.role)


def _file(public: Home, internal: Home, items: list[Item]) -> dict[str, int]:
    """The public node seals ``items`` in its next return package; the internal node imports it."""
    with public.node.sessions() as s:
        [peer] = trust_store.load_trust_state(s).peers("internal")
    open_exchange(public.node, public.identity).send(peer, lambda s, seq: list(items))
    [outcome] = import_returns(internal.node, internal.identity)
    assert outcome.result == "applied", outcome
    return dict(getattr(outcome, "counts", None) or {})


def _round_trip(internal: Home, public: Home) -> None:
    [pkg] = export(internal.node, internal.identity).sent
    assert pkg.counts
    [outcome] = import_packages(public.node, public.identity)
    assert outcome.result == "applied", outcome


def _records(public: Home) -> dict[str, str]:
    with public.node.sessions() as s:
        return {
            r.key: r.subject_key for r in s.scalars(select(PublishedRecord).where(PublishedRecord.kind == "penalty"))
        }


def _decisions(public: Home) -> dict[str, tuple[str, str, str | None]]:
    with public.node.sessions() as s:
        return {d.id: (d.type, d.decision, d.subject_key) for d in s.scalars(select(ApplicationDecision))}


def binding(ident: str, uscc: str, rep: str) -> Item:
    return {"kind": "binding-request", "id": ident, "account": "0a" * 16, "submitted": "2026-11-26T07:00:00Z",
            "subject_category": "legal", "identifier": uscc, "name": "昆明示例建筑工程有限公司", "legal_rep": rep,
            "contact": "13812345678"}  # fmt: skip


def application(ident: str, typ: str, key: str | None, **kw: Any) -> Item:
    item: Item = {
        "kind": "application", "id": ident, "type": typ, "binding": "b1" * 16 if typ != "complaint" else None,
        "table": "penalty" if key else None, "key": key, "version": 1 if key else None,
        "submitted": "2026-11-26T07:30:00Z", "category": {"repair": "repair", "objection": "inaccurate"}.get(typ, "department"),
        "target": "昆明市住房和城乡建设局" if typ == "complaint" else None, "statement": "已整改完毕，申请提前结束公示。",
        "contact": "138****5678", "attachments": [attachment(tiny_png())],
    }  # fmt: skip
    item.update(kw)
    return item


def test_binding_repair_and_complaint_across_the_gap(tmp_path: Path, database_factory: Any) -> None:
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    _advertise(internal, public, clock)
    today = clock().date()
    rows = [penalty(1, today), penalty(2, today, uscc=1)]
    assert ingest_rows(internal.node, "penalty", rows, tmp_path / "dept").accepted
    _round_trip(internal, public)
    published = _records(public)
    assert len(published) == 2

    # 1. a binding request, checked against the full data on the internal node
    _file(public, internal, [binding("b1" * 16, COMPANY_USCC[0], "王建国")])
    with internal.node.transaction() as s:
        [entry] = apps.entries(s, today)
        assert (entry.type, entry.state, entry.due > today) == ("binding", "received", True)
        apps.decide(s, "b1b1b1b1", "approved", "代码与法定代表人一致。", actor="审核员甲", now=clock())
    _round_trip(internal, public)
    decisions = _decisions(public)
    subject_of = dict(published)
    bound = decisions["b1" * 16]
    assert bound[:2] == ("binding", "approved") and bound[2] in subject_of.values()
    mine = next(k for k, v in subject_of.items() if v == bound[2])
    theirs = next(k for k in subject_of if k != mine)

    # 2. a repair on its own record, a repair on another subject's record, a complaint
    _file(public, internal, [
        application("a1" * 16, "repair", mine),
        application("a2" * 16, "repair", theirs),
        application("a3" * 16, "complaint", None),
    ])  # fmt: skip
    with internal.node.transaction() as s:
        states = {e.id: (e.state, e.decision) for e in apps.entries(s, today)}
    assert states["a2" * 16] == ("decided", "not-accepted"), "another subject's record: refused at intake"
    assert states["a1" * 16] == ("received", None)
    with internal.node.transaction() as s:
        apps.assign(s, "a1" * 16, "审核员乙", actor="科长", now=clock())
        apps.decide(s, "a1" * 16, "approved", "已履行行政处罚决定，符合信用修复条件。", actor="审核员乙", now=clock())
        apps.decide(s, "a3" * 16, "answered", "已转住房和城乡建设局核查并答复。", actor="审核员丙", now=clock())
        with pytest.raises(ApplicationError) as err:
            apps.decide(s, "ff" * 16, "approved", "x", actor="x", now=clock())
        assert err.value.reason == "unknown-application", "a decision for an application never received"
        with pytest.raises(ApplicationError):
            apps.decide(s, "a1" * 16, "refused", "again", actor="x", now=clock())
    _round_trip(internal, public)
    decisions = _decisions(public)
    assert decisions["a1" * 16][:2] == ("repair", "approved")
    assert decisions["a2" * 16][:2] == ("repair", "not-accepted")
    assert decisions["a3" * 16][:2] == ("complaint", "answered")
    assert set(_records(public)) == {theirs}, "the approved repair ended the record's publication early"
    with internal.node.sessions() as s:
        decided = [r for r in s.scalars(select(TransferLogRow).where(TransferLogRow.event == "application.decided"))]
        assert {(r.actor, r.result) for r in decided} >= {("审核员乙", "approved"), ("intake", "not-accepted")}


def test_an_overdue_application_is_alarmed_once(tmp_path: Path, database_factory: Any) -> None:
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    _advertise(internal, public, clock)
    _file(public, internal, [application("c1" * 16, "complaint", None)])
    assert apps.application_status(internal.node)["overdue"] == []
    clock.advance(days=40)
    first = apps.application_status(internal.node)
    assert [o["id"] for o in first["overdue"]] == ["c1" * 16]
    apps.application_status(internal.node)
    with internal.node.sessions() as s:
        alarms = list(s.scalars(select(TransferLogRow).where(TransferLogRow.reason == apps.OVERDUE_REASON)))
    assert len(alarms) == 1, "one alarm in the transfer log, not one per status call"


def test_a_format_2_kind_waits_for_the_advertisement(tmp_path: Path, database_factory: Any) -> None:
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    with public.node.sessions() as s:
        [peer] = trust_store.load_trust_state(s).peers("internal")
    from transfer.errors import PackageRejected

    with pytest.raises(PackageRejected) as err:  # the internal node advertised nothing: format 1
        open_exchange(public.node, public.identity).send(
            peer, lambda s, seq: [application("d1" * 16, "complaint", None)]
        )
    assert err.value.reason == "unknown-kind"


def test_an_upheld_objection_withdraws_the_record_and_a_re_ingest_cannot_undo_it(
    tmp_path: Path, database_factory: Any
) -> None:
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    _advertise(internal, public, clock)
    today = clock().date()
    row = penalty(1, today)
    assert ingest_rows(internal.node, "penalty", [row], tmp_path / "dept").accepted
    _round_trip(internal, public)
    _file(public, internal, [binding("b1" * 16, COMPANY_USCC[0], "王建国")])
    with internal.node.transaction() as s:
        apps.decide(s, "b1" * 16, "approved", "一致。", actor="审核员甲", now=clock())
    _round_trip(internal, public)
    [key] = _records(public)
    _file(public, internal, [application("e1" * 16, "objection", key, statement="该处罚已被复议撤销。")])
    with internal.node.transaction() as s:
        with pytest.raises(ApplicationError) as err:
            apps.decide(s, "e1" * 16, "upheld", "   ", actor="审核员乙", now=clock())
        assert err.value.reason == "no-reason", "every decision states its reasons"
    with internal.node.transaction() as s:
        apps.decide(s, "e1" * 16, "upheld", "经核实，原处罚决定已被复议撤销。", actor="审核员乙", now=clock())
    _round_trip(internal, public)
    assert _records(public) == {}, "the upheld objection withdrew the record"
    assert _decisions(public)["e1" * 16][:2] == ("objection", "upheld")
    # the department delivers the row again: unchanged, it changes nothing; changed, it is refused
    assert ingest_rows(internal.node, "penalty", [row], tmp_path / "dept").accepted
    with pytest.raises(IngestRejected, match="异议成立, objection-upheld"):
        ingest_rows(internal.node, "penalty", [penalty(1, today, fine="2.5")], tmp_path / "dept")
    _round_trip(internal, public)
    assert _records(public) == {}, "the withdrawal stands"


def test_an_acknowledgement_of_an_application_the_platform_never_filed_changes_nothing(
    tmp_path: Path, database_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The public node keeps an acknowledgement (application-status) only for what its platform filed: these
    items were sealed by hand, so its web database holds none of them. Each is refused alone and logged; the
    package, signed by the internal node, is applied."""
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    _advertise(internal, public, clock)
    _file(public, internal, [binding("b1" * 16, COMPANY_USCC[0], "王建国"), application("c1" * 16, "complaint", None)])
    [pkg] = export(internal.node, internal.identity).sent
    assert pkg.counts["application-status"] == 2, pkg.counts
    with caplog.at_level("WARNING", logger="credgap.import"):
        [outcome] = import_packages(public.node, public.identity)
    assert outcome.result == "applied", outcome
    assert (outcome.counts or {}).get("application-status.unknown") == 2, outcome.counts
    assert "never filed" in caplog.text and "c1" * 16 in caplog.text
    with public.node.sessions() as s:
        assert list(s.scalars(select(ApplicationStatus))) == []
    [again] = export(internal.node, internal.identity).sent
    assert "application-status" not in again.counts, "acknowledged once, not in every export"
