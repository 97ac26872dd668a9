"""Helpers for the ingest tests: one valid row per kind, writers for every file format and encoding,
and readers of what the node database holds."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from internal_node import SPEC
from internal_node.columns import KINDS
from internal_node.models import Base
from internal_node.sample_data import DEPARTMENTS, make_resident_id, make_uscc
from nodekit.models import TransferLogRow
from nodekit.runtime import Node, init_home
from tests.conftest import FIXED_NOW

SAMR = DEPARTMENTS["samr"]
FIRM_USCC = "91350100M000100Y43"  # the standard's own example
FIRM2_USCC = "91350200776049653A"
SHOP_USCC = make_uscc("92", "530102", "MA000001")
PERSON_ID = "11010519491231002X"  # GB 11643's example
MINOR_ID = make_resident_id("530102", date(2012, 5, 1), 21)


def base_rows() -> dict[str, dict[str, Any]]:
    """One valid row per kind, by English field name (values as a department would write them)."""
    party = {
        "party_name": "昆明滇池科技有限公司",
        "party_category": "法人及非法人组织",
        "party_uscc": FIRM_USCC,
        "legal_rep": "张三",
    }
    common = {"source_unit": SAMR.name, "source_unit_uscc": SAMR.uscc}
    return {
        "subject": {
            "name": "昆明滇池科技有限公司",
            "category": "法人及非法人组织",
            "uscc": FIRM_USCC,
            "legal_rep": "张三",
            "legal_rep_id_type": "身份证",
            "legal_rep_id_no": PERSON_ID,
            "registration_authority": SAMR.name,
            "address": "云南省昆明市五华区人民中路1号",
            "phone": "0871-63000000",
            **common,
        },
        "licence": {
            **party,
            "decision_doc_title": "食品经营许可决定书",
            "decision_doc_no": "昆市监食许〔2025〕1号",
            "licence_category": "普通",
            "certificate_name": "食品经营许可证",
            "licence_no": "JY15301002500001",
            "content": "预包装食品销售（含冷藏冷冻食品）",
            "decision_date": "2025-03-01",
            "valid_from": "2025-03-01",
            "valid_to": "2030-02-28",
            "authority": SAMR.name,
            "authority_uscc": SAMR.uscc,
            "licence_status": "1",
            **common,
        },
        "penalty": {
            **party,
            "decision_no": "昆市监处罚〔2025〕1号",
            "violation_type": "侵犯商业秘密",
            "violation_facts": "以不正当手段获取权利人的商业秘密。",
            "legal_basis": "《中华人民共和国反不正当竞争法》第二十一条",
            "penalty_types": "罚款;没收违法所得",
            "content": "罚款人民币五万元，没收违法所得",
            "fine_amount": "5",
            "confiscation_amount": "1.2345",
            "decision_date": "2025-03-01",
            "severity": "一般",
            "authority": SAMR.name,
            "authority_uscc": SAMR.uscc,
            **common,
        },
        "list_entry": {
            **party,
            "list_type": "严重失信主体名单",
            "list_name": "严重失信主体名单",
            "reason": "拒不履行法院生效判决",
            "basis": "国办发〔2020〕49号",
            "deciding_dept": DEPARTMENTS["ndrc"].name,
            "doc_no": "昆发改信用〔2025〕1号",
            "listed_date": "2025-04-01",
            "valid_until": "2028-03-31",
            **common,
        },
        "commitment": {
            **party,
            "commitment_code": "53010020250301000001",
            "commitment_type": "审批替代型",
            "matter": "申请食品经营许可告知承诺审批",
            "content": "本单位承诺已经符合告知的条件。",
            "commitment_date": "2025-03-01",
            "valid_until": "2026-02-28",
            "fulfilment": "全部履行",
            "accepting_unit": DEPARTMENTS["zwfw"].name,
            **common,
        },
        "gov_credit": {
            "record_no": "ZWCX-2025-000001",
            "department": DEPARTMENTS["housing"].name,
            "department_uscc": DEPARTMENTS["housing"].uscc,
            "credit_area": "商务诚信",
            "item_type": "拖欠企业账款",
            "title": "拖欠工程款",
            "counterparty": "昆明滇池科技有限公司",
            "counterparty_uscc": FIRM_USCC,
            "amount": "123.45",
            "occurred_date": "2024-01-10",
            "due_date": "2024-03-10",
            "outcome": "已清偿",
            "resolved_date": "2024-06-01",
            **common,
        },
    }


def row(kind: str, **changes: Any) -> dict[str, Any]:
    """The base row of ``kind`` with ``changes`` (a value of None removes the field)."""
    data = {**base_rows()[kind], **changes}
    return {k: v for k, v in data.items() if v is not None}


def header_of(kind: str, name: str, style: str) -> str:
    return KINDS[kind].by_name[name].label if style == "zh" else name


def columns_of(kind: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    names = {n for r in rows for n in r}
    return [f.name for f in KINDS[kind].fields if f.name in names]


def write_csv(
    path: Path, kind: str, rows: Sequence[dict[str, Any]], *, encoding: str = "utf-8", style: str = "zh"
) -> Path:
    cols = columns_of(kind, rows)
    with path.open("w", encoding=encoding, newline="") as fh:
        out = csv.writer(fh)
        out.writerow([header_of(kind, c, style) for c in cols])
        for r in rows:
            out.writerow(["" if r.get(c) is None else str(r[c]) for c in cols])
    return path


def write_jsonl(path: Path, kind: str, rows: Sequence[dict[str, Any]], *, style: str = "en") -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({header_of(kind, k, style): v for k, v in r.items()}, ensure_ascii=False) + "\n")
    return path


def write_xlsx(path: Path, kind: str, rows: Sequence[dict[str, Any]], *, style: str = "zh", raw: bool = False) -> Path:
    """An XLSX sheet; dates become real date cells and amounts numbers unless ``raw``."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Sheet1")
    cols = columns_of(kind, rows)
    ws.append([header_of(kind, c, style) for c in cols])
    for r in rows:
        cells: list[Any] = []
        for c in cols:
            value = r.get(c)
            spec = KINDS[kind].by_name[c]
            if not raw and isinstance(value, str) and spec.type == "date":
                value = datetime.strptime(value, "%Y-%m-%d")
            elif not raw and isinstance(value, str) and spec.type == "amount":
                value = float(value)
            cells.append(value)
        ws.append(cells)
    wb.save(path)
    return path


@contextmanager
def open_node(tmp_path: Path, database_url: str, name: str = "home") -> Iterator[Node]:
    node = init_home(tmp_path / name, SPEC, name="t", database_url=database_url, clock=lambda: FIXED_NOW)
    try:
        yield node
    finally:
        node.close()


def table_rows(node: Node, table: str) -> list[dict[str, Any]]:
    t = Base.metadata.tables[table]
    with node.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.id))]


def events(node: Node) -> list[TransferLogRow]:
    with node.sessions() as s:
        return list(s.scalars(select(TransferLogRow).order_by(TransferLogRow.index)))
