"""What goes wrong, in Chinese (issue 18 point 13, docs/adr/0016-operator-language.md): the operator's
paths when something fails — a wrong passphrase, a tampered package quarantined, ``transfer inspect`` of
bad packages, ``audit reconcile`` with a damaged copy, ``status`` with a package not delivered, a damaged
key file, a bad ``node.toml``, an edited transfer log, the metrics textfile that cannot be written — run
with ``--lang zh_CN``, leave no line of English prose on stdout or stderr (the detector of
test_operator_chinese). ``--json`` and node.log keep their English text."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import CliResult
from tests.integration.operator_support import Pair, make_pair, ok, penalty
from tests.integration.test_operator_chinese import ZH, english_lines

pytestmark = pytest.mark.db

_CJK = re.compile(r"[\u4e00-\u9fff]")


def _flip(src: Path, dst: Path, at: int) -> Path:
    data = bytearray(src.read_bytes())
    data[at] ^= 0x01
    dst.write_bytes(bytes(data))
    return dst


class Untranslated:
    """Every English line of the commands run, gathered so that one run lists them all."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def __call__(self, r: CliResult, what: str, code: int | None = 0, data: str | None = None) -> CliResult:
        assert code is None or r.code == code, (what, r.code, r.out, r.err)
        self.found += [
            (what, x) for x in english_lines(r.out) + english_lines(r.err) if not (data and re.match(data, x))
        ]
        return r

    def check(self) -> None:
        assert not self.found, "\n".join(f"{what}: {line}" for what, line in self.found)


@pytest.fixture
def zh() -> Iterator[Untranslated]:
    found = Untranslated()
    yield found
    found.check()


@pytest.fixture
def pair(tmp_path: Path, database_factory: Callable[[str], str]) -> Pair:
    return make_pair(tmp_path, (database_factory("int"), database_factory("pub")))


def test_a_rejected_package_inspected_reconciled_and_in_status_speaks_chinese(
    pair: Pair, tmp_path: Path, zh: Untranslated
) -> None:
    i, p = pair.i, pair.p
    pair.ingest([penalty(1)])
    ok(i("export"))
    [package] = pair.medium.rglob("*.cgp")
    original = package.read_bytes()
    keep = tmp_path / "original.cgp"
    keep.write_bytes(original)

    # bad packages of every stage, as security staff inspect them
    junk = tmp_path / "junk.cgp"
    junk.write_bytes(b"not a package at all\n" * 4)
    truncated = tmp_path / "truncated.cgp"
    truncated.write_bytes(original[:200])
    header_flip = _flip(keep, tmp_path / "header.cgp", 40)
    payload_flip = _flip(keep, tmp_path / "payload.cgp", len(original) - 30)
    for bad in (junk, truncated, header_flip, payload_flip):
        r = zh(p(*ZH, "transfer", "inspect", str(bad)), f"inspect {bad.name}", code=4, data=r"  [a-z_]+ {2,}\S")
        assert _CJK.search(r.err), r.err
        assert "does not verify" not in r.err, r.err
    r = p("transfer", "inspect", str(payload_flip), "--json")  # --json keeps the English message and code
    assert r.code == 4 and not _CJK.search(r.out) and json.loads(r.out)["reason"] == "bad-ciphertext"

    # the tampered copy on the medium: quarantined on import, listed by status, reconciled as damaged
    package.write_bytes(payload_flip.read_bytes())
    r = zh(p(*ZH, "import"), "import of a tampered package", code=4)
    assert "bad-ciphertext" in r.out + r.err
    zh(p(*ZH, "status"), "public status with a quarantined package")
    zh(p(*ZH, "export"), "public export (its receipt)")
    zh(i(*ZH, "import"), "internal import (the receipt)")
    r = zh(i(*ZH, "audit", "reconcile"), "reconcile with a damaged copy", code=5)
    assert "export --resend 1" in r.out + r.err
    r = i("audit", "reconcile", "--json")
    assert not _CJK.search(r.out) and "internal-node export --resend 1" in r.out  # the action stays English

    # an edited transfer log
    from sqlalchemy import create_engine, text

    url = pair.database_urls[0]
    assert url is not None
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text('UPDATE transfer_log SET actor = :a WHERE "index" = 1'), {"a": "operator:mallory"})
    engine.dispose()
    zh(i(*ZH, "audit", "verify"), "audit verify of an edited log", code=4)


def test_undelivered_bad_keys_bad_config_and_metrics_speak_chinese(
    pair: Pair, tmp_path: Path, zh: Untranslated
) -> None:
    i, p = pair.i, pair.p
    pair.ingest([penalty(1)])
    away = tmp_path / "away"
    pair.medium.rename(away)
    zh(i(*ZH, "export"), "export with the medium missing", code=1)
    zh(i(*ZH, "status"), "status with a package not delivered")
    zh(i(*ZH, "status", "--check"), "status --check with the medium missing", code=None)
    away.rename(pair.medium)

    # a wrong passphrase, on both sides
    zh(p(*ZH, "import", pw="not the passphrase"), "import with a wrong passphrase", code=4)
    zh(i(*ZH, "export", pw="not the passphrase"), "export with a wrong passphrase", code=4)

    # a damaged private-key file
    [keyfile] = (pair.internal / "keys").glob("*.key")
    saved = keyfile.read_bytes()
    keyfile.chmod(0o600)
    keyfile.write_bytes(saved[: len(saved) // 2])
    r = zh(i(*ZH, "export"), "a truncated key file", code=None)
    assert r.code != 0 and _CJK.search(r.err), r.err
    keyfile.write_bytes(saved.replace(b'"', b"'", 1))
    r = zh(i(*ZH, "keys", "rotate"), "a key file that is not JSON", code=None)
    assert r.code != 0 and _CJK.search(r.err), r.err
    keyfile.write_bytes(saved)

    # a passphrase file others can read: a warning, the command still runs
    pwfile = tmp_path / "pass.txt"
    pwfile.write_text("internal pass phrase\n", encoding="utf-8")
    pwfile.chmod(0o644)
    r = zh(i(*ZH, "--passphrase-file", str(pwfile), "keys", "rotate", env={"CREDGAP_PASSPHRASE": None}), "pw file")
    assert "口令文件可被同组或其他用户读取" in r.err, r.err
    pwfile.write_text("", encoding="utf-8")
    zh(i(*ZH, "--passphrase-file", str(pwfile), "export", env={"CREDGAP_PASSPHRASE": None}), "empty pw", code=2)

    # an identity card that is not one
    card = tmp_path / "bad.card"
    card.write_text('{"type": "credgap-card"}', encoding="utf-8")
    zh(p(*ZH, "keys", "trust", str(card), "--fingerprint", "00" * 16), "a bad card", code=3)

    # key statements that are not one: not JSON, not canonical, of another type
    statement = tmp_path / "bad.statement"
    for text in ("{not json", '{"b": 1, "a": 2}', '{"type":"credgap-card","v":1}'):
        statement.write_text(text, encoding="utf-8")
        r = zh(p(*ZH, "keys", "apply-statement", str(statement)), f"a bad statement {text}", code=None)
        assert r.code == 3 and _CJK.search(r.err), r.err

    # a bad node.toml: an unknown key, then a value of the wrong type
    toml = pair.internal / "node.toml"
    good = toml.read_text(encoding="utf-8")
    toml.write_text(good + "\nmediun = 1\n", encoding="utf-8")
    zh(i(*ZH, "status"), "node.toml with an unknown key", code=2)
    toml.write_text(good + "\n[exchang]\n", encoding="utf-8")
    r = zh(i(*ZH, "status"), "node.toml with an unknown table", code=2)
    assert "是否想写 'exchange'" in r.err, r.err
    assert 'period = "1d"' in good
    toml.write_text(good.replace('period = "1d"', "period = 12", 1), encoding="utf-8")
    r = zh(i(*ZH, "status"), "node.toml with a value of the wrong type", code=2)
    assert "时长字符串" in r.err, r.err
    toml.write_text(good.replace('period = "1d"', 'period = "soon"', 1), encoding="utf-8")
    zh(i(*ZH, "status"), "node.toml with a duration that is not one", code=2)
    toml.write_text("this is = not toml [", encoding="utf-8")
    r = zh(i(*ZH, "status"), "node.toml that is not TOML", code=2)
    assert "不是有效的 TOML（第 1 行" in r.err, r.err
    toml.write_text(good, encoding="utf-8")
    shutil.rmtree(pair.public / "keys")
    zh(p(*ZH, "import"), "import with no keys", code=None)


def test_the_metrics_warning_speaks_chinese(
    pair: Pair, tmp_path: Path, zh: Untranslated, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The textfile is written after the command, outside its run: in the language the command spoke."""
    from internal_node.cli import main

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("CREDGAP_METRICS_TEXTFILE", str(blocked / "credgap.prom"))
    monkeypatch.setenv("CREDGAP_PASSPHRASE", "internal pass phrase")
    monkeypatch.setattr(sys, "argv", ["internal-node", *ZH, "--home", str(pair.internal), "status"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0
    out, err = capsys.readouterr()
    zh(CliResult(0, out, err), "status with a textfile that cannot be written")
    assert "internal-node: 警告：" in err and str(blocked) in err, err


def test_administrators_and_backups_speak_chinese(pair: Pair, tmp_path: Path, zh: Untranslated) -> None:
    """The host-side commands: administrator accounts (the platform's catalogue) and a backup."""
    p, i = pair.p, pair.i
    r = zh(p(*ZH, "admin", "create", "zhao_aud", "--role", "auditor"), "admin create")
    assert "初始密码" in r.out, r.out
    zh(p(*ZH, "admin", "create", "zhao_aud", "--role", "auditor"), "admin create twice", code=2)
    r = zh(p(*ZH, "admin", "list"), "admin list")
    assert "未绑定 TOTP" in r.out, r.out
    zh(p(*ZH, "admin", "reset", "nobody"), "admin reset of no account", code=2)
    doc = p("admin", "reset", "nobody", "--json").json()  # --json keeps the English message
    assert isinstance(doc, dict) and doc["error"]["message"] == "no administrator account named 'nobody'"
    zh(p(*ZH, "admin", "disable", "zhao_aud"), "admin disable")
    zh(p(*ZH, "admin", "audit-key", "show"), "admin audit-key show")
    zh(p(*ZH, "admin", "purge"), "admin purge")
    if str(pair.database_urls[0]).startswith("sqlite"):
        zh(i(*ZH, "db", "backup", str(tmp_path / "bk")), "db backup")
        zh(i(*ZH, "db", "backup", str(tmp_path / "bk")), "db backup again", code=2)
    else:  # PostgreSQL is backed up with pg_dump, which the refusal names
        r = zh(i(*ZH, "db", "backup", str(tmp_path / "bk")), "db backup of PostgreSQL", code=2)
        assert "pg_dump" in r.err, r.err
    zh(i(*ZH, "export", "--expect", "ab"), "a malformed --expect", code=2)
