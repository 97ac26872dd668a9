"""Node homes: init, role checks, and one-line errors for missing or wrong homes."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodekit.errors import ConfigError, ExitCode
from nodekit.home import load_config, parse_duration
from tests.helpers import run_cli


def test_init_creates_a_working_home(tmp_path: Path) -> None:
    home = tmp_path / "int"
    r = run_cli("internal-node", "--home", str(home), "init", "--name", "city-internal", "--medium", "../medium")
    assert r.code == 0, r.err
    cfg = load_config(home, "internal")
    assert cfg.name == "city-internal"
    assert cfg.database_url == f"sqlite:///{home}/node.db"
    assert cfg.medium == home / "../medium"
    for sub in ("keys", "logs", "archive", "staging", "quarantine", "pending"):
        assert (home / sub).is_dir()
    assert (home.stat().st_mode & 0o077) == 0, "a node home is private to its owner"
    text = (home / "node.toml").read_text()
    assert text.count("#") > 10, "node.toml carries commented defaults"
    status = run_cli("internal-node", "--home", str(home), "status", "--json")
    assert status.code == 0
    data = status.json()
    assert isinstance(data, dict)
    assert data["role"] == "internal" and data["database"]["schema_current"] is True


def test_init_refuses_an_existing_home(tmp_path: Path) -> None:
    home = tmp_path / "pub"
    assert run_cli("public-node", "--home", str(home), "init").code == 0
    r = run_cli("public-node", "--home", str(home), "init")
    assert r.code == ExitCode.USAGE
    assert "already exists" in r.err and len(r.err.strip().splitlines()) == 1


@pytest.mark.parametrize(("home_role", "program"), [("internal", "public-node"), ("public", "internal-node")])
def test_a_node_refuses_the_home_of_the_other_role(tmp_path: Path, home_role: str, program: str) -> None:
    home = tmp_path / "h"
    assert run_cli(f"{home_role}-node", "--home", str(home), "init").code == 0
    r = run_cli(program, "--home", str(home), "status")
    assert r.code == ExitCode.USAGE
    lines = r.err.strip().splitlines()
    assert len(lines) == 1
    assert f"home of an {home_role} node" in lines[0] or f"home of a {home_role} node" in lines[0]
    assert "Traceback" not in r.err


def test_missing_home_is_one_line(tmp_path: Path) -> None:
    r = run_cli("public-node", "--home", str(tmp_path / "nowhere"), "status")
    assert r.code == ExitCode.USAGE
    assert r.err.strip().count("\n") == 0
    assert "no such node home" in r.err
    r = run_cli("public-node", "status", env={"CREDGAP_HOME": None})
    assert r.code == ExitCode.USAGE and "CREDGAP_HOME" in r.err


def test_home_from_environment(tmp_path: Path) -> None:
    home = tmp_path / "envhome"
    assert run_cli("internal-node", "init", env={"CREDGAP_HOME": str(home)}).code == 0
    assert run_cli("internal-node", "status", env={"CREDGAP_HOME": str(home)}).code == 0


def test_bad_config_names_the_file(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert run_cli("internal-node", "--home", str(home), "init").code == 0
    (home / "node.toml").write_text("[node\nrole = 'internal'\n")
    r = run_cli("internal-node", "--home", str(home), "status")
    assert r.code == ExitCode.USAGE
    assert str(home / "node.toml") in r.err and "cannot read" in r.err


def test_database_of_another_node_is_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli("internal-node", "--home", str(a), "init").code == 0
    r = run_cli("public-node", "--home", str(b), "init", "--database-url", f"sqlite:///{a}/node.db")
    assert r.code == ExitCode.FAILURE
    assert "already belongs to a node" in r.err
    assert not (b / "node.toml").exists(), "a failed init leaves no half-made home"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800), ("2w", 1209600)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1", "h", "1y", "-1h", "1.5h"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text)


def test_exchange_durations_default_and_are_checked(tmp_path: Path) -> None:
    """``[exchange] write_settle`` and ``quarantine_retention`` (docs/OPERATIONS.md): written by init with
    their defaults, read as durations, and a bad one names its key."""
    home = tmp_path / "pub"
    assert run_cli("public-node", "--home", str(home), "init").code == 0
    cfg = load_config(home, "public")
    assert (cfg.write_settle, cfg.quarantine_retention) == (30, 180 * 86400)
    text = (home / "node.toml").read_text()
    (home / "node.toml").write_text(text.replace('quarantine_retention = "180d"', "quarantine_retention = 180"))
    with pytest.raises(ConfigError, match=r"\[exchange\] quarantine_retention must be a duration"):
        load_config(home, "public")


def test_rebase_bound_is_configurable(tmp_path: Path) -> None:
    """Issue 13 case 6: how far ahead of the channel a snapshot may rebase is ``[exchange] rebase_bound``."""
    from exchange.node import limits_for

    home = tmp_path / "pub"
    assert run_cli("public-node", "--home", str(home), "init").code == 0
    text = (home / "node.toml").read_text()
    assert "rebase_bound = 10000" in text, "the template states the default"
    assert load_config(home, "public").rebase_bound == 10_000
    (home / "node.toml").write_text(text.replace("rebase_bound = 10000", "rebase_bound = 250"))
    assert load_config(home, "public").rebase_bound == 250
    assert limits_for(load_config(home, "public")).rebase_bound == 250, "what the node's reader is given"
    for bad in ("0", "'many'", "true"):
        (home / "node.toml").write_text(text.replace("rebase_bound = 10000", f"rebase_bound = {bad}"))
        with pytest.raises(ConfigError, match=r"\[exchange\] rebase_bound"):
            load_config(home, "public")


def test_a_misspelt_key_is_refused_with_the_nearest_one(tmp_path: Path) -> None:
    """Issue 18 point 3: ``meduim = ...`` was ignored and the medium fell back to ``<home>/medium``."""
    home = tmp_path / "pub"
    assert run_cli("public-node", "--home", str(home), "init").code == 0
    text = (home / "node.toml").read_text()
    (home / "node.toml").write_text(text.replace('medium = "medium"', 'meduim = "/mnt/exchange"'))
    r = run_cli("public-node", "--home", str(home), "status")
    assert r.code == ExitCode.USAGE, r.out
    line = r.err.strip()
    assert "\n" not in line
    assert str(home / "node.toml") in line and "[transfer] unknown key 'meduim'" in line
    assert "did you mean 'medium'?" in line
    (home / "node.toml").write_text(text + "\n[exchnage]\nperiod = '1h'\n")
    r = run_cli("public-node", "--home", str(home), "status")
    assert r.code == ExitCode.USAGE and "unknown table [exchnage] (did you mean 'exchange'?)" in r.err


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('timezone = "Asia/Shanghai"', "timezone = 8", "[node] timezone: expected str, got int"),
        ('file = "policy.toml"', "file = true", "[policy] file: expected str, got bool"),
        ('period = "1d"', "period = 1", "[exchange] period must be a duration string such as '1h'"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(tmp_path: Path, old: str, new: str, expected: str) -> None:
    home = tmp_path / "int"
    assert run_cli("internal-node", "--home", str(home), "init").code == 0
    text = (home / "node.toml").read_text()
    assert old in text
    (home / "node.toml").write_text(text.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_config(home, "internal")
    assert str(err.value) == f"{home / 'node.toml'}: {expected}"


def test_node_toml_is_written_with_any_string_quoted(tmp_path: Path) -> None:
    """Issue 18 point 3: the old template escaped only backslash and quote; a newline or a control
    character in a name or path made a file that did not parse (or said something else)."""
    home = tmp_path / "h"
    name = 'line\nbreak "quoted" \\ tab\t\x7f 名'
    medium = str(tmp_path / "me\ndium")
    r = run_cli("internal-node", "--home", str(home), "init", "--name", name, "--medium", medium)
    assert r.code == 0, r.err
    cfg = load_config(home, "internal")
    assert (cfg.name, cfg.medium) == (name, Path(medium))
    text = (home / "node.toml").read_text()
    assert text.startswith("# credgap node configuration (internal node).")
    assert text.count("#") > 10, "the comments survive"


def test_node_log_times_carry_their_offset(tmp_path: Path) -> None:
    """Issue 18 point 12: ``2026-12-02T09:30:00.123+08:00``, not a bare local time."""
    import re

    home = tmp_path / "int"
    assert run_cli("internal-node", "--home", str(home), "init").code == 0
    r = run_cli("internal-node", "--home", str(home), "export")  # no identity: fails, and says so in the log
    assert r.code != 0
    lines = (home / "logs" / "node.log").read_text(encoding="utf-8").splitlines()
    assert lines, "something was logged"
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d [A-Z]+ credgap")
    assert all(stamp.match(line) for line in lines if line[:2] == "20"), lines
