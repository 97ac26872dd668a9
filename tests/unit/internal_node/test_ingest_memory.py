"""A large department file streams: peak memory does not grow with the number of rows."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from internal_node.sample_data import _org_body, make_uscc
from tests.unit.internal_node.ingest_support import columns_of, header_of, row

pytestmark = [pytest.mark.db, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]

# Runs in a fresh interpreter so that its peak RSS (as the kernel counts it) is the ingest's alone.
SCRIPT = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from internal_node import SPEC
    from internal_node.ingest import ingest_file
    from nodekit.runtime import init_home

    home, url, path = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    node = init_home(home, SPEC, name="mem", database_url=url)
    report = ingest_file(node, path, kind="penalty", source="昆明市市场监督管理局")
    node.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for line in open("/proc/self/status", encoding="ascii"):
        if line.startswith("VmHWM:"):
            peak_kb = int(line.split()[1])
    print(report.counts.inserted, peak_kb)
    """
)


def big_csv(path: Path, rows: int) -> Path:
    """``rows`` penalties, each about its own firm (so subjects are written too)."""
    base = row("penalty")
    cols = columns_of("penalty", [base])
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([header_of("penalty", c, "zh") for c in cols])
        for i in range(rows):
            base["decision_no"] = f"昆市监处罚〔2025〕{i}号"
            base["party_uscc"] = make_uscc("91", "530102", _org_body(i, i % 2 == 0))
            base["party_name"] = f"昆明测试{i}科技有限公司"
            out.writerow([base[c] for c in cols])
    return path


def peak_rss_kb(tmp_path: Path, url: str, path: Path, rows: int) -> int:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / f"home-{rows}"), url, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    inserted, peak = (int(x) for x in done.stdout.split())
    assert inserted == rows
    return peak


def test_200k_rows_ingest_in_bounded_memory(tmp_path: Path, database_factory: Callable[[str], str]) -> None:
    small = peak_rss_kb(tmp_path, database_factory("small"), big_csv(tmp_path / "small.csv", 10_000), 10_000)
    large = peak_rss_kb(tmp_path, database_factory("large"), big_csv(tmp_path / "large.csv", 200_000), 200_000)
    # 190 000 more rows of ~600 bytes each would be >100 MB if anything kept them; streaming keeps
    # the peak within a few batches' worth of the small file's.
    assert large - small < 30 * 1024, f"peak RSS grew by {(large - small) // 1024} MB: {small} KB -> {large} KB"
