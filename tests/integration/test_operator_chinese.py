"""The new operator's walkthrough in Chinese (issue 18 point 13, docs/adr/0016-operator-language.md): the
commands of docs/OPERATIONS.md's first exchange, run with ``--lang zh_CN``, leave no line of their output
in English. Commands, options, paths, codes and digests are not English prose: what is in backticks, a
path, an option and a hex or UUID token is taken out before looking for a run of three English words."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from internal_node.sample_data import make_uscc
from tests.helpers import CliResult
from tests.integration.operator_support import USCC, Pair, penalty

pytestmark = pytest.mark.db

ZH = ("--lang", "zh_CN")
# what is not prose: `code`, an option, a path or file name, a hex digest / fingerprint group, a UUID, a
# time stamp, a program name, a reason code like medium-full, a KEY=VALUE or NAME=1
_NOT_PROSE = re.compile(
    r"`[^`]*`"
    r"|--?[A-Za-z][\w-]*(?:=\S*)?"
    r"|\S*[/\\]\S*"
    r"|\b[\w.-]+\.(?:jsonl|json|csv|xlsx|cgp|card|toml|log|db|txt|dat)\b"
    r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
    r"|\b[0-9a-f]{4,}\b"
    r"|\b\d{4}-\d\d-\d\dT[\d:.]+Z?\b"
    r"|\b(?:internal-node|public-node|argon2id|sqlite|postgresql|SHA-256|UTC|JSON|CSV)\b"
    r"|\b[a-z]+(?:-[a-z]+)+\b"
    r"|\b[A-Z_]+=\S*"
    r"|\b[a-z]+_[a-z_]+\b"
    r"|\b(?:subject|licence|penalty|commitment)\b"  # record kinds: the codes `ingest --kind` takes
    r"|\b\w+(?:\.\w+)+\b"
    r'|"[^"]*"'
)
# three English words in a row, whatever digits or punctuation (but no Chinese) stand between them
_ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?:[^A-Za-z\u3000-\u9fff\uff00-\uffef]+[A-Za-z]{2,}\b){2,}")


def english_lines(text: str) -> list[str]:
    """The lines of ``text`` holding a run of three or more English words outside commands and codes."""
    return [line for line in text.splitlines() if _ENGLISH_RUN.search(_NOT_PROSE.sub(" ", line))]


def test_the_detector_catches_english_and_spares_commands() -> None:
    assert english_lines("已导出 3 条记录\n  next: run the export") == ["  next: run the export"]
    assert english_lines("下一步：`internal-node export --expect DIGEST --peer 0`") == []
    assert english_lines("已将身份卡写入 /tmp/a b/internal.card  指纹 8b58 d57f 01aa") == []
    assert english_lines("原因 medium-full，见 docs/OPERATIONS.md") == []
    assert english_lines("sealed seq 1 (2141 bytes, checkpoint 1)") == ["sealed seq 1 (2141 bytes, checkpoint 1)"]
    assert english_lines('    row.legal_rep: "张三"') == []


def zh(r: CliResult, what: str, code: int | None = 0, data: str | None = None) -> CliResult:
    """``r`` exited ``code`` and has no English line (but those ``data`` matches: values, not prose)."""
    assert code is None or r.code == code, (what, r.code, r.out, r.err)
    english = [x for x in english_lines(r.out) + english_lines(r.err) if not (data and re.match(data, x))]
    assert not english, (what, english, r.out, r.err)
    return r


def test_the_walkthrough_in_chinese_has_no_english_line(tmp_path: Path, database_factory: Callable[[str], str]) -> None:
    medium = tmp_path / "medium"
    medium.mkdir()
    pair = Pair(tmp_path, tmp_path / "internal", tmp_path / "public", medium)
    i, p = pair.i, pair.p
    urls = (database_factory("int"), database_factory("pub"))
    zh(i(*ZH, "init", "--name", "city-internal", "--medium", str(medium), "--database-url", urls[0]), "internal init")
    zh(p(*ZH, "init", "--name", "city-public", "--medium", str(medium), "--database-url", urls[1]), "public init")
    zh(i(*ZH, "keys", "init"), "internal keys init")
    zh(p(*ZH, "keys", "init"), "public keys init")
    zh(i(*ZH, "keys", "export-card", "-o", str(tmp_path / "internal.card")), "export-card")
    zh(p(*ZH, "keys", "export-card", "-o", str(tmp_path / "public.card")), "export-card")
    fp_i = str(i("keys", "show", "--json").json()["key_id"])  # type: ignore[index]
    fp_p = str(p("keys", "show", "--json").json()["key_id"])  # type: ignore[index]
    wrong = ("0" if fp_i[0] != "0" else "1") + fp_i[1:]
    r = zh(p(*ZH, "keys", "trust", str(tmp_path / "internal.card"), "--fingerprint", wrong), "mismatch", code=4)
    assert "指纹不符" in r.err
    zh(p(*ZH, "keys", "trust", str(tmp_path / "internal.card"), "--fingerprint", fp_i), "public trusts")
    zh(i(*ZH, "keys", "trust", str(tmp_path / "public.card"), "--fingerprint", fp_p), "internal trusts")
    zh(i(*ZH, "keys", "show"), "keys show")
    r = zh(i(*ZH, "keys", "rotate", pw="not the passphrase"), "wrong passphrase", code=4)
    assert "口令错误" in r.err
    zh(i(*ZH, "keys", "list"), "keys list")

    source = ("--kind", "penalty", "--source", "昆明市市场监督管理局", "--source-uscc", USCC[1])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(penalty(9, party_uscc=USCC[0][:-1] + "0"), ensure_ascii=False) + "\n", encoding="utf-8")
    r = zh(i(*ZH, "ingest", str(bad), *source), "ingest refused", code=3)
    assert "已拒收" in r.err
    f = tmp_path / "p.jsonl"
    rows = [penalty(n) for n in range(3)] + [
        penalty(3, party_uscc=make_uscc("91", "530102", "MA6K3X7Q", bad_org_check=True))
    ]
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    r = zh(i(*ZH, "ingest", str(f), *source), "ingest with a GB 11714 warning")
    assert "仅为警告" in r.out + r.err
    zh(i(*ZH, "sample-data", "--subjects", "5", "--out", str(tmp_path / "sample")), "sample-data")
    zh(i(*ZH, "export", "--dry-run"), "export --dry-run")
    digest = pair.digest()
    zh(i(*ZH, "export", "--expect", digest), "export")
    package = next(medium.rglob("*.cgp"))
    # the signed header's own fields, as docs/FORMAT.md names them, are shown as they are
    zh(p(*ZH, "transfer", "inspect", str(package)), "transfer inspect", data=r"  [a-z_]+ {2,}\S")
    zh(p(*ZH, "import"), "import")
    zh(p(*ZH, "export"), "public export (receipts)")
    zh(i(*ZH, "import"), "internal import (receipts)")
    zh(i(*ZH, "status"), "internal status")
    assert zh(i(*ZH, "applications", "list"), "applications list").out.strip() == "没有申请"
    zh(p(*ZH, "status"), "public status")
    zh(i(*ZH, "audit", "verify"), "internal audit verify")
    zh(p(*ZH, "audit", "verify"), "public audit verify")
    zh(i(*ZH, "audit", "reconcile"), "internal audit reconcile")
    zh(i(*ZH, "channel", "recover", "--reason", "演练"), "channel recover plan", code=None)
