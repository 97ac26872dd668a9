"""The shipped systemd units (issue 18, point 17): valid for `systemd-analyze verify`, hardened, each
long-running one Type=notify with a watchdog, credentials through LoadCredential, the scheduled
export behind the review gate, and every ExecStart a command line the CLI accepts."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SERVICES = sorted(UNITS.glob("*.service"))
LONG_RUNNING = ["credgap-public-watch.service", "credgap-public-serve.service"]
USERS = {"credgap-public-serve.service": "credgap-web"}  # the web workers: their own user; the rest "credgap"
PUBLIC_HOME = "/var/lib/credgap/public"
HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "CapabilityBoundingSet": "",
}
# what systemd-analyze says in a container without systemd as PID 1: not about our units
NOISE = ("System has not been booted with systemd", "Failed to connect to bus", "Failed to connect to system scope bus")


def settings(unit: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if line.strip() and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_units_are_there() -> None:
    names = {p.name for p in UNITS.iterdir()}
    assert {*LONG_RUNNING, "credgap-internal-export@.service", "credgap-internal-export@.timer"} <= names


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_hardened(unit: Path) -> None:
    s = settings(unit)
    for key, value in HARDENING.items():
        assert s.get(key) == [value], f"{unit.name}: {key}"
    assert s["User"] == s["Group"] == [USERS.get(unit.name, "credgap")], unit.name
    assert "AF_PACKET" not in " ".join(s["RestrictAddressFamilies"])
    # systemd chowns a StateDirectory=, recursively, to the unit's user at each start: the public home,
    # which another user reads through a group, must not be one
    assert not any("public" in d for d in s.get("StateDirectory", [])), unit.name


def _paths(s: dict[str, list[str]], key: str) -> set[str]:
    return {p.lstrip("-") for line in s.get(key, []) for p in line.split()}


def test_serve_runs_as_its_own_user_with_the_nodes_files_out_of_reach() -> None:
    s = settings(UNITS / "credgap-public-serve.service")
    assert s["UMask"] == ["0007"], "the web database's files for its group (the node's commands) too, no one else"
    assert _paths(s, "ReadWritePaths") == {"/var/lib/credgap/web", PUBLIC_HOME}  # the home: for node.db-shm
    assert _paths(s, "ReadOnlyPaths") == {f"{PUBLIC_HOME}/node.toml"}
    hidden = _paths(s, "InaccessiblePaths")
    for name in ("keys", "logs", "archive", "staging", "pending", "quarantine", "web-audit"):
        assert f"{PUBLIC_HOME}/{name}" in hidden, name
    assert {"/srv/credgap/transfer", "/etc/credgap", "/var/lib/credgap/internal"} <= hidden
    assert s["LoadCredential"] == [f"web-audit:{PUBLIC_HOME}/web-audit"], "the web audit keys, a copy for it alone"
    assert "CREDGAP_WEB_AUDIT_KEYS=%d" in s["Environment"]
    assert "credgap-public-watch.service" in " ".join(s["After"]), "the writer's -shm exists before a reader"
    assert not any("passphrase" in v for v in s.get("LoadCredential", [])), "the platform never opens the node key"


def test_the_web_user_and_the_shared_group_are_declared() -> None:
    lines = [line.split() for line in (ROOT / "deploy/sysusers.d/credgap.conf").read_text().splitlines()
             if line.strip() and not line.startswith("#")]  # fmt: skip
    assert lines[0][:2] == ["u", "credgap"] and lines[1][:2] == ["u", "credgap-web"]
    assert ["m", "credgap", "credgap-web"] in lines
    modes = {
        line.split()[1]: line.split()[:5]
        for line in (ROOT / "deploy/tmpfiles.d/credgap.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert modes[PUBLIC_HOME][2:] == ["2750", "credgap", "credgap-web"]
    assert modes[f"{PUBLIC_HOME}/node.db"][2:] == ["0640", "credgap", "credgap-web"]
    assert modes[f"{PUBLIC_HOME}/node.toml"][2:] == ["0640", "credgap", "credgap-web"]
    assert modes["/var/lib/credgap/web"][2:] == ["2770", "credgap-web", "credgap-web"]


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_units_notify_with_a_watchdog(name: str) -> None:
    s = settings(UNITS / name)
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert re.fullmatch(r"[1-9][0-9]*(s|min)?", s["WatchdogSec"][0]), "a watchdog period that is not zero"


def test_secrets_come_through_load_credential() -> None:
    for name in ("credgap-public-watch.service", "credgap-internal-export@.service"):
        s = settings(UNITS / name)
        assert s["LoadCredential"] == [
            f"passphrase:/etc/credgap/{'public' if 'public' in name else 'internal'}/passphrase"
        ]
        assert "--passphrase-file %d/passphrase" in s["ExecStart"][0]
        assert not any("CREDGAP_PASSPHRASE" in e for e in s.get("Environment", []))


def test_the_scheduled_export_keeps_the_review_gate() -> None:
    s = settings(UNITS / "credgap-internal-export@.service")
    argv = shlex.split(s["ExecStart"][0])
    assert "export" in argv and "--stale-heartbeat" in argv
    assert argv[argv.index("--expect-file") + 1] == "/var/lib/credgap/internal/reviewed/%i.digest"
    assert not {"--full", "--every", "--no-heartbeat"} & set(argv)
    assert "5" not in " ".join(s.get("SuccessExitStatus", [])), "a pending review must show as a failed run"
    timer = settings(UNITS / "credgap-internal-export@.timer")
    assert timer["OnCalendar"] and timer["Persistent"] == ["true"]


@pytest.mark.parametrize("unit", SERVICES, ids=lambda p: p.name)
def test_exec_start_is_a_command_the_cli_accepts(unit: Path, tmp_path: Path) -> None:
    (exec_start,) = settings(unit)["ExecStart"]
    argv = shlex.split(exec_start.replace("%d", str(tmp_path)).replace("%i", "city-public"))
    program = Path(argv[0]).name
    # --help after every option: click parses them all (an unknown one is a usage error) before helping
    r = run_cli(program, *argv[1:], "--help")
    assert r.code == 0 and "Usage:" in r.out, f"{unit.name}: {r.err}"


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (.ci/run installs Debian's systemd)")
        pytest.skip("systemd-analyze is not installed")
    # the same units, their programs where this test runs them (verify checks ExecStart is executable)
    bindir = str(Path(sys.executable).parent)
    for unit in UNITS.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace("/opt/credgap/bin", bindir))
    units = sorted(str(p) for p in tmp_path.iterdir())
    out = subprocess.run([analyze, "verify", "--man=no", *units], capture_output=True, text=True)
    said = [line for line in (out.stdout + out.stderr).splitlines() if line.strip() and not line.startswith(NOISE)]
    assert out.returncode == 0 and not said, "\n".join(said)


def test_verify_would_catch_a_misspelt_setting(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "credgap-public-serve.service"
    text = (UNITS / unit.name).read_text().replace("/opt/credgap/bin", str(Path(sys.executable).parent))
    unit.write_text(re.sub(r"^ProtectSystem=", "ProtectSytem=", text, flags=re.M))
    out = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True)
    assert "ProtectSytem" in out.stdout + out.stderr
