"""``internal-node ingest`` on the command line: exit codes, the problem listing, --json."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.unit.internal_node.ingest_support import SAMR, open_node, row, write_csv

pytestmark = pytest.mark.db


@pytest.fixture
def home(tmp_path: Path, database_url: str) -> str:
    with open_node(tmp_path, database_url) as node:
        return str(node.config.home)


def bad_rows(n: int) -> list[dict[str, object]]:
    return [row("penalty", decision_no=f"D-{i}", fine_amount="-1") for i in range(n)]


def test_accepted_file(home: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "penalty", [row("penalty")], encoding="gb18030")
    result = run_cli("internal-node", "--home", home, "ingest", str(path), "--kind", "penalty", "--source", SAMR.name)
    assert result.code == 0, result.err
    assert result.out.startswith(f"accepted p.csv (penalty, from {SAMR.name}; csv, gb18030): 1 row: 1 inserted")


def test_rejected_file_lists_problems_and_exits_3(home: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "penalty", bad_rows(60))
    result = run_cli("internal-node", "--home", home, "ingest", str(path), "--kind", "penalty", "--source", SAMR.name)
    assert result.code == 3
    lines = result.err.splitlines()
    assert lines[0] == "p.csv:2: fine_amount: amount must be ≥ 0, got -1"
    assert lines[49] == "p.csv:51: fine_amount: amount must be ≥ 0, got -1"
    assert lines[50] == "… and 10 more problems (--rejects FILE writes them all)"
    assert lines[51].startswith("internal-node: error: p.csv: rejected, nothing written: 60 of 60 rows invalid")


def test_rejected_file_as_json(home: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "penalty", [row("penalty"), *bad_rows(2)])
    result = run_cli(
        "internal-node", "--home", home, "ingest", str(path), "--kind", "penalty", "--source", SAMR.name, "--json"
    )
    assert result.code == 3
    doc = result.json()
    assert isinstance(doc, dict)
    assert doc["ok"] is False and doc["error"]["reason"] == "invalid-rows"
    assert doc["problems"] == [
        "p.csv:3: fine_amount: amount must be ≥ 0, got -1",
        "p.csv:4: fine_amount: amount must be ≥ 0, got -1",
    ]
    assert doc["counts"]["rows"] == 3 and doc["counts"]["inserted"] == 0


def test_skip_invalid_on_the_command_line(home: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "penalty", [row("penalty"), *bad_rows(1)])
    result = run_cli(
        "internal-node",
        "--home",
        home,
        "ingest",
        str(path),
        "--kind",
        "penalty",
        "--source",
        SAMR.name,
        "--skip-invalid",
    )
    assert result.code == 0, result.err
    assert "1 inserted, 0 updated, 0 unchanged, 1 rejected" in result.out
    assert f"rejected rows listed in {tmp_path / 'p.csv.rejects.csv'}" in result.out


def test_usage_errors_exit_2(home: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "penalty", [row("penalty")])
    unknown = run_cli("internal-node", "--home", home, "ingest", str(path), "--kind", "fines", "--source", "x")
    assert unknown.code == 2
    no_source = run_cli("internal-node", "--home", home, "ingest", str(path), "--kind", "penalty")
    assert no_source.code == 2
    bad_uscc = run_cli(
        "internal-node", "--home", home, "ingest", str(path), "--kind", "penalty", "--source", "x", "--source-uscc", "1"
    )
    assert bad_uscc.code == 2 and "--source/--source-uscc: USCC must be 18 characters" in bad_uscc.err


def test_ingest_options_on_the_command_line_in_chinese(home: str, tmp_path: Path) -> None:
    """--map, --default and --header-row from the command line; the summary in the operator's language
    says how the file was read, while --json and the transfer log stay English."""
    import csv

    from internal_node.columns import KINDS

    base = row("penalty")
    spec = KINDS["penalty"]
    names = [f.name for f in spec.fields if f.name in base and f.name != "severity"]
    headers = ["决定作出时间" if n == "decision_date" else spec.by_name[n].label for n in names]
    path = tmp_path / "p.csv"
    with path.open("w", encoding="gb18030", newline="") as fh:
        out = csv.writer(fh, lineterminator="\r\n")
        out.writerow(["行政处罚信息公示"])
        out.writerow(headers)
        out.writerow([str(base[n]) for n in names])
    args = ["--home", home, "ingest", str(path), "--kind", "penalty", "--source", SAMR.name, "--header-row", "2"]
    args += ["--map", "决定作出时间=decision_date", "--default", "严重程度=一般"]
    result = run_cli("internal-node", *args, env={"LANG": "zh_CN.UTF-8", "LC_ALL": None, "LANGUAGE": None})
    assert result.code == 0, result.err
    first, second = result.out.splitlines()[:2]
    assert first.startswith(f"已接收 p.csv（penalty，来自 {SAMR.name}；csv, gb18030）"), first
    assert "1 行" in first and "新增 1" in first
    assert second == "  读取方式：--header-row 2; --map 决定作出时间=decision_date; --default 严重程度=一般"
    again = run_cli("internal-node", "--lang", "zh_CN", *args, "--json")
    doc = again.json()
    assert isinstance(doc, dict)
    assert doc["read_with"] == {"header_row": 2, "map": ["决定作出时间=decision_date"], "defaults": ["严重程度=一般"]}
    assert doc["counts"]["unchanged"] == 1


def test_problems_in_chinese_while_json_stays_english(home: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", "penalty", bad_rows(2))
    args = ["--home", home, "ingest", str(path), "--kind", "penalty", "--source", SAMR.name]
    result = run_cli("internal-node", "--lang", "zh_CN", *args)
    assert result.code == 3
    lines = result.err.splitlines()
    assert lines[0] == "p.csv:2: fine_amount: 金额必须 ≥ 0，实际为 -1"
    assert lines[-1].startswith(
        "internal-node: 错误：p.csv：已拒收，未写入任何数据：2 行中有 2 行无效（第一个问题：p.csv:2:"
    )
    doc = run_cli("internal-node", "--lang", "zh_CN", *args, "--json").json()
    assert isinstance(doc, dict)
    assert doc["problems"][0] == "p.csv:2: fine_amount: amount must be ≥ 0, got -1"
    assert doc["error"]["message"].startswith("p.csv: rejected, nothing written: 2 of 2 rows invalid")
    rejects = tmp_path / "r.csv"
    assert run_cli("internal-node", "--lang", "zh_CN", *args, "--rejects", str(rejects)).code == 3
    assert "fine_amount: 金额必须 ≥ 0，实际为 -1" in rejects.read_text(encoding="utf-8-sig")
