"""Ingest of department files: every kind in every format and encoding, Chinese headers, the
all-or-nothing rule, --skip-invalid with its rejects file, re-ingest, held and deleted records."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from internal_node.columns import KINDS
from internal_node.ingest import IngestRejected, ingest_file
from internal_node.models import ChangeCounter
from internal_node.readers import IngestError
from internal_node.rows import HELD_NO_ID
from nodekit.runtime import Node
from tests.unit.internal_node.ingest_support import (
    FIRM2_USCC,
    FIRM_USCC,
    MINOR_ID,
    PERSON_ID,
    SAMR,
    SHOP_USCC,
    events,
    open_node,
    row,
    table_rows,
    write_csv,
    write_jsonl,
    write_xlsx,
)

pytestmark = pytest.mark.db

KIND_TABLES = {kind: kind for kind in KINDS}


@pytest.fixture
def node(tmp_path: Path, database_url: str) -> Any:
    with open_node(tmp_path, database_url) as n:
        yield n


def ingest(node: Node, path: Path, kind: str, **kw: Any) -> Any:
    return ingest_file(node, path, kind=kind, source=SAMR.name, **kw)


def two_rows(kind: str) -> list[dict[str, Any]]:
    """Two valid rows of ``kind`` with different natural keys."""
    second: dict[str, dict[str, Any]] = {
        "subject": {"name": "五华区张记米线店", "category": "个体工商户", "uscc": SHOP_USCC},
        "licence": {
            "decision_doc_no": "昆市监食许〔2025〕2号",
            "party_uscc": FIRM2_USCC,
            "party_name": "昆明金马商贸有限公司",
        },
        "penalty": {"decision_no": "昆市监处罚〔2025〕2号", "severity": "严重", "fine_amount": "0.05"},
        "list_entry": {"doc_no": "昆发改信用〔2025〕2号", "list_type": "red", "basis": None},
        "commitment": {"commitment_code": "53010020250301000002", "fulfilment": "未到期"},
        "gov_credit": {"record_no": "ZWCX-2025-000002", "item_type": "服务承诺", "credit_area": "服务诚信"},
    }
    return [row(kind), row(kind, **second[kind])]


FORMATS = ["csv-utf8", "csv-utf8-bom", "csv-gb18030", "csv-gbk", "jsonl", "jsonl-zh", "xlsx", "xlsx-text"]


def write(fmt: str, tmp_path: Path, kind: str, rows: list[dict[str, Any]]) -> Path:
    base = tmp_path / f"{kind}-{fmt}"
    if fmt == "csv-utf8":
        return write_csv(base.with_suffix(".csv"), kind, rows)
    if fmt == "csv-utf8-bom":
        return write_csv(base.with_suffix(".csv"), kind, rows, encoding="utf-8-sig")
    if fmt == "csv-gb18030":
        return write_csv(base.with_suffix(".csv"), kind, rows, encoding="gb18030")
    if fmt == "csv-gbk":
        return write_csv(base.with_suffix(".csv"), kind, rows, encoding="gbk", style="en")
    if fmt == "jsonl":
        return write_jsonl(base.with_suffix(".jsonl"), kind, rows)
    if fmt == "jsonl-zh":
        return write_jsonl(base.with_suffix(".jsonl"), kind, rows, style="zh")
    if fmt == "xlsx":
        return write_xlsx(base.with_suffix(".xlsx"), kind, rows)
    return write_xlsx(base.with_suffix(".xlsx"), kind, rows, raw=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_kind_in_every_format(node: Node, tmp_path: Path, fmt: str) -> None:
    for kind in KINDS:
        path = write(fmt, tmp_path, kind, two_rows(kind))
        report = ingest(node, path, kind)
        assert report.accepted and report.counts.inserted == 2, (kind, report.to_dict())
        if fmt.startswith("csv-gb"):
            assert report.encoding == "gb18030"
    penalties = table_rows(node, "penalty")
    assert [p["decision_no"] for p in penalties] == ["昆市监处罚〔2025〕1号", "昆市监处罚〔2025〕2号"]
    assert penalties[0]["fine_amount"] == Decimal("5")
    assert penalties[0]["confiscation_amount"] == Decimal("1.2345")
    assert penalties[0]["penalty_types"] == "fine;confiscate_illegal_gains"
    assert penalties[0]["decision_date"] == date(2025, 3, 1)
    assert penalties[1]["severity"] == "serious"
    assert penalties[0]["source_unit"] == SAMR.name
    licence = table_rows(node, "licence")[0]
    assert licence["licence_status"] == "valid" and licence["licence_category"] == "ordinary"
    gov = table_rows(node, "gov_credit")
    assert gov[0]["amount"] == Decimal("123.45") and gov[0]["outcome"] == "cleared"
    subjects = {s["natural_key"]: s for s in table_rows(node, "subject")}
    assert subjects[f"uscc:{FIRM_USCC}"]["address"] == "云南省昆明市五华区人民中路1号"
    assert subjects[f"uscc:{FIRM_USCC}"]["legal_rep_id_no"] == PERSON_ID
    housing = [s for s in subjects.values() if s["category"] == "government"]
    assert len(housing) == 1 and gov[0]["subject_id"] == housing[0]["id"]
    assert subjects[f"uscc:{SHOP_USCC}"]["category"] == "individual_business"


def test_chinese_header_variants(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "处罚.csv"
    r = row("penalty")
    headers = {
        "party_name": "*行政相对人名称",
        "party_category": "行政相对人类别（必填）",
        "party_uscc": "行政相对人代码_1",
        "legal_rep": "法定代表人",
        "decision_no": "行政处罚决定书文号",
        "violation_type": "违法行为类型",
        "violation_facts": "违法事实",
        "legal_basis": "处罚依据",
        "penalty_types": "处罚类别",
        "content": "处罚内容",
        "fine_amount": "罚款金额（万元）",
        "confiscation_amount": "没收违法所得、没收非法财物的金额（万元）",
        "decision_date": "处罚决定日期",
        "severity": "失信严重程度",
        "authority": "处罚机关",
        "authority_uscc": "处罚机关统一社会信用代码",
        "source_unit": "数据来源单位",
        "source_unit_uscc": "数据来源单位统一社会信用代码",
    }
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["序号", *headers.values(), "内部编号"])
        out.writerow(["1", *(r[k] for k in headers), "X-1"])
    report = ingest(node, path, "penalty")
    assert report.counts.inserted == 1
    assert [w.message for w in report.warnings] == ["column '内部编号' is not a penalty field: ignored"]
    assert table_rows(node, "penalty")[0]["confiscation_amount"] == Decimal("1.2345")


BAD_ROWS: list[tuple[dict[str, Any], str, str]] = [
    ({"party_uscc": "91350100M000100Y44"}, "party_uscc", "check character is 4, expected 3 (GB 32100)"),
    ({"authority_uscc": "91350100M0001O0Y43"}, "authority_uscc", "outside the GB 32100 alphabet: O"),
    ({"decision_date": "2025-02-30"}, "decision_date", "2025-02-30 is not a calendar date"),
    ({"decision_date": "30/01/2025"}, "decision_date", "expected a date as YYYY-MM-DD"),
    ({"fine_amount": "-5"}, "fine_amount", "amount must be ≥ 0, got -5"),
    ({"fine_amount": "1.1234567"}, "fine_amount", "more than 6 decimals"),
    ({"severity": "很严重"}, "severity", "'很严重' is not one of minor (轻微)"),
    ({"penalty_types": "罚款;打板子"}, "penalty_types", "'打板子' is not one of"),
    ({"decision_no": None}, "decision_no", "required (行政处罚决定书文号)"),
    ({"violation_type": "违" * 201}, "violation_type", "at most 200 characters, got 201"),
    ({"content": "a\x00b"}, "content", "control character U+0000"),
    ({"party_uscc": None}, "party_uscc", "required for a legal person"),
    (
        {"party_category": "自然人", "party_uscc": None, "party_id_no": "110105194912310021"},
        "party_id_no",
        "resident ID check character is 1, expected X",
    ),
    ({"publish_until": "2025-01-01"}, "publish_until", "2025-01-01 is before decision_date 2025-03-01"),
    ({"disclosure": "保密"}, "disclosure", "'保密' is not one of public"),
    ({"record_status": "作废"}, "record_status", "'作废' is not one of normal"),
    ({"source_unit_uscc": "123"}, "source_unit_uscc", "USCC must be 18 characters, got 3"),
]


def bad_penalties() -> list[dict[str, Any]]:
    rows = []
    for i, (changes, _field, _msg) in enumerate(BAD_ROWS):
        rows.append(row("penalty", **{"decision_no": f"昆市监处罚〔2025〕{100 + i}号", **changes}))
    return rows


def test_every_validation_error_is_reported_and_nothing_is_written(node: Node, tmp_path: Path) -> None:
    rows = [row("penalty"), *bad_penalties()]
    path = write_csv(tmp_path / "penalties.csv", "penalty", rows)
    with pytest.raises(IngestRejected) as exc:
        ingest(node, path, "penalty")
    report = exc.value.report
    rendered = [p.render(path.name) for p in report.problems]
    for i, (_changes, field, message) in enumerate(BAD_ROWS):
        line = i + 3  # header on line 1, the good row on line 2
        assert any(r.startswith(f"penalties.csv:{line}: {field}: ") and message in r for r in rendered), (
            field,
            message,
            [r for r in rendered if r.startswith(f"penalties.csv:{line}:")],
        )
    assert report.counts.rejected == len(BAD_ROWS) and report.counts.rows == len(BAD_ROWS) + 1
    assert exc.value.exit_code == 3
    assert table_rows(node, "penalty") == [] and table_rows(node, "subject") == []
    log = events(node)
    assert [e.event for e in log] == ["ingest.rejected"]
    assert orjson.loads(log[0].counts) == {
        "rows": len(BAD_ROWS) + 1,
        "rejected": len(BAD_ROWS),
        "inserted": 0,
        "updated": 0,
        "unchanged": 0,
        "held": 0,
    }
    assert orjson.loads(log[0].subject)["file"] == "penalties.csv"
    assert log[0].result == "rejected" and log[0].reason == "invalid-rows"


def test_skip_invalid_accepts_the_valid_rows_and_writes_the_rejects_file(node: Node, tmp_path: Path) -> None:
    rows = [row("penalty"), *bad_penalties()[:3]]
    path = write_csv(tmp_path / "penalties.csv", "penalty", rows)
    report = ingest(node, path, "penalty", skip_invalid=True)
    assert report.accepted and report.counts.inserted == 1 and report.counts.rejected == 3
    rejects = tmp_path / "penalties.csv.rejects.csv"
    assert report.rejects_file == str(rejects)
    with rejects.open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.reader(fh))
    assert lines[0][:4] == ["表格行号", "数据行号", "文件行号", "问题"]
    assert lines[1][:4] == [
        "3", "2", "3", "party_uscc: USCC 91350100M000100Y44: check character is 4, expected 3 (GB 32100)"
    ]  # fmt: skip
    assert [line[0] for line in lines[1:]] == ["3", "4", "5"]
    assert len(table_rows(node, "penalty")) == 1
    assert [e.event for e in events(node)] == ["ingest.accepted"]
    assert orjson.loads(events(node)[0].counts)["rejected"] == 3


def test_rejects_file_of_a_refused_file_when_asked(node: Node, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "penalty", bad_penalties()[:2])
    out = tmp_path / "out" / "bad.csv"
    out.parent.mkdir()
    with pytest.raises(IngestRejected):
        ingest(node, path, "penalty", rejects=out)
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) == 3
    assert not list(out.parent.glob("*.part"))


# per kind: a real change of the second row (field, value as written, value as stored) and the same
# content written differently (field, other spelling), which must not count as a change
REINGEST: dict[str, tuple[tuple[str, str, Any], tuple[str, str]]] = {
    "subject": (
        ("address", "云南省昆明市五华区人民中路2号", "云南省昆明市五华区人民中路2号"),
        ("uscc", SHOP_USCC.lower()),
    ),
    "licence": (("content", "预包装食品销售", "预包装食品销售"), ("decision_date", "2025/3/1")),
    "penalty": (("fine_amount", "0.06", Decimal("0.06")), ("decision_date", "2025/3/1")),
    "list_entry": (("reason", "拒不履行行政处罚决定", "拒不履行行政处罚决定"), ("listed_date", "2025年4月1日")),
    "commitment": (("fulfilment", "全部未履行", "unfulfilled"), ("commitment_date", "20250301")),
    "gov_credit": (("amount", "123.46", Decimal("123.46")), ("occurred_date", "2024/1/10")),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_reingest_updates_and_never_duplicates(node: Node, tmp_path: Path, kind: str) -> None:
    assert set(REINGEST) == set(KINDS), "every kind has its case"
    (field, written, stored), (same_field, spelling) = REINGEST[kind]
    key_fields = KINDS[kind].key

    def by_key() -> dict[tuple[Any, ...], dict[str, Any]]:
        rows = table_rows(node, kind)
        keyed = {tuple(r[f] for f in key_fields): r for r in rows}
        assert len(keyed) == len(rows), "one row per natural key"
        return keyed

    rows = two_rows(kind)
    path = write_csv(tmp_path / "p.csv", kind, rows)
    first = ingest(node, path, kind)
    assert (first.counts.inserted, first.counts.updated, first.counts.unchanged) == (2, 0, 0)
    before = by_key()
    assert len(before) == 2

    again = ingest(node, path, kind)
    assert (again.counts.inserted, again.counts.updated, again.counts.unchanged) == (0, 0, 2)
    if kind != "subject":
        assert again.counts.subjects_inserted == again.counts.subjects_updated == 0
    assert by_key() == before  # version, change_seq, timestamps untouched

    assert rows[1].get(same_field) not in (None, spelling)
    rows[1][field] = written
    rows[1][same_field] = spelling  # the same value written differently: not a change by itself
    changed = ingest(node, write_csv(tmp_path / "p2.csv", kind, rows), kind)
    assert (changed.counts.inserted, changed.counts.updated, changed.counts.unchanged) == (0, 1, 1)
    after = by_key()
    assert after.keys() == before.keys()
    [key1, key2] = before
    assert after[key1] == before[key1]
    assert after[key2]["version"] == 2 and after[key2][field] == stored
    assert after[key2]["change_seq"] > max(r["change_seq"] for r in before.values())
    assert after[key2]["created_at"] == before[key2]["created_at"]
    moved = (field, "version", "change_seq", "updated_at", "content_digest")  # nothing else changed
    assert {k: v for k, v in after[key2].items() if k not in moved} == {
        k: v for k, v in before[key2].items() if k not in moved
    }


def test_same_amount_written_differently_is_not_a_change(node: Node, tmp_path: Path) -> None:
    ingest(node, write_csv(tmp_path / "a.csv", "penalty", [row("penalty", fine_amount="5")]), "penalty")
    report = ingest(node, write_jsonl(tmp_path / "b.jsonl", "penalty", [row("penalty", fine_amount=5.0)]), "penalty")
    assert report.counts.unchanged == 1


def test_change_seq_is_one_counter_over_all_tables(node: Node, tmp_path: Path) -> None:
    for kind in ("subject", "penalty", "gov_credit"):
        ingest(node, write_csv(tmp_path / f"{kind}.csv", kind, two_rows(kind)), kind)
    seqs = [r["change_seq"] for t in ("subject", "penalty", "gov_credit") for r in table_rows(node, t)]
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
    with node.sessions() as s:
        assert s.scalar(select(ChangeCounter.value)) == len(seqs)


def test_natural_person_without_id_is_held_and_with_id_becomes_a_subject(node: Node, tmp_path: Path) -> None:
    person = {"party_category": "自然人", "party_uscc": None, "legal_rep": None}
    rows = [
        row("penalty", decision_no="A-1", party_name="王五", **person),
        row(
            "penalty",
            decision_no="A-2",
            party_name="李四",
            party_id_type="身份证",
            party_id_no="110105491231002",
            **person,
        ),
        row("penalty", decision_no="A-3", party_name="赵六", party_id_no=MINOR_ID, **person),
    ]
    report = ingest(node, write_csv(tmp_path / "p.csv", "penalty", rows), "penalty")
    assert report.counts.inserted == 3 and report.counts.held == 1
    held, legacy, minor = table_rows(node, "penalty")
    assert held["held_reason"] == HELD_NO_ID and held["subject_id"] is None
    assert legacy["held_reason"] is None
    assert legacy["party_id_no"] == PERSON_ID  # the 15-digit form is stored as 18 characters
    assert minor["party_id_type"] == "resident_id"  # a number without a type is a resident ID
    subjects = {s["id"]: s for s in table_rows(node, "subject")}
    assert subjects[legacy["subject_id"]]["natural_key"] == f"id:resident_id:{PERSON_ID}"
    assert subjects[legacy["subject_id"]]["birth_date"] == date(1949, 12, 31)
    assert subjects[minor["subject_id"]]["birth_date"] == date(2012, 5, 1)
    assert subjects[minor["subject_id"]]["category"] == "natural_person"


def test_deletion_only_through_record_status(node: Node, tmp_path: Path) -> None:
    ingest(node, write_csv(tmp_path / "a.csv", "penalty", two_rows("penalty")), "penalty")
    # a later file without the first record deletes nothing
    ingest(node, write_csv(tmp_path / "b.csv", "penalty", two_rows("penalty")[1:]), "penalty")
    assert [r["record_status"] for r in table_rows(node, "penalty")] == ["normal", "normal"]
    report = ingest(node, write_csv(tmp_path / "c.csv", "penalty", [row("penalty", record_status="删除")]), "penalty")
    assert report.counts.updated == 1
    first = table_rows(node, "penalty")[0]
    assert first["record_status"] == "deleted" and first["version"] == 2
    assert len(table_rows(node, "penalty")) == 2


def test_same_record_twice_in_one_file(node: Node, tmp_path: Path) -> None:
    a = row("penalty")
    same = ingest(node, write_csv(tmp_path / "same.csv", "penalty", [a, a]), "penalty")
    assert same.counts.inserted == 1 and same.counts.unchanged == 1
    b = row("penalty", decision_no="B-1")
    path = write_csv(tmp_path / "dup.csv", "penalty", [b, {**b, "fine_amount": "7"}])
    with pytest.raises(IngestRejected) as exc:
        ingest(node, path, "penalty")
    assert "dup.csv:3: decision_no: the same record (decision_no=B-1, authority=" in exc.value.report.problems[
        0
    ].render("dup.csv")
    assert "line 2 of this file with different content" in exc.value.report.problems[0].message


def test_duplicate_across_batches_is_found_too(node: Node, tmp_path: Path) -> None:
    rows = [row("penalty", decision_no=f"C-{i}") for i in range(5)]
    rows.append({**rows[0], "fine_amount": "9"})
    with pytest.raises(IngestRejected) as exc:
        ingest(node, write_csv(tmp_path / "p.csv", "penalty", rows), "penalty", batch_rows=2)
    assert [p.line for p in exc.value.report.problems] == [7]
    assert "an earlier line of this file" in exc.value.report.problems[0].message


def test_missing_required_column_refuses_the_file_even_with_skip_invalid(node: Node, tmp_path: Path) -> None:
    rows = [row("penalty", severity=None)]
    path = write_csv(tmp_path / "p.csv", "penalty", rows)
    with pytest.raises(IngestRejected) as exc:
        ingest(node, path, "penalty", skip_invalid=True)
    assert [p.render("p.csv") for p in exc.value.report.problems] == [
        "p.csv:1: severity: required column missing (header 严重程度 or severity)"
    ]
    assert table_rows(node, "penalty") == []


def test_a_title_row_above_the_header_is_explained(node: Node, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "penalty", [row("penalty")])
    path.write_text("昆明市行政处罚信息（2025年）\r\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(IngestRejected) as exc:
        ingest(node, path, "penalty")
    assert [p.render("p.csv") for p in exc.value.report.problems] == [
        "p.csv:1: (file): the header row names no penalty field: is there a title row above the header "
        "(--header-row N), or is --kind wrong?"
    ]


def test_a_column_given_twice_refuses_the_file(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    r = row("penalty")
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        cols = list(r)
        out.writerow([*(KINDS["penalty"].by_name[c].label for c in cols), "罚款金额"])
        out.writerow([*(r[c] for c in cols), "6"])
    with pytest.raises(IngestRejected) as exc:
        ingest(node, path, "penalty")
    assert "fine_amount: given twice, as '罚款金额(万元)' and '罚款金额'" in exc.value.report.problems[0].render(
        "p.csv"
    )


def test_list_entry_rules(node: Node, tmp_path: Path) -> None:
    rows = [
        row("list_entry", basis=None),
        row("list_entry", doc_no="L-2", removed_date="2025-01-01"),
        row("list_entry", doc_no="L-3", list_type="red", basis=None),
    ]
    with pytest.raises(IngestRejected) as exc:
        ingest(node, write_csv(tmp_path / "l.csv", "list_entry", rows), "list_entry")
    assert [p.render("l.csv") for p in exc.value.report.problems] == [
        "l.csv:2: basis: required for a serious-dishonesty listing (认定依据)",
        "l.csv:3: removed_date: 2025-01-01 is before listed_date 2025-04-01",
    ]


def test_subject_rows_fill_and_never_blank_stored_fields(node: Node, tmp_path: Path) -> None:
    ingest(node, write_csv(tmp_path / "s.csv", "subject", [row("subject")]), "subject")
    ingest(node, write_csv(tmp_path / "p.csv", "penalty", [row("penalty", legal_rep="李四")]), "penalty")
    subject = table_rows(node, "subject")[0]
    assert subject["address"] == "云南省昆明市五华区人民中路1号"  # a penalty row has no address: kept
    assert subject["legal_rep"] == "李四" and subject["version"] == 2


def test_xlsx_identifiers_stored_as_numbers_are_refused(node: Node, tmp_path: Path) -> None:
    rows = [row("penalty", party_category="自然人", party_uscc=None, party_id_no=1.1010519491231002e17)]
    path = write_xlsx(tmp_path / "p.xlsx", "penalty", rows)
    with pytest.raises(IngestRejected) as exc:
        ingest(node, path, "penalty")
    assert "party_id_no: stored as a number, which loses digits" in exc.value.report.problems[0].render("p.xlsx")


def test_explicit_encoding_and_undecodable_files(node: Node, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "utf16.csv", "penalty", [row("penalty")], encoding="utf-16", style="en")
    with pytest.raises(IngestError):  # neither UTF-8 nor GB18030: refused unless the encoding is given
        ingest(node, path, "penalty")
    assert ingest(node, path, "penalty", encoding="utf-16").counts.inserted == 1
    junk = tmp_path / "junk.csv"
    junk.write_bytes("decision_no,违法\n".encode() + b"\xff\xfe\xfd\n")
    with pytest.raises(IngestError) as exc:
        ingest(node, junk, "penalty")
    assert exc.value.exit_code == 3 and exc.value.reason == "encoding"
    assert "junk.csv:" in str(exc.value) and "not valid gb18030 text" in str(exc.value)
    assert [e.event for e in events(node)][-1] == "ingest.rejected"


def test_jsonl_line_errors(node: Node, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(
        orjson.dumps(row("penalty")).decode() + "\n\n{not json}\n[1, 2]\n",
        encoding="utf-8",
    )
    with pytest.raises(IngestRejected) as exc:
        ingest(node, path, "penalty")
    rendered = [p.render("p.jsonl") for p in exc.value.report.problems]
    assert rendered[0].startswith("p.jsonl:3: (row): not valid JSON")
    assert rendered[1] == "p.jsonl:4: (row): expected a JSON object, got list"


def test_malformed_and_unsupported_files(node: Node, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match=r"empty.csv:1: \(file\): no header row"):
        ingest(node, empty, "penalty")
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(IngestError, match=r"save the sheet as \.xlsx or CSV"):
        ingest(node, xls, "penalty")
    refused = events(node)[-1]
    assert (refused.event, refused.reason) == ("ingest.rejected", "format")
    assert orjson.loads(refused.subject)["file"] == "old.xls"
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"not a zip")
    with pytest.raises(IngestError, match="not an XLSX workbook"):
        ingest(node, fake, "penalty")
    extra = write_csv(tmp_path / "extra.csv", "penalty", [row("penalty")])
    extra.write_text(extra.read_text(encoding="utf-8").rstrip("\r\n") + ",surplus\r\n", encoding="utf-8")
    with pytest.raises(IngestRejected, match=r"extra\.csv:2: \(row\): 19 cells but the header has 18 columns"):
        ingest(node, extra, "penalty")


def test_source_unit_from_the_option_when_the_file_has_none(node: Node, tmp_path: Path) -> None:
    rows = [row("penalty", source_unit=None, source_unit_uscc=None)]
    ingest_file(
        node,
        write_csv(tmp_path / "p.csv", "penalty", rows),
        kind="penalty",
        source="昆明市城市管理局",
        source_uscc=FIRM2_USCC,
    )
    stored = table_rows(node, "penalty")[0]
    assert (stored["source_unit"], stored["source_unit_uscc"]) == ("昆明市城市管理局", FIRM2_USCC)


def test_ingest_in_one_transaction_with_its_event(node: Node, tmp_path: Path) -> None:
    report = ingest(node, write_csv(tmp_path / "p.csv", "penalty", two_rows("penalty")), "penalty")
    (event,) = events(node)
    assert event.event == "ingest.accepted"
    subject = orjson.loads(event.subject)
    assert subject == {"file": "p.csv", "sha256": report.sha256, "kind": "penalty", "source": SAMR.name}
    assert orjson.loads(event.counts) == {
        "rows": 2,
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "held": 0,
    }
    with node.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ChangeCounter)) == 1
