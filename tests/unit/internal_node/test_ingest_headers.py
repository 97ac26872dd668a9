"""Department files as they really come (issue 18, points 10 and 11): header variants of earlier
editions and portals, --map, --default and --header-row (each recorded with the ingest in the
transfer log), and a rejects file that carries the original cells and the rows a person sees."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from internal_node.columns import KINDS
from internal_node.header_variants import VARIANTS
from internal_node.ingest import IngestRejected, IngestUsageError, ingest_file
from internal_node.readers import IngestError
from nodekit.runtime import Node
from tests.unit.internal_node.ingest_support import SAMR, events, open_node, row, table_rows

pytestmark = pytest.mark.db


@pytest.fixture
def node(tmp_path: Path, database_url: str) -> Any:
    with open_node(tmp_path, database_url) as n:
        yield n


def ingest(node: Node, path: Path, **kw: Any) -> Any:
    return ingest_file(node, path, kind="penalty", source=SAMR.name, **kw)


def write_rows(path: Path, headers: list[str], rows: list[list[str]], *, encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        out = csv.writer(fh)
        out.writerow(headers)
        out.writerows(rows)
    return path


def penalty_table(
    renames: dict[str, str] | None = None, drop: tuple[str, ...] = (), n: int = 1
) -> tuple[list[str], list[list[str]]]:
    """A penalty file's headers (standard labels, some renamed) and ``n`` valid rows."""
    renames = renames or {}
    spec = KINDS["penalty"]
    base = row("penalty")
    names = [f.name for f in spec.fields if f.name in base and f.name not in drop]
    headers = [renames.get(name, spec.by_name[name].label) for name in names]
    rows = []
    for i in range(n):
        values = {**base, "decision_no": f"昆市监处罚〔2025〕{500 + i}号"}
        rows.append([str(values[name]) for name in names])
    return headers, rows


def last_subject(node: Node) -> dict[str, Any]:
    return dict(orjson.loads(events(node)[-1].subject))


def test_every_variant_names_one_field_of_its_kind() -> None:
    for kind, fields in VARIANTS.items():
        spec = KINDS[kind]
        for name, variants in fields.items():
            for variant in variants:
                assert spec.field_for(variant) == name, (kind, variant)


def test_earlier_editions_headers_are_read_and_recorded(node: Node, tmp_path: Path) -> None:
    headers, rows = penalty_table(
        {"decision_date": "处罚日期", "violation_facts": "处罚事由", "authority": "处罚实施机关"}
    )
    report = ingest(node, write_rows(tmp_path / "p.csv", headers, rows))
    assert report.accepted and report.counts.inserted == 1
    stored = table_rows(node, "penalty")[0]
    assert str(stored["decision_date"]) == row("penalty")["decision_date"]
    subject = last_subject(node)
    assert subject["variants"] == ["处罚事由=violation_facts", "处罚日期=decision_date", "处罚实施机关=authority"]
    assert "map" not in subject and "defaults" not in subject and "header_row" not in subject


def test_map_names_the_field_of_an_unknown_header_and_is_logged(node: Node, tmp_path: Path) -> None:
    headers, rows = penalty_table({"decision_date": "决定作出时间"})
    path = write_rows(tmp_path / "p.csv", headers, rows)
    with pytest.raises(IngestRejected) as refused:
        ingest(node, path)
    assert any(
        p.field == "decision_date" and "required column missing" in p.message for p in refused.value.report.problems
    )
    report = ingest(node, path, column_map=["决定作出时间=decision_date"])
    assert report.accepted and report.counts.inserted == 1
    assert last_subject(node)["map"] == ["决定作出时间=decision_date"]
    # the field may be named by its standard header too
    headers, rows = penalty_table({"decision_date": "决定作出时间"})
    rows[0][headers.index("行政处罚决定书文号")] = "昆市监处罚〔2025〕999号"
    report = ingest(node, write_rows(tmp_path / "q.csv", headers, rows), column_map=["决定作出时间=处罚决定日期"])
    assert report.accepted and last_subject(node)["map"] == ["决定作出时间=decision_date"]


def test_map_mistakes_are_named(node: Node, tmp_path: Path) -> None:
    headers, rows = penalty_table()
    path = write_rows(tmp_path / "p.csv", headers, rows)
    with pytest.raises(
        IngestUsageError,
        match=r"--map 处罚日期=decison_date: 'decison_date' is not a penalty field; did you mean decision_date",
    ):
        ingest(node, path, column_map=["处罚日期=decison_date"])
    with pytest.raises(IngestUsageError, match="expected 列名=value"):
        ingest(node, path, column_map=["处罚日期"])
    with pytest.raises(IngestRejected) as refused:  # a mapped column the file does not have
        ingest(node, path, column_map=["处罚时间=decision_date"])
    assert "--map 处罚时间: the header row has no such column" in str(refused.value)


def test_default_fills_a_column_the_department_does_not_send(node: Node, tmp_path: Path) -> None:
    headers, rows = penalty_table(drop=("severity",), n=2)
    path = write_rows(tmp_path / "p.csv", headers, rows)
    with pytest.raises(IngestRejected):
        ingest(node, path)
    report = ingest(node, path, defaults=["严重程度=一般"])
    assert report.accepted and report.counts.inserted == 2
    assert {r["severity"] for r in table_rows(node, "penalty")} == {"general"}
    assert last_subject(node)["defaults"] == ["严重程度=一般"]


def test_default_values_are_checked_like_cells(node: Node, tmp_path: Path) -> None:
    headers, rows = penalty_table(drop=("severity",))
    path = write_rows(tmp_path / "p.csv", headers, rows)
    with pytest.raises(IngestUsageError, match="--default 严重程度=很严重: "):
        ingest(node, path, defaults=["严重程度=很严重"])
    with pytest.raises(IngestUsageError, match="--default 严重度: '严重度' is not a penalty field; did you mean"):
        ingest(node, path, defaults=["严重度=一般"])


def test_header_row_skips_a_title_row(node: Node, tmp_path: Path) -> None:
    headers, rows = penalty_table(n=2)
    path = tmp_path / "titled.csv"
    with path.open("w", encoding="gb18030", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow(["昆明市市场监督管理局行政处罚信息（2025年第一季度）"])
        out.writerow([])
        out.writerow(headers)
        out.writerows(rows)
    with pytest.raises(IngestRejected, match="title row above the header"):
        ingest(node, path)
    report = ingest(node, path, header_row=3)
    assert report.accepted and report.counts.inserted == 2
    assert last_subject(node)["header_row"] == 3
    with pytest.raises(IngestError, match="--header-row 2: that row is empty"):
        ingest(node, path, header_row=2)
    with pytest.raises(IngestError, match="--header-row 40: the file has fewer rows"):
        ingest(node, path, header_row=40)


def test_header_row_in_a_workbook(node: Node, tmp_path: Path) -> None:
    from openpyxl import Workbook

    headers, rows = penalty_table()
    wb = Workbook()
    ws = wb.active
    ws.append(["行政处罚信息公示表"])
    ws.append(headers)
    for r in rows:
        ws.append(r)
    path = tmp_path / "titled.xlsx"
    wb.save(path)
    report = ingest(node, path, header_row=2)
    assert report.accepted and report.counts.inserted == 1


def test_rejects_file_carries_the_original_cells_and_the_rows_a_person_sees(node: Node, tmp_path: Path) -> None:
    headers, rows = penalty_table(n=3)
    headers = ["序号", *headers]
    rows = [[str(i + 1), *r] for i, r in enumerate(rows)]
    facts_at = headers.index("违法事实")
    rows[0][facts_at] = "第一行\n第二行"  # a quoted line break: the file's lines and the sheet's rows part
    date_at = headers.index("处罚决定日期")
    rows[2][date_at] = "2025-13-45"
    path = tmp_path / "p.csv"
    with path.open("w", encoding="gb18030", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow(["行政处罚信息"])
        out.writerow(headers)
        out.writerow(rows[0])
        out.writerow([])  # a blank row: counted by the sheet, not among the data rows
        out.writerow(rows[1])
        out.writerow(rows[2])
    report = ingest(node, path, skip_invalid=True, header_row=2)
    assert report.accepted and report.counts.inserted == 2 and report.counts.rejected == 1
    with Path(report.rejects_file).open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.reader(fh))
    assert lines[0] == ["表格行号", "数据行号", "文件行号", "问题", *headers]
    sheet_row, data_row, file_line, problems, *cells = lines[1]
    # sheet row 6 (title, header, row, blank, row, this one), the third data row, line 7 of the file
    assert (sheet_row, data_row, file_line) == ("6", "3", "7")
    assert problems.startswith("decision_date: ")
    assert cells == rows[2]


def test_a_corrected_rejects_file_is_ingested_as_it_is(node: Node, tmp_path: Path) -> None:
    headers, rows = penalty_table(n=2)
    rows[1][headers.index("处罚决定日期")] = "2025-13-45"
    report = ingest(node, write_rows(tmp_path / "p.csv", headers, rows), skip_invalid=True)
    rejects = Path(report.rejects_file)
    with rejects.open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.reader(fh))
    lines[1][4 + headers.index("处罚决定日期")] = "2025-03-01"
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(lines)
    again = ingest(node, fixed)
    assert again.accepted and again.counts.inserted == 1 and again.warning_count == 0


def test_rejects_of_a_workbook_show_cells_as_the_sheet_does(node: Node, tmp_path: Path) -> None:
    from openpyxl import Workbook

    headers, rows = penalty_table(n=2)
    wb = Workbook()
    ws = wb.active
    ws.append(headers)
    date_at = headers.index("处罚决定日期")
    first: list[Any] = list(rows[0])
    first[date_at] = datetime(2025, 3, 1)
    second: list[Any] = list(rows[1])
    second[headers.index("处罚类别")] = "没有这种处罚"
    second[date_at] = datetime(2025, 3, 2)
    ws.append(first)
    ws.append([None] * len(headers))
    ws.append(second)
    path = tmp_path / "p.xlsx"
    wb.save(path)
    report = ingest(node, path, skip_invalid=True)
    with Path(report.rejects_file).open(encoding="utf-8-sig", newline="") as fh:
        lines = list(csv.reader(fh))
    assert lines[1][:3] == ["4", "2", "4"]
    assert lines[1][4 + date_at] == "2025-03-02"


def test_a_free_text_default_is_withheld_from_the_log(node: Node, tmp_path: Path) -> None:
    headers, rows = penalty_table()
    path = write_rows(tmp_path / "p.csv", headers, rows)
    report = ingest(node, path, defaults=["备注=由市场监管局统一补录"])
    assert report.accepted
    assert last_subject(node)["defaults"] == ["备注=(withheld)"]  # not a hash: an ID number's would be reversible


def test_refusals_read_in_chinese_and_stay_english_for_the_log(node: Node, tmp_path: Path) -> None:
    from nodekit import i18n

    headers, rows = penalty_table()
    path = write_rows(tmp_path / "p.csv", headers, rows)
    with pytest.raises(IngestError) as refused:
        ingest(node, path, header_row=40)
    assert str(refused.value) == "p.csv:40: (file): --header-row 40: the file has fewer rows"
    with pytest.raises(IngestUsageError) as usage:
        ingest(node, path, defaults=["严重程度=很严重"])
    with i18n.speaking("zh_CN"):
        assert refused.value.shown() == "p.csv:40: (file): --header-row 40：文件的行数不够"
        assert usage.value.shown().startswith("--default 严重程度=很严重：'很严重' 不是以下之一：")
    assert str(usage.value).startswith("--default 严重程度=很严重: '很严重' is not one of ")
