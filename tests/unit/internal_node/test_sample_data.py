"""The sample-data generator: deterministic by seed, realistic, and accepted whole by the ingest."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date
from pathlib import Path

import orjson
import pytest

from internal_node import SPEC
from internal_node import validate as v
from internal_node.sample_data import DEPARTMENTS, FILES, generate
from nodekit.runtime import Node
from tests.helpers import run_cli
from tests.unit.internal_node.ingest_support import events, open_node, table_rows

AS_OF = date(2026, 11, 1)


def age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    generate(tmp_path / "a", subjects=300, seed=11, as_of=AS_OF)
    generate(tmp_path / "b", subjects=300, seed=11, as_of=AS_OF)
    generate(tmp_path / "c", subjects=300, seed=12, as_of=AS_OF)
    a, b, c = digests(tmp_path / "a"), digests(tmp_path / "b"), digests(tmp_path / "c")
    assert a == b
    assert set(a) == {spec.name for spec in FILES} | {"manifest.json"}
    assert all(a[name] != c[name] for name in a if name != "manifest.json")


def test_files_cover_every_kind_format_and_encoding(tmp_path: Path) -> None:
    manifest = generate(tmp_path, subjects=400, seed=1, as_of=AS_OF)
    assert {m["kind"] for m in manifest} == {"subject", "licence", "penalty", "list_entry", "commitment", "gov_credit"}
    assert {m["format"] for m in manifest} == {"csv", "jsonl", "xlsx"}
    assert {m["encoding"] for m in manifest} >= {"utf-8", "utf-8-sig", "gb18030", None}
    assert len({m["source"] for m in manifest}) >= 7
    assert all(m["rows"] > 0 for m in manifest), manifest
    gbk = (tmp_path / "samr-penalties.gb18030.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        gbk.decode("utf-8")
    assert "行政处罚决定书文号" in gbk.decode("gb18030").splitlines()[0]
    assert (tmp_path / "samr-subjects.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert orjson.loads((tmp_path / "manifest.json").read_bytes()) == manifest


def test_department_codes_are_valid() -> None:
    for dept in DEPARTMENTS.values():
        assert v.check_uscc(dept.uscc) == dept.uscc and dept.uscc.startswith("11530100")


@pytest.mark.db
def test_sample_data_loads_whole_and_is_realistic(tmp_path: Path, database_url: str) -> None:
    with open_node(tmp_path, database_url) as node:
        home = node.config.home
    result = run_cli(
        "internal-node", "--home", str(home), "sample-data", "--subjects", "600", "--seed", "5", "--load", "--json"
    )
    assert result.code == 0, result.err
    doc = result.json()
    assert isinstance(doc, dict) and doc["ok"] and doc["out"] is None
    assert all(item["rejected"] == 0 for item in doc["loaded"])
    node = Node.open(home, SPEC)
    try:
        penalties = table_rows(node, "penalty")
        assert {p["severity"] for p in penalties} == {"minor", "general", "serious"}
        assert any(p["violation_type"] == "侵犯商业秘密" for p in penalties)
        assert len({p["authority"] for p in penalties}) >= 4
        assert any(p["held_reason"] for p in penalties)  # natural persons without an ID number
        subjects = {s["id"]: s for s in table_rows(node, "subject")}
        minors = [
            p
            for p in penalties
            if p["subject_id"]
            and subjects[p["subject_id"]]["birth_date"]
            and age(subjects[p["subject_id"]]["birth_date"], p["decision_date"]) < 18
        ]
        assert minors, "no penalty on a minor"
        lists = Counter(e["list_type"] for e in table_rows(node, "list_entry"))
        assert lists["red"] > 0 and lists["dishonest"] > 0
        assert table_rows(node, "commitment")
        items = {g["item_type"] for g in table_rows(node, "gov_credit")}
        assert {"arrears", "service_commitment", "procurement", "accountability"} <= items
        assert {s["category"] for s in subjects.values()} == {
            "legal_person",
            "individual_business",
            "natural_person",
            "government",
        }
        assert any(s["address"] and s["phone"] for s in subjects.values())
        assert len([e for e in events(node) if e.event == "ingest.accepted"]) == len(FILES)
    finally:
        node.close()


def test_sample_data_needs_a_destination() -> None:
    result = run_cli("internal-node", "sample-data", "--subjects", "5")
    assert result.code == 2 and "give --out DIR, or --load" in result.err


def test_sample_data_cli_writes_the_folder(tmp_path: Path) -> None:
    result = run_cli("internal-node", "sample-data", "--subjects", "50", "--seed", "2", "--out", str(tmp_path / "out"))
    assert result.code == 0, result.err
    assert "samr-penalties.gb18030.csv" in result.out
    assert (tmp_path / "out" / "manifest.json").is_file()
