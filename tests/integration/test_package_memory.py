"""Peak memory stays flat while the package grows: seal and open two sizes, each in a fresh process,
and compare the peak RSS the OS reports (bench/package_memory.py does the work)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]


def measure(megabytes: int, tmp: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.package_memory", str(megabytes), str(tmp)],
        capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    return orjson.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.slow
def test_peak_rss_does_not_grow_with_package_size(tmp_path: Path) -> None:
    small = measure(40, tmp_path)
    large = measure(400, tmp_path)
    assert large["package_bytes"] > 9 * small["package_bytes"], "the large package really is ten times larger"
    assert large["items"] > 9 * small["items"]
    # the whole process stays far below 150 MB, and ten times the data adds (almost) nothing
    assert large["peak_rss_mb"] < 150, (small, large)
    assert large["peak_rss_mb"] - small["peak_rss_mb"] < 15, (small, large)
