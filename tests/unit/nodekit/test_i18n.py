"""The operators' language (nodekit.i18n, docs/adr/0016-operator-language.md): every message id has a
zh-CN translation that keeps its placeholders, the committed .mo is the .po compiled (`make i18n`),
the language follows --lang or the locale, and what scripts and auditors read stays English."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
from pathlib import Path

import pytest

from nodekit import i18n
from tests.helpers import run_cli

babel = pytest.importorskip("babel", reason="Babel is a development dependency ([dev])")
from babel.messages.catalog import Catalog  # noqa: E402
from babel.messages.mofile import write_mo  # noqa: E402
from babel.messages.pofile import read_po  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
CATALOGUE = ROOT / "nodekit" / "locale" / "zh_CN" / "LC_MESSAGES"
_FIELD = re.compile(r"%\(\w+\)[sd]|\{\w*(?:![rsa])?\}")


def _extracted() -> Catalog:
    spec = importlib.util.spec_from_file_location("credgap_i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    catalog: Catalog = module.catalogue()
    return catalog


def _po() -> Catalog:
    with (CATALOGUE / "credgap.po").open("rb") as f:
        return read_po(f)


def test_every_message_id_has_a_translation() -> None:
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in _po()
        if m.id and not m.fuzzy and (m.string if isinstance(m.string, str) else all(m.string))
    }
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in _extracted() if m.id}
    # both programs' help texts, click's messages, the demo and the code's messages are all in
    assert {
        "Show this message and exit.",
        "Usage:",
        "Show the node's role, database, schema, transfer medium and channels, and what needs doing.",
        "12. status of both nodes",
        "no node home given: pass --home DIR or set {env}",
    } <= ids
    assert sorted(ids - translated) == [], "translate them in credgap.po (`make i18n` adds new ids)"


def test_translations_keep_their_placeholders() -> None:
    for m in _po():
        if not m.id or not m.string:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        expected = sorted(_FIELD.findall(ids[-1]))
        for s in strings:
            assert sorted(_FIELD.findall(s)) == expected, f"{ids[0]!r} -> {s!r}"


def test_the_compiled_catalogue_is_current() -> None:
    buf = io.BytesIO()
    write_mo(buf, _po())
    assert (CATALOGUE / "credgap.mo").read_bytes() == buf.getvalue(), "run `make i18n`"


@pytest.mark.parametrize(
    ("requested", "env", "expected"),
    [
        (None, {"LANG": "zh_CN.UTF-8"}, "zh_CN"),
        (None, {"LANG": "zh_CN.GB18030"}, "zh_CN"),
        (None, {"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        (None, {"LANG": "en_US.UTF-8", "LANGUAGE": "zh_CN:en"}, "zh_CN"),
        (None, {"LANG": "C", "LANGUAGE": "zh_CN"}, "en"),  # as GNU gettext: LANGUAGE is ignored under C
        (None, {}, "en"),
        (None, {"LANG": "fr_FR.UTF-8"}, "en"),
        ("zh_CN", {"LANG": "C"}, "zh_CN"),
        ("zh-CN", {}, "zh_CN"),
        ("en", {"LANG": "zh_CN.UTF-8"}, "en"),
    ],
)
def test_language_from_lang_option_then_locale(requested: str | None, env: dict[str, str], expected: str) -> None:
    assert i18n.resolve(requested, env) == expected


def test_unknown_lang_is_a_usage_error() -> None:
    with pytest.raises(i18n.UnknownLanguage):
        i18n.resolve("xx")
    r = run_cli("internal-node", "--lang", "fr", "--help")
    assert r.code == 2 and "--lang fr" in r.err and "zh_CN" in r.err


def test_help_in_chinese_by_option_and_by_locale() -> None:
    before = os.environ.get("LANGUAGE")
    english = run_cli("internal-node", "status", "--help", env={"LANG": "C", "LANGUAGE": None, "LC_ALL": None})
    assert "Show the node's role" in english.out and "Usage:" in english.out
    by_option = run_cli("internal-node", "--lang", "zh_CN", "status", "--help")
    by_locale = run_cli(
        "internal-node", "status", "--help", env={"LANG": "zh_CN.UTF-8", "LC_ALL": None, "LANGUAGE": None}
    )
    for r in (by_option, by_locale):
        assert r.code == 0
        assert "用法：" in r.out and "显示" in r.out, r.out  # click's own words and ours
        assert "Show the node's role" not in r.out
    # the next program in the same process speaks English again (the ids were kept aside)
    again = run_cli("internal-node", "--lang", "en", "status", "--help", env={"LANG": "zh_CN.UTF-8"})
    assert "Show the node's role" in again.out and "Usage:" in again.out
    assert os.environ.get("LANGUAGE") == before


def test_lang_after_the_subcommand() -> None:
    r = run_cli("internal-node", "status", "--help", "--lang", "zh_CN")
    assert r.code == 0 and "用法：" in r.out
    r = run_cli("internal-node", "db", "current", "--lang=zh_CN", "--help")
    assert r.code == 0 and "用法：" in r.out


def test_usage_errors_in_chinese() -> None:
    r = run_cli("internal-node", "--lang", "zh_CN", "--no-such-option")
    assert r.code == 2
    assert r.err.startswith("internal-node: 错误：") and "--no-such-option" in r.err and "No such option" not in r.err


def test_operators_read_chinese_while_json_and_node_log_stay_english(tmp_path: Path) -> None:
    r = run_cli("public-node", "--lang", "zh_CN", "status", "--json", env={"CREDGAP_HOME": None})
    assert r.code == 2
    doc = json.loads(r.out)
    assert doc["error"]["reason"] == "home"
    assert doc["error"]["message"] == "no node home given: pass --home DIR or set CREDGAP_HOME"
    assert "未指定节点目录" in r.err and "CREDGAP_HOME" in r.err

    home = tmp_path / "int"
    assert run_cli("internal-node", "--home", str(home), "init").code == 0
    (home / "logs").mkdir(exist_ok=True)
    bad = tmp_path / "p.dat"
    bad.write_text("x", encoding="utf-8")
    args = ["--home", str(home), "ingest", str(bad), "--kind", "penalty", "--source", "x"]
    r = run_cli("internal-node", "--lang", "zh_CN", *args)
    assert r.code == 3 and "无法根据后缀 .dat 判断格式" in r.err
    log = (home / "logs" / "node.log").read_text(encoding="utf-8")
    assert "p.dat: cannot tell the format from the suffix .dat" in log
    assert not re.search(r"[\u4e00-\u9fff]", log), log


def test_swept_commands_speak_chinese(tmp_path: Path) -> None:
    home = str(tmp_path / "int")
    r = run_cli("internal-node", "--home", home, "init", env={"LANG": "zh_CN.UTF-8"})
    assert r.code == 0 and r.out.startswith(f"已初始化内网节点目录 {home}\n  如需调整，请编辑 "), r.out
    r = run_cli("internal-node", "--lang", "zh_CN", "--home", home, "review", "list")
    assert r.code == 0 and r.out.strip() == "没有等待审核的内容"
    r = run_cli("internal-node", "--lang", "zh_CN", "--home", home, "policy", "check")
    assert r.code == 0 and "：通过\n  摘要 " in r.out
    r = run_cli("internal-node", "--home", home, "policy", "check")
    assert r.code == 0 and ": ok\n  digest " in r.out


def test_the_platform_falls_back_to_the_operators_catalogue() -> None:
    from public_node.web.render import translations

    tr = translations("zh_CN")
    assert tr.gettext("Search") != "Search"  # the platform's own catalogue
    assert tr.gettext("Usage:") == "用法："  # the operators' one, behind it


def test_an_error_reads_english_in_the_log_and_chinese_on_the_screen() -> None:
    from nodekit.errors import DatabaseError

    exc = DatabaseError(
        i18n.N_("{database} belongs to {owner} node, not to this {role} node"),
        params={
            "database": "sqlite:///h/node.db",
            "owner": i18n.Shown("an internal", "internal"),
            "role": i18n.Shown("public", "public"),
        },
    )
    assert str(exc) == "sqlite:///h/node.db belongs to an internal node, not to this public node"
    with i18n.speaking("zh_CN"):
        assert exc.shown() == "sqlite:///h/node.db 属于内网节点，而不属于本外网节点"
    assert exc.shown() == str(exc)


def test_a_message_built_before_it_is_an_error_is_shown_translated() -> None:
    """keys.errors.Said: English as a str (logs, --json), its template translated where shown."""
    from keys.errors import Said
    from transfer.errors import LogVerificationError

    said = Said(i18n.N_("entry {pos} was edited: its content no longer matches its recorded hash"), pos=3)
    assert said == "entry 3 was edited: its content no longer matches its recorded hash"
    exc = LogVerificationError(i18n.N_("transfer log: {problem}"), params={"problem": said}, reason="edited")
    assert str(exc) == "transfer log: entry 3 was edited: its content no longer matches its recorded hash"
    from nodekit.errors import shown

    with i18n.speaking("zh_CN"):
        assert shown(exc) == "传输日志：条目 3 被改动：其内容与记录的哈希不再相符"
    assert shown(exc) == str(exc)


def test_os_errors_and_parser_positions_are_shown_translated(tmp_path: Path) -> None:
    from keys.canonical import decode
    from keys.errors import EncodingError
    from nodekit.errors import shown

    missing = FileNotFoundError(2, os.strerror(2), str(tmp_path / "x"))
    with pytest.raises(EncodingError) as bad:
        decode(b"{'a")
    assert "unexpected character" in str(bad.value)  # the parser's English stays in the log
    with i18n.speaking("zh_CN"):
        assert shown(missing) == f"没有该文件或目录：{tmp_path / 'x'}"
        assert shown(bad.value) == "不是有效的 JSON：位于第 1 行，第 2 列"
    assert shown(missing) == f"No such file or directory: {tmp_path / 'x'}"


def test_a_busy_channel_is_shown_translated() -> None:
    from nodekit.errors import shown
    from nodekit.locks import Holder, _busy

    receiver = _busy("the receiver of this node", None)
    channel = _busy("channel a_to_b", Holder(41, 0.0))
    assert str(receiver).startswith("channel-busy: the receiver of this node is held by another process")
    assert str(channel).startswith("channel-busy: channel a_to_b is held by pid 41 for ")
    with i18n.speaking("zh_CN"):
        for exc in (receiver, channel):
            text = shown(exc)
            assert text.startswith("channel-busy：") and re.search(r"[\u4e00-\u9fff]", text), text
            assert "held by" not in text and "try again" not in text
        assert "a_to_b" in shown(channel) and "41" in shown(channel)
