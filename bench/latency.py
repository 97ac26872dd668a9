"""Package-to-visible latency with ``public-node watch`` running.

The packages are made first (ingest of 1k changed rows, then export, each sealed package moved off the
medium), so that the internal node's work does not compete with the watcher's. Then, one at a time,
each package is written to the channel folder under a dot-name (ignored by the watcher, as a writer's
temporary file is) and renamed into place; the clock starts when the rename returns. The bench then
polls the public database every millisecond for the package's ``applied`` row in ``channel_package``,
which the import commits in the same transaction as the package's records: when it is visible, so
are the records. Each package is waited for before the next one is renamed (no queueing), so the
figure is the latency of one package, not of a backlog.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.homes import ENV, Homes, libpq_url

POLL_S = 0.001
TIMEOUT_S = 120.0
WARMUP = 3  # packages applied first and left out of the figures (first imports warm the caches)


def _applied_probe(h: Homes) -> Callable[[int], bool]:
    q = "SELECT 1 FROM channel_package WHERE seq = {seq} AND status IN ('applied', 'rebased')"
    if h.engine == "sqlite":
        conn = sqlite3.connect(f"file:{h.public / 'node.db'}?mode=ro", uri=True, isolation_level=None)

        def probe(seq: int) -> bool:
            return conn.execute(q.format(seq=int(seq))).fetchone() is not None

        return probe
    import psycopg

    pg = psycopg.connect(libpq_url(h.public_url), autocommit=True)

    def probe_pg(seq: int) -> bool:
        return pg.execute(q.format(seq=int(seq))).fetchone() is not None  # type: ignore[arg-type]

    return probe_pg


def measure(h: Homes, hold: Path, packages: list[dict[str, Any]], *, say: Any = print) -> dict[str, Any]:
    """Feed ``packages`` (files in ``hold``, in sequence order) to a running watcher; return the figures."""
    channel = h.channel_dir()
    log_out = (h.root / "watch.out").open("wb")
    log_err = (h.root / "watch.err").open("wb")
    proc = subprocess.Popen(
        h.public_cmd("watch", "--receipts-every", "0s"), stdout=log_out, stderr=log_err, env={**os.environ, **ENV}
    )
    probe = _applied_probe(h)
    latencies: list[float] = []
    records: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while b"watching" not in (h.root / "watch.err").read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"public-node watch did not start: {(h.root / 'watch.err').read_text()[-500:]}")
            time.sleep(0.05)
        time.sleep(0.5)  # the observer starts just after the banner
        for i, pkg in enumerate(packages):
            src = hold / pkg["file"]
            tmp = channel / f".bench-{pkg['file']}"
            shutil.copyfile(src, tmp)
            os.rename(tmp, channel / pkg["file"])
            t0 = time.perf_counter()
            while not probe(pkg["seq"]):
                if time.perf_counter() - t0 > TIMEOUT_S:
                    raise RuntimeError(f"package {pkg['seq']} not applied after {TIMEOUT_S:.0f} s (see watch.err)")
                if proc.poll() is not None:
                    raise RuntimeError("public-node watch exited during the latency run")
                time.sleep(POLL_S)
            if i >= WARMUP:
                latencies.append(time.perf_counter() - t0)
                records.append(int(pkg["records"]))
            if (i + 1) % 100 == 0:
                say(f"    {i + 1}/{len(packages)} packages, median so far {statistics.median(latencies) * 1000:.0f} ms")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_out.close()
        log_err.close()
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "packages": len(latencies),
        "records_mean": round(statistics.fmean(records), 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p90_ms": round(cuts[89] * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
        "method": "rename into the channel folder -> applied row visible in the public database (1 ms polling)",
    }
