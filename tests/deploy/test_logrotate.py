"""The shipped logrotate file keeps at least 180 days of node.log and is valid for logrotate (issue 18, point 18)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "logrotate" / "credgap"
PERIOD_DAYS = {"daily": 1, "weekly": 7, "monthly": 31, "yearly": 366}


def directives() -> list[str]:
    body = CONF.read_text().split("{", 1)[1].rsplit("}", 1)[0]
    return [line.split("#", 1)[0].strip() for line in body.splitlines() if line.split("#", 1)[0].strip()]


def test_it_keeps_at_least_180_days() -> None:
    lines = directives()
    periods = [PERIOD_DAYS[w] for w in lines if w in PERIOD_DAYS]
    (rotate,) = [int(line.split()[1]) for line in lines if line.startswith("rotate ")]
    assert len(periods) == 1
    # each kept file holds at least one period (notifempty may stretch it, never shrink it)
    assert rotate * periods[0] >= 180
    assert not any(line.startswith(("maxage", "maxsize", "size")) for line in lines), "would cut the 180 days short"


def test_the_node_reopens_the_file_so_no_copytruncate() -> None:
    lines = directives()
    assert "copytruncate" not in lines  # loses the lines written between copy and truncate
    assert CONF.read_text().lstrip("#").find("/logs/node.log") > 0


def test_logrotate_accepts_it(tmp_path: Path) -> None:
    binary = shutil.which("logrotate") or ("/usr/sbin/logrotate" if Path("/usr/sbin/logrotate").exists() else None)
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("logrotate is missing (.ci/run installs it)")
        pytest.skip("logrotate is not installed")
    # the same rules on a path of this test (the user credgap need not exist here)
    text = re.sub(r"^/var/lib/credgap/\*/logs/node.log", str(tmp_path / "node.log"), CONF.read_text(), flags=re.M)
    text = re.sub(r"^\s*(su|create) .*$", "", text, flags=re.M)
    conf = tmp_path / "credgap.conf"
    conf.write_text(text)
    (tmp_path / "node.log").write_text("x\n")
    out = subprocess.run([binary, "-d", "-s", str(tmp_path / "state"), str(conf)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "error" not in out.stderr.lower(), out.stderr
