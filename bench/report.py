"""The bench's output: one table per (N, engine) on stdout, with each credgap step's ratio to the peers
measured on the same package in the same run, and the whole run as JSON in ``bench/results/``."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.measure import Step

RESULTS = Path(__file__).resolve().parent / "results"

CHECKS_ON = (
    "every credgap run below is the real command with nothing switched off: the disclosure policy, "
    "masking, the leak guard (at projection, and its guard seal checked again for every item sealed) "
    "and schema validation (at projection, and again for every item opened), header signature, "
    "payload MAC, chunk authentication and package digest"
)

# A credgap step and the peer steps it is compared with (same package, same run).
PAIRS: dict[str, list[str]] = {
    "export --full": ["peer export: sqlite3|zstd|age; minisign", "peer export: psql|zstd|age; minisign",
                      "peer export: sqlite3|gpg --sign --encrypt", "peer export: psql|gpg --sign --encrypt",
                      "ceiling: read + frame prepared rows"],
    "export 1% changes": ["peer export 1%: sqlite3|zstd|age; minisign", "peer export 1%: psql|zstd|age; minisign",
                          "peer export 1%: sqlite3|gpg --sign --encrypt", "peer export 1%: psql|gpg --sign --encrypt",
                          "ceiling 1%: read + frame prepared rows"],
    "import --full": ["peer import: minisign; age|zstd; sqlite3 .import + index",
                      "peer import: minisign; age|zstd; psql \\copy + index", "peer import: gpg --decrypt"],
    "import 1% changes": ["peer import 1%: minisign; age|zstd; sqlite3 .import + index",
                          "peer import 1%: minisign; age|zstd; psql \\copy + index", "peer import 1%: gpg --decrypt"],
    "import --full, records only (search maintenance off)": ["peer import: minisign; age|zstd; sqlite3 .import + index",
                                                              "peer import: minisign; age|zstd; psql \\copy + index"],
    "open --full (verify, decrypt, decompress, validate)": ["peer open: minisign -V; age -d|zstd -d",
                                                           "peer import: gpg --decrypt"],
}  # fmt: skip


def ratios(steps: list[Step]) -> dict[str, dict[str, float]]:
    """For each credgap step, its wall time divided by each peer's (below 1: credgap is faster)."""
    by_name = {s.name: s for s in steps}
    out: dict[str, dict[str, float]] = {}
    for ours, peers in PAIRS.items():
        mine = by_name.get(ours)
        if mine is None or mine.wall_s <= 0:
            continue
        for p in peers:
            other = by_name.get(p)
            if other is not None and other.wall_s > 0:
                out.setdefault(ours, {})[p] = round(mine.wall_s / other.wall_s, 2)
    return out


def table(title: str, steps: list[Step], extra: dict[str, Any]) -> str:
    lines = [title, "-" * len(title)]
    head = f"{'step':62s} {'records':>10s} {'wall s':>8s} {'cpu s':>8s} {'rec/s':>10s} {'MB/s':>8s} {'RSS MB':>7s}"
    lines.append(head)
    for s in steps:
        lines.append(
            f"{s.name[:62]:62s} {s.records:>10,d} {s.wall_s:>8.2f} {s.cpu_s:>8.2f} {s.records_per_s:>10,.0f} "
            f"{s.mb_per_s:>8.1f} {s.peak_rss_mb:>7.0f}"
        )
    r = ratios(steps)
    if r:
        lines.append("")
        lines.append("ratios (credgap wall time / other's; below 1.00 credgap is faster):")
        for ours, peers in r.items():
            for p, v in peers.items():
                lines.append(f"  {ours[:48]:48s} / {p[:62]:62s} {v:6.2f}")
    for k, v in extra.items():
        lines.append(f"{k}: {v}")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    with contextlib.suppress(OSError, IndexError):
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory": mem,
        "python": platform.python_version(),
        "sqlite": _version(["sqlite3", "--version"]),
        "kernel": platform.release(),
    }


def _version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.split(" ")[0].strip()
    except OSError:
        return ""


def write(doc: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return path
