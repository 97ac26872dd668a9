"""Two node homes made and driven only through the two programs, as an operator following
docs/OPERATIONS.md would (issue 18): passphrase-protected keys, cards trusted by fingerprint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tests.helpers import CliResult, run_cli

PW_I = "internal pass phrase"
PW_P = "public pass phrase"
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


@dataclass
class Pair:
    root: Path
    internal: Path
    public: Path
    medium: Path
    database_urls: tuple[str | None, str | None] = (None, None)

    def i(self, *args: str, pw: str = PW_I, env: dict[str, str | None] | None = None) -> CliResult:
        return run_cli(
            "internal-node", "--home", str(self.internal), *args, env={"CREDGAP_PASSPHRASE": pw, **(env or {})}
        )

    def p(self, *args: str, pw: str = PW_P, env: dict[str, str | None] | None = None) -> CliResult:
        return run_cli("public-node", "--home", str(self.public), *args, env={"CREDGAP_PASSPHRASE": pw, **(env or {})})

    def ingest(self, rows: list[dict[str, Any]], name: str = "p.jsonl") -> CliResult:
        f = self.root / name
        f.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
        return ok(self.i("ingest", str(f), "--kind", "penalty", "--source", "昆明市市场监督管理局",
                         "--source-uscc", AUTHORITY_USCC))  # fmt: skip

    def digest(self, peer: int = 0) -> str:
        doc = ok(self.i("export", "--dry-run", "--json")).json()
        assert isinstance(doc, dict)
        return str(doc["peers"][peer]["digest"])


def ok(r: CliResult) -> CliResult:
    assert r.code == 0, (r.code, r.out, r.err)
    return r


def fingerprint(r: CliResult) -> str:
    doc = r.json()
    assert isinstance(doc, dict)
    return str(doc["key_id"])


def make_pair(root: Path, database_urls: tuple[str | None, str | None] = (None, None)) -> Pair:
    """An internal and a public node home under ``root`` sharing ``root/medium``, each trusting the other."""
    medium = root / "medium"
    medium.mkdir()
    pair = Pair(root, root / "internal", root / "public", medium, database_urls)
    ia = ["--database-url", database_urls[0]] if database_urls[0] else []
    pa = ["--database-url", database_urls[1]] if database_urls[1] else []
    ok(pair.i("init", "--name", "city-internal", "--medium", str(medium), *ia))
    ok(pair.p("init", "--name", "city-public", "--medium", str(medium), *pa))
    ok(pair.i("keys", "init"))
    ok(pair.p("keys", "init"))
    ok(pair.i("keys", "export-card", "-o", str(root / "internal.card")))
    ok(pair.p("keys", "export-card", "-o", str(root / "public.card")))
    ok(
        pair.p(
            "keys", "trust", str(root / "internal.card"), "--fingerprint", fingerprint(pair.i("keys", "show", "--json"))
        )
    )
    ok(
        pair.i(
            "keys", "trust", str(root / "public.card"), "--fingerprint", fingerprint(pair.p("keys", "show", "--json"))
        )
    )
    return pair
