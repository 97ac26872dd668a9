"""Applying record changes to the published database: version ordering, withdrawals, fail-safe expiry,
housekeeping, the search entries kept in step, and bad items."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from nodekit.runtime import Node
from public_node import store
from public_node.errors import BadItem, PublicNodeError
from public_node.models import RECORD_TABLE, SEARCH_TABLE
from tests.unit.public_node.data import key, row, subject, upsert, withdraw

pytestmark = pytest.mark.db


def apply(node: Node, items: list[dict[str, Any]], today: date, **kw: Any) -> store.ApplyResult:
    with node.transaction() as s:
        return store.apply_changes(s, items, today=today, **kw)


def versions(node: Node) -> dict[tuple[str, str], int]:
    with node.transaction() as s:
        r = RECORD_TABLE.c
        return {(k, kk): v for k, kk, v in s.execute(select(r.kind, r.key, r.version))}


def entries(node: Node) -> dict[str, tuple[str, str | None]]:
    """subject_key -> (name, uscc) of every search entry; on SQLite also checks the FTS5 index
    against its content table (FTS5's own integrity check)."""
    with node.transaction() as s:
        if s.get_bind().dialect.name == "sqlite":
            s.execute(text("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)"))
        c = SEARCH_TABLE.c
        return {sk: (n, u) for sk, n, u in s.execute(select(c.subject_key, c.name, c.uscc))}


def names_found(node: Node, query: str, today: date) -> list[str]:
    with node.transaction() as s:
        return [h.name for h in store.search(s, query, today=today, limit=100).items]


def test_upsert_replaces_only_with_a_newer_version(node: Node, today: date) -> None:
    r1 = row("s", "昆明华兴科技有限公司", doc_no="罚1", violation_facts="v1")
    res = apply(node, [upsert("penalty", "p", 2, r1)], today)
    assert res.upserted == {"penalty": 1}
    stale = apply(node, [upsert("penalty", "p", 1, r1 | {"violation_facts": "old"})], today)
    same = apply(node, [upsert("penalty", "p", 2, r1 | {"violation_facts": "same version"})], today)
    assert stale.unchanged == {"penalty": 1} and not stale.upserted
    assert same.unchanged == {"penalty": 1}
    newer = apply(node, [upsert("penalty", "p", 3, r1 | {"violation_facts": "v3"})], today)
    assert newer.upserted == {"penalty": 1}
    with node.transaction() as s:
        rec = store.get_record(s, "penalty", key("p"), today=today)
    assert rec is not None and rec.version == 3 and rec.row["violation_facts"] == "v3"


def test_a_stale_upsert_in_a_bulk_group_changes_nothing(node: Node, today: date) -> None:
    """One group mixing new, newer and stale upserts: only the stale one is left out, in the counts
    and in the search entries (a stale row carrying another name must not rename its subject)."""
    apply(
        node, [upsert("penalty", "p", 5, row("s", "现名称公司")), upsert("licence", "l", 1, row("t", "乙公司"))], today
    )
    res = apply(
        node,
        [
            upsert("penalty", "new1", 1, row("u", "丙公司")),
            upsert("penalty", "p", 4, row("s", "旧名称公司")),  # stale
            upsert("licence", "l", 2, row("t", "乙公司更名")),  # newer
            upsert("penalty", "new2", 1, row("v", "丁公司")),
        ],
        today,
    )
    assert res.upserted == {"penalty": 2, "licence": 1} and res.unchanged == {"penalty": 1}
    assert versions(node) == {
        ("penalty", key("p")): 5,
        ("licence", key("l")): 2,
        ("penalty", key("new1")): 1,
        ("penalty", key("new2")): 1,
    }
    assert {sk: n for sk, (n, _) in entries(node).items()} == {
        key("s"): "现名称公司",
        key("t"): "乙公司更名",
        key("u"): "丙公司",
        key("v"): "丁公司",
    }


def test_withdrawal_removes_unless_the_stored_version_is_newer(node: Node, today: date) -> None:
    apply(node, [upsert("penalty", "p", 3, row("s", "甲公司")), upsert("licence", "l", 1, row("s", "甲公司"))], today)
    res = apply(node, [withdraw("penalty", "p", 2), withdraw("licence", "nope", 5)], today)
    assert res.not_held == {"penalty": 1, "licence": 1} and not res.withdrawn
    assert versions(node)[("penalty", key("p"))] == 3
    res = apply(node, [withdraw("penalty", "p", 3, "repaired"), withdraw("licence", "l", 4, "deleted")], today)
    assert res.withdrawn == {"penalty": 1, "licence": 1}
    assert res.reasons == {"repaired": 1, "deleted": 1}
    assert res.counts() == {"withdrawn.licence": 1, "withdrawn.penalty": 1, "reasons.deleted": 1, "reasons.repaired": 1}
    assert versions(node) == {}
    assert entries(node) == {}  # the subject has nothing left: its search entry went too


@pytest.mark.parametrize("batch", [1, 2, 5000])
def test_changes_apply_in_order_even_for_the_same_key(node: Node, today: date, batch: int) -> None:
    items = [
        upsert("penalty", "p", 1, row("s", "第一名称")),
        upsert("penalty", "q", 1, row("t", "另一家公司")),
        withdraw("penalty", "p", 1),
        upsert("penalty", "p", 2, row("s", "第二名称")),
        upsert("penalty", "p", 1, row("s", "过时的名称")),  # stale: not newer than 2
        withdraw("penalty", "q", 1),
        upsert("penalty", "q", 1, row("t", "重新发布")),  # republished after its withdrawal
    ]
    res = apply(node, items, today, batch=batch)
    assert res.upserted == {"penalty": 4} and res.unchanged == {"penalty": 1} and res.withdrawn == {"penalty": 2}
    assert versions(node) == {("penalty", key("p")): 2, ("penalty", key("q")): 1}
    assert entries(node) == {key("s"): ("第二名称", None), key("t"): ("重新发布", None)}


def test_bulk_apply_of_many_records(node: Node, today: date) -> None:
    items = [
        upsert("licence", f"l{i}", 1, row(f"s{i % 700}", f"企业{i % 700:04d}号", doc_no=f"许{i}")) for i in range(3000)
    ]
    res = apply(node, items, today, batch=1000)
    assert res.upserted == {"licence": 3000}
    with node.transaction() as s:
        assert s.execute(select(func.count()).select_from(RECORD_TABLE)).scalar_one() == 3000
        assert s.execute(select(func.count()).select_from(SEARCH_TABLE)).scalar_one() == 700
        assert [h.name for h in store.search(s, "0123号", today=today).items] == ["企业0123号"]
        assert [r.key for r in store.find_by_doc_no(s, "许2999", today=today)] == [key("l2999")]
    again = apply(node, items, today)
    assert again.unchanged == {"licence": 3000} and not again.upserted
    assert len(entries(node)) == 700


def test_fail_safe_expiry_hides_records_without_a_withdrawal(node: Node) -> None:
    day = date(2026, 1, 10)
    until = "2026-03-31"
    apply(
        node,
        [
            upsert("penalty", "p", 1, row("s", "过期公司", doc_no="罚2026-1", publish_until=until)),
            upsert(
                "list_entry", "b", 1, row("s", "过期公司", list_type="dishonest", doc_no="认定1", publish_until=until)
            ),
            upsert("penalty", "keep", 1, row("k", "长期公司", doc_no="罚2026-2")),
        ],
        day,
    )
    last_day, after = date(2026, 3, 31), date(2026, 4, 1)
    with node.transaction() as s:
        # the last day shown is publish_until itself
        assert store.get_record(s, "penalty", key("p"), today=last_day) is not None
        assert [h.name for h in store.search(s, "过期", today=last_day).items] == ["过期公司"]
        # one day later everything about it is gone from every query, with no withdrawal
        assert store.get_record(s, "penalty", key("p"), today=after) is None
        assert store.search(s, "过期", today=after).total == 0
        assert store.find_by_doc_no(s, "罚2026-1", today=after) == []
        assert store.subject_page(s, key("s"), today=after) is None
        assert store.list_page(s, "dishonest", today=after).total == 0
        assert store.record_counts(s, today=after)["penalty"] == 1
        assert store.subject_page(s, key("k"), today=after) is not None
    with node.transaction() as s:
        assert store.purge_expired(s, after) == {"penalty": 1, "list_entry": 1}
    assert set(versions(node)) == {("penalty", key("keep"))}
    assert entries(node) == {key("k"): ("长期公司", None)}


def test_purge_goes_through_any_number_of_records_a_group_at_a_time(
    node: Node, today: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "BATCH", 2)
    items = [
        upsert("penalty", f"p{i}", 1, row(f"s{i % 3}", f"公司{i % 3}", publish_until="2026-06-30")) for i in range(7)
    ]
    items.append(upsert("penalty", "live", 1, row("s0", "公司0")))
    apply(node, items, date(2026, 1, 1))
    with node.transaction() as s:
        assert store.purge_expired(s, today) == {"penalty": 7}
    assert set(versions(node)) == {("penalty", key("live"))}
    assert entries(node) == {key("s0"): ("公司0", None)}


def test_upsert_arriving_after_its_publication_end_is_not_stored(node: Node, today: date) -> None:
    r = row("s", "某公司", doc_no="罚9")
    apply(node, [upsert("penalty", "p", 1, r)], today - timedelta(days=400))
    res = apply(node, [upsert("penalty", "p", 2, r | {"publish_until": str(today - timedelta(days=1))})], today)
    assert res.expired == {"penalty": 1} and not res.upserted
    assert versions(node) == {}
    assert entries(node) == {}
    res = apply(node, [upsert("penalty", "new", 1, r | {"publish_until": "2020-01-01"})], today)
    assert res.expired == {"penalty": 1}
    assert versions(node) == {}


def test_search_entry_takes_the_subject_row_name_and_follows_changes(node: Node, today: date) -> None:
    apply(node, [upsert("penalty", "p1", 1, row("s", "旧记录名称"))], today)
    assert entries(node) == {key("s"): ("旧记录名称", None)}
    apply(node, [subject("s", "正式名称有限公司", uscc="91530100MA6K000001")], today)
    assert entries(node) == {key("s"): ("正式名称有限公司", "91530100MA6K000001")}
    # a record carrying another name does not override the subject row
    apply(node, [upsert("penalty", "p2", 1, row("s", "别的名称"))], today)
    assert entries(node)[key("s")][0] == "正式名称有限公司"
    # renaming the subject moves the search entry
    apply(node, [subject("s", "新名称有限公司", version=2, uscc="91530100MA6K000001")], today)
    assert names_found(node, "新名称", today) == ["新名称有限公司"]
    assert names_found(node, "正式", today) == []
    # the subject row withdrawn: the entry falls back to a remaining record's name
    apply(node, [withdraw("subject", "s", 2, "not-public")], today)
    assert entries(node)[key("s")][0] in {"旧记录名称", "别的名称"}
    apply(node, [withdraw("penalty", "p1", 1), withdraw("penalty", "p2", 1)], today)
    assert entries(node) == {}
    assert names_found(node, "名称", today) == []


def test_replace_tables_for_a_snapshot(node: Node, today: date) -> None:
    apply(
        node,
        [
            subject("s", "甲公司"),
            upsert("penalty", "p", 1, row("s", "甲公司")),
            upsert("licence", "l", 1, row("t", "乙公司")),
        ],
        today,
    )
    with node.transaction() as s:
        assert store.replace_tables(s, ["licence"]) == {"licence": 1}
    assert entries(node) == {key("s"): ("甲公司", None)}
    with node.transaction() as s:
        assert store.replace_tables(s, ["subject", "licence", "penalty", "list_entry", "commitment", "gov_credit"]) == {
            "subject": 1,
            "penalty": 1,
        }
    assert versions(node) == {} and entries(node) == {}
    apply(node, [upsert("licence", "l", 1, row("t", "乙公司"))], today)
    assert names_found(node, "乙公", today) == ["乙公司"]


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({"op": "upsert", "table": "secret", "key": key("x"), "version": 1, "row": {}}, "table expected"),
        ({"op": "upsert", "table": "penalty", "key": "ABC", "version": 1, "row": {}}, "key expected"),
        ({"op": "upsert", "table": "penalty", "key": key("x"), "version": 0, "row": {}}, "version expected"),
        ({"op": "upsert", "table": "penalty", "key": key("x"), "version": True, "row": {}}, "version expected"),
        ({"op": "replace", "table": "penalty", "key": key("x"), "version": 1, "row": {}}, "op expected"),
        ({"op": "withdraw", "table": "penalty", "key": key("x"), "version": 1}, "withdrawal reason"),
        ({"op": "upsert", "table": "penalty", "key": key("x"), "version": 1, "row": []}, "row expected"),
        (upsert("penalty", "x", 1, row("s", "n") | {"subject_key": "short"}), "subject_key expected"),
        (upsert("penalty", "x", 1, row("s", "")), "subject_name expected"),
        (upsert("penalty", "x", 1, row("s", "n", publish_until="2026-13-01")), "publish_until expected"),
        (upsert("penalty", "x", 1, row("s", "n", publish_until=20261201)), "publish_until expected"),
        (upsert("list_entry", "x", 1, row("s", "n")), "list_type expected"),
        (upsert("penalty", "x", 1, row("s", "n", uscc=5)), "uscc expected"),
    ],
)
def test_bad_items_are_rejected_with_a_reason(node: Node, today: date, item: dict[str, Any], fragment: str) -> None:
    good = upsert("penalty", "good", 1, row("s", "好公司"))
    with pytest.raises(BadItem) as err, node.transaction() as s:
        store.apply_changes(s, [good, item], today=today)
    assert isinstance(err.value, PublicNodeError)
    assert err.value.reason == "bad-item" and err.value.exit_code == 3
    assert fragment in str(err.value)
    assert versions(node) == {}  # the caller's transaction rolled back: nothing applied
