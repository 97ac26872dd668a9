"""node.log: reopened after logrotate moves it, times with their offset, JSON lines on request, and
the operator named in every entry a command writes (issue 18, point 18)."""

from __future__ import annotations

import getpass
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from nodekit.logs import NodeLogFile, attach_node_log
from nodekit.operator import set_operator
from tests.helpers import run_cli

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d ")


@pytest.fixture
def credgap_log() -> Iterator[logging.Logger]:
    root = logging.getLogger("credgap")
    before = list(root.handlers)
    yield root
    for h in root.handlers[:]:
        if h not in before:
            root.removeHandler(h)
            h.close()
    set_operator(None)


def test_the_log_is_reopened_after_rotation(tmp_path: Path, credgap_log: logging.Logger) -> None:
    attach_node_log(tmp_path)
    credgap_log.warning("before rotation")
    (tmp_path / "node.log").rename(tmp_path / "node.log-20261201")
    credgap_log.warning("after rotation")
    assert "before rotation" in (tmp_path / "node.log-20261201").read_text()
    assert "after rotation" not in (tmp_path / "node.log-20261201").read_text()
    assert "after rotation" in (tmp_path / "node.log").read_text()


def test_text_entries_carry_time_offset_and_operator(tmp_path: Path, credgap_log: logging.Logger) -> None:
    attach_node_log(tmp_path)
    set_operator("王科长")
    logging.getLogger("credgap.exchange").info("sealed seq %d", 7)
    (line,) = (tmp_path / "node.log").read_text(encoding="utf-8").splitlines()
    assert STAMP.match(line), line
    assert line.endswith("INFO credgap.exchange [operator=王科长]: sealed seq 7")


def test_a_commands_own_operator_option_names_its_log_entries(tmp_path: Path, credgap_log: logging.Logger) -> None:
    from nodekit.operator import operator_actor

    attach_node_log(tmp_path)
    assert operator_actor("李审核") == "operator:李审核"  # e.g. `review decide --operator 李审核`
    logging.getLogger("credgap").warning("decided")
    assert "[operator=李审核]: decided" in (tmp_path / "node.log").read_text(encoding="utf-8")


def test_json_lines(tmp_path: Path, credgap_log: logging.Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDGAP_OPERATOR", "ops-bot")
    attach_node_log(tmp_path, "json")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("credgap.watch").exception("round failed")
    (line,) = (tmp_path / "node.log").read_text().splitlines()
    entry = orjson.loads(line)
    assert entry["operator"] == "ops-bot" and entry["level"] == "ERROR" and entry["logger"] == "credgap.watch"
    assert entry["message"] == "round failed" and "ValueError: boom" in entry["traceback"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$", entry["time"])


def _entries(home: Path) -> list[str]:
    return (home / "logs" / "node.log").read_text(encoding="utf-8").splitlines()


def test_every_entry_of_a_command_names_its_operator(tmp_path: Path, credgap_log: logging.Logger) -> None:
    home = tmp_path / "h"
    assert (
        run_cli("internal-node", "--home", str(home), "init", "--name", "a", "--medium", str(tmp_path / "m")).code == 0
    )
    # a command that fails after opening the node writes its failure to node.log
    r = run_cli("internal-node", "--home", str(home), "--operator", "张三", "export", "--resend", "9")
    assert r.code != 0
    r = run_cli("internal-node", "--home", str(home), "export", "--resend", "9", env={"CREDGAP_OPERATOR": "李四"})
    assert r.code != 0
    r = run_cli("internal-node", "--home", str(home), "export", "--resend", "9", env={"CREDGAP_OPERATOR": None})
    assert r.code != 0
    entries = _entries(home)
    assert len(entries) >= 3
    assert all(re.search(r" \[operator=[^\]]+\]: ", e) for e in entries), entries
    operators = [re.search(r" \[operator=([^\]]+)\]: ", e).group(1) for e in entries]  # type: ignore[union-attr]
    assert operators[-3:] == ["张三", "李四", getpass.getuser()]


def test_a_bad_operator_name_is_a_usage_error(tmp_path: Path) -> None:
    r = run_cli("internal-node", "--home", str(tmp_path), "--operator", "a\x07b", "status")
    assert r.code == 2
    assert "--operator" in r.err and len(r.err.splitlines()) == 1


def test_a_log_folder_that_vanished_drops_the_record_instead_of_raising(tmp_path: Path) -> None:
    """A removed log folder (a rotated-away disk, a test home torn down) must not make every log call of
    the process raise: WatchedFileHandler reopens outside logging's error handling."""
    logdir = tmp_path / "logs"
    logdir.mkdir()
    handler = NodeLogFile(str(logdir / "node.log"), encoding="utf-8")
    log = logging.getLogger("credgap.test-vanished")
    log.addHandler(handler)
    try:
        log.warning("first")
        (logdir / "node.log").unlink()
        logdir.rmdir()
        log.warning("second")  # raised FileNotFoundError before
        assert not logdir.exists()
    finally:
        log.removeHandler(handler)
        handler.close()
