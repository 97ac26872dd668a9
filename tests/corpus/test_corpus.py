"""The leak corpus of issue 14, end to end: every record kind, every ingest format (CSV UTF-8 and
GB18030, XLSX, JSON Lines), every free-text detector in several spellings, and legitimate texts that
must still be published. Ingest → dry run → export → the package opened with the public node's key →
a real public node's import; no restricted value, in any spelling, may appear in the preview, the
decrypted payload, or any file under the public node's home (its database included), and every
legitimate value must be published."""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from openpyxl import Workbook

from internal_node.export import export
from internal_node.ingest import ingest_file
from public_node.importer import import_packages
from tests.helpers import run_cli
from tests.integration.test_export import AUTHORITY_USCC, items_of
from tests.nodes import Home, trusted_pair
from tests.unit.internal_node.test_freetext import CARD16, CARD19, group

pytestmark = pytest.mark.db

# (restricted text as written, the digits or words that must never cross, in every spelling checked)
RESTRICTED = [
    ("经查，该案材料属机密级，详见内部通报", ["属机密级", "内部通报"]),
    ("相关秘密级文件已移交", ["秘密级文件"]),
    ("案卷中包含涉密材料", ["涉密材料"]),
    ("相关内容已列为绝密", ["列为绝密"]),
    ("该文件属于国家秘密材料", ["国家秘密材料"]),
    ("举报人身份证号1101 0519 4912 3100 2X", ["11010519491231002X", "1101 0519 4912 3100 2X"]),
    ("身份证号110105.19491231.002X", ["110105.19491231.002X"]),
    ("联系电话13812345678", ["13812345678"]),
    ("手机+86 139 1234 5678", ["13912345678", "139 1234 5678"]),
    ("电话 159-8765-4321", ["15987654321", "159-8765-4321"]),
    (f"转入其个人银行卡{CARD16}", [CARD16]),
    (f"收款账号{group(CARD19, 4)}", [CARD19, group(CARD19, 4)]),
    ("当事人护照号码E12345678", ["E12345678"]),
    ("往来港澳通行证C87654321", ["C87654321"]),
    ("台湾居民来往大陆通行证号码12345678", ["通行证号码12345678"]),
    ("住所地为翠湖小区3栋2单元501室", ["3栋2单元501室"]),
    ("家住金碧花园12幢1单元1202号", ["12幢1单元1202号"]),
    ("证人王建国、李秀英在场", ["王建国", "李秀英"]),
    # more spellings: the fold (full-width digits), zero-width characters, hyphens, 0086, more phrasings
    ("本案材料属于机密，不予公开", ["属于机密"]),
    ("涉及涉密信息的部分已删除", ["涉密信息"]),
    ("附件为内部资料", ["内部资料"]),
    ("联系电话１３８１２３４５６７８", ["１３８１２３４５６７８"]),
    ("手机0086-138-1234-5678", ["138-1234-5678"]),
    ("身份证号110105\u200b19491231\u200b002X", ["110105\u200b19491231\u200b002X"]),
    ("身份证号110105-1949-1231-002X", ["110105-1949-1231-002X"]),
    ("来往内地通行证H12345678", ["H12345678"]),
    ("其雇佣的未成年人刘小明（13岁）从事危险作业", ["刘小明"]),
]
LEGITIMATE = [
    "在其网店页面对商品的功能作虚假的商业宣传，欺骗、误导消费者",
    "《中华人民共和国食品安全法》第一百二十四条第一款",
    "罚款人民币50000元，没收违法所得12345.67元",
    "经营场所位于昆明市高新区海源北路1520号",
    "当事人侵犯他人商业秘密，违反《反不正当竞争法》第九条",
    "违规复制绝密档案",
    "单位联系电话0871-64123456",
    "当事人张某、李某某已缴清罚款",
    "预包装食品销售（含冷藏冷冻食品）",
    "承诺所提交的信息真实、准确、完整",
    "拖欠工程款项，已列入清欠计划",
    "拒不履行法院生效判决确定的给付义务",
]
OWN_NAME = "赵德明"  # a natural person's own name in their record's text: masked, as the name field is

COMMON = {"source_unit": "昆明市市场监督管理局", "source_unit_uscc": AUTHORITY_USCC}
FIRM = {"party_name": "昆明语料科技有限公司", "party_category": "legal_person", "party_uscc": "91350100M000100Y43"}


def penalty(n: int, facts: str, content: str = "罚款人民币五万元", **over: Any) -> dict[str, Any]:
    return {**COMMON, **FIRM, "decision_no": f"昆市监罚〔2026〕{n}号", "violation_type": "虚假宣传",
            "violation_facts": facts, "legal_basis": "《中华人民共和国广告法》第五十五条", "penalty_types": "fine",
            "content": content, "decision_date": "2026-10-01", "severity": "general", "authority": "昆明市市场监督管理局",
            "authority_uscc": AUTHORITY_USCC, **over}  # fmt: skip


def licence(n: int, content: str) -> dict[str, Any]:
    return {**COMMON, **FIRM, "decision_doc_title": "食品经营许可决定书", "decision_doc_no": f"昆市监许〔2026〕{n}号",
            "licence_category": "ordinary", "content": content, "decision_date": "2026-10-01",
            "valid_from": "2026-10-01", "authority": "昆明市市场监督管理局", "authority_uscc": AUTHORITY_USCC}  # fmt: skip


def list_entry(n: int, reason: str) -> dict[str, Any]:
    return {**COMMON, **FIRM, "list_type": "dishonest", "reason": reason, "basis": "《失信被执行人名单信息公布办法》",
            "deciding_dept": "昆明市中级人民法院", "doc_no": f"（2026）云01执{n}号", "listed_date": "2026-10-01"}  # fmt: skip


def commitment(n: int, content: str) -> dict[str, Any]:
    return {**COMMON, **FIRM, "commitment_code": f"5301002026100100{n:04d}", "commitment_type": "certification",
            "matter": "办理证明事项告知承诺", "content": content, "commitment_date": "2026-10-01",
            "accepting_unit": "昆明市五华区政务服务中心"}  # fmt: skip


def gov_credit(n: int, description: str) -> dict[str, Any]:
    return {**COMMON, "record_no": f"ZWCX-{n:06d}", "department": "昆明市某区住房和城乡建设局",
            "department_uscc": AUTHORITY_USCC, "credit_area": "commercial", "item_type": "arrears",
            "title": "拖欠企业工程款", "description": description, "occurred_date": "2026-10-01"}  # fmt: skip


def penalty_content(n: int, content: str) -> dict[str, Any]:
    """The text in 处罚内容 rather than 违法事实: the hidden corpus found leaks in both."""
    return penalty(n, "在其网站发布虚假广告", content=content)


# one batch per free-text field the hidden corpus leaked through (违法事实, 处罚内容, 许可内容, 列入事由,
# commitment and government-credit text), each in its own file format
BUILDERS = {"penalty": penalty, "penalty_content": penalty_content, "licence": licence, "list_entry": list_entry,
            "commitment": commitment, "gov_credit": gov_credit}  # fmt: skip
KIND = {"penalty_content": "penalty"}
FORMATS = {"penalty": "csv-utf8", "penalty_content": "xlsx", "licence": "csv-gb18030", "list_entry": "xlsx",
           "commitment": "jsonl", "gov_credit": "csv-utf8"}  # fmt: skip


def write(path: Path, fmt: str, rows: list[dict[str, Any]]) -> Path:
    cols = sorted({k for r in rows for k in r})
    if fmt == "jsonl":
        path = path.with_suffix(".jsonl")
        path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    elif fmt == "xlsx":
        path = path.with_suffix(".xlsx")
        wb = Workbook()
        ws = wb.active
        assert ws is not None
        ws.append(cols)
        for r in rows:
            ws.append([r.get(c) for c in cols])
        wb.save(path)
    else:
        path = path.with_suffix(".csv")
        with path.open("w", encoding="gb18030" if fmt == "csv-gb18030" else "utf-8", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(cols)
            out.writerows([[r.get(c, "") for c in cols] for r in rows])
    return path


@pytest.fixture
def pair(tmp_path: Path, database_factory: Any) -> Iterator[tuple[Home, Home, Path]]:
    a, b, _, _ = trusted_pair(tmp_path, database_factory)
    yield a, b, tmp_path
    a.node.close()
    b.node.close()


def public_bytes(home: Home) -> bytes:
    """Every file under the public node's home, and its database when that is not a file."""
    out = b"".join(p.read_bytes() for p in sorted(home.node.config.home.rglob("*")) if p.is_file())
    url = home.node.config.database_url
    if not url.startswith("sqlite"):
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        out += subprocess.run(["pg_dump", "--data-only", plain], capture_output=True, check=True).stdout
    return out


def test_the_corpus(pair: Any) -> None:
    a, b, tmp = pair
    n = 0
    legit_rows: list[str] = []
    for batch, build in BUILDERS.items():
        rows = []
        for text, _ in RESTRICTED:
            n += 1
            rows.append(build(n, text))
        for text in LEGITIMATE:
            n += 1
            rows.append(build(n, text))
            legit_rows.append(text)
        f = write(tmp / f"corpus-{batch}", FORMATS[batch], rows)
        ingest_file(a.node, f, kind=KIND.get(batch, batch), source="昆明市市场监督管理局", source_uscc=AUTHORITY_USCC)
    person = {"party_name": OWN_NAME, "party_category": "natural_person", "party_id_no": "11010519491231002X"}
    f = write(tmp / "own-name", "jsonl", [{**penalty(999, f"{OWN_NAME}于2026年9月销售过期食品"), **person}])
    ingest_file(a.node, f, kind="penalty", source="昆明市市场监督管理局", source_uscc=AUTHORITY_USCC)

    dry = run_cli("internal-node", "--home", str(a.node.config.home), "export", "--dry-run", "--json")
    assert dry.code == 0, dry.err
    [peer] = dry.json()["peers"]  # type: ignore[index]
    assert sum(c["held"] for c in peer["summary"].values()) == len(RESTRICTED) * len(BUILDERS)
    preview = orjson.dumps(peer["items"]).decode()
    payload = orjson.dumps(items_of(export(a.node, a.identity).sent[0].archive, b)).decode()
    assert [o.result for o in import_packages(b.node, b.identity)] == ["applied"]
    public = public_bytes(b)
    for text, spellings in RESTRICTED:
        for value in {text, *spellings}:
            assert value not in preview, value
            assert value not in payload, value
            for encoding in ("utf-8", "utf-16-le", "gb18030"):
                assert value.encode(encoding) not in public, (value, encoding)
    for text in LEGITIMATE:
        assert payload.count(orjson.dumps(text).decode()) == len(BUILDERS), f"not published everywhere: {text}"
    assert OWN_NAME not in payload and "赵**于2026年9月销售过期食品" in payload
