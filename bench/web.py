"""``make bench-web``: the public platform under load, beside Datasette on the same SQLite file.

Loads N published records through the real exchange (internal-node ingest and export, public-node
import), starts ``public-node serve`` with 2 workers and the rate limiter on (this machine's address
allow-listed; the limiter's cost measured in a separate run where it counts), drives it with ``wrk``
(Debian's package) from another process over loopback, and starts Datasette (its own virtual
environment under bench/.cache; never a runtime dependency) with ``--immutable`` on a copy of the same
database file. Prints req/s and p50/p99 per scenario, side by side, with the ratio, and writes the
result as JSON under bench/results/.

    .venv/bin/python -m bench.web                            # 1M records, 30 s per scenario
    .venv/bin/python -m bench.web --records 20000 --duration 5   # a small check of the whole run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import data
from bench.homes import Homes, _env, _sh, homes

ROOT = Path(__file__).resolve().parent
DATASETTE_VENV = ROOT / ".cache" / "datasette-venv"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer at {url}")


WARMUP = 10  # seconds of the same requests before each measured run (--warmup), not recorded


def wrk(
    base: str, paths: list[str], duration: int, connections: int, out: Path, warmup: int | None = None
) -> dict[str, Any]:
    """One wrk run cycling through ``paths``, after a warm-up run of the same requests (the page cache
    of both servers, and credgap's per-worker search cache, start cold); req/s, p50 and p99 (ms), and
    the errors wrk counted in the measured run."""
    script = out.with_suffix(".lua")
    script.write_text(
        "paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
        "i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format('GET', paths[i])\nend\n"
    )
    warm = WARMUP if warmup is None else warmup
    if warm > 0:
        cmd = ["wrk", "-t2", f"-c{connections}", f"-d{warm}s", "--timeout", "30s", "-s", str(script), base]
        subprocess.run(cmd, capture_output=True, text=True, check=True)
    # a 10 s timeout (wrk's default is 2 s): a slow answer counts in the latencies instead of vanishing
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency", "-s", str(script), base]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    out.write_text(text)

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(int(g) for g in sock.groups()) if sock else 0)
    return {"rps": float(rps.group(1)) if rps else 0.0, "p50": ms("50"), "p99": ms("99"), "errors": errors}


def targets(db: Path, n: int = 200) -> dict[str, list[str]]:
    """Codes, subject keys and 2- and 3-character name fragments of companies in the published data
    (not departments: a department's page carries thousands of government-credit records)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute(
        "SELECT subject_key, uscc, name, id FROM search_subject"
        " WHERE uscc IS NOT NULL AND category = 'legal_person' ORDER BY id LIMIT ?",
        (n,),
    ).fetchall()
    con.close()
    frag2 = [r[2][2:4] for r in rows if len(r[2]) >= 6]
    frag3 = [r[2][2:5] for r in rows if len(r[2]) >= 6]
    return {
        "codes": [r[1] for r in rows],
        "keys": [r[0] for r in rows],
        "ids": [str(r[3]) for r in rows],
        "frag2": frag2,
        "frag3": frag3,
    }


def datasette_bin() -> Path | None:
    exe = DATASETTE_VENV / "bin" / "datasette"
    if exe.exists():
        return exe
    try:
        subprocess.run([sys.executable, "-m", "venv", str(DATASETTE_VENV)], check=True)
        subprocess.run([str(DATASETTE_VENV / "bin" / "pip"), "install", "-q", "datasette"], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"  datasette: could not install ({exc}); its column stays empty")
        return None
    return exe


def serve(home: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    cmd = [
        str(Path(sys.executable).parent / "public-node"),
        "--home",
        str(home),
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}/api/v1/freshness", proc, "public-node serve")
    return proc


def set_web(home: Path, **values: Any) -> None:
    """Replace node.toml's [web] table with ``values`` (tomlkit: a list value holds brackets too)."""
    import tomlkit

    toml = home / "node.toml"
    doc = tomlkit.parse(toml.read_text())
    table = tomlkit.table()
    for key, value in values.items():
        table[key] = value
    doc["web"] = table
    toml.write_text(tomlkit.dumps(doc))


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextmanager
def loaded_homes(
    root: Path, ds: Any, records: int, seed: int, *, reuse: bool, result: dict[str, Any]
) -> Iterator[Homes]:
    """Homes holding ``records`` published records: loaded through the real exchange (ingest, export,
    import), then kept as a copy so that ``--reuse-load`` can start the measurements without the load."""
    snapshot = ROOT / ".cache" / f"web-loaded-{records}-s{seed}"
    meta = snapshot / "homes.json"
    if reuse and meta.exists():
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(snapshot, root, symlinks=True)
        saved = json.loads(meta.read_text())
        result["load_seconds"] = saved.pop("load_seconds", None)
        paths = ("root", "internal", "public", "medium")
        h = Homes(**{k: Path(v) if k in paths else v for k, v in saved.items()})  # type: ignore[arg-type]
        print(f"  reusing the {records:,} records loaded by an earlier run ({snapshot})")
        _sh(h.internal_cmd("db", "upgrade"))  # loaded by an older revision of the code: its schema now
        _sh(h.public_cmd("db", "upgrade"))
        yield h
        return
    with homes(root, "sqlite", None) as h:
        t0 = time.monotonic()
        for m in ds.manifest:
            _sh(h.internal_cmd("ingest", str(ds.dept / m["file"]), "--kind", m["kind"], "--source", m["source"],
                               *(["--source-uscc", m["source_uscc"]] if m.get("source_uscc") else [])))  # fmt: skip
        _sh(h.internal_cmd("export"))
        _sh(h.public_cmd("import"))
        result["load_seconds"] = round(time.monotonic() - t0, 1)
        print(f"  loaded {records:,} records through the real import in {result['load_seconds']} s")
        if snapshot.exists():
            shutil.rmtree(snapshot)
        shutil.copytree(root, snapshot, symlinks=True)
        fields = {f.name: getattr(h, f.name) for f in dataclasses.fields(h) if f.name != "pg"}
        fields = {k: str(v) if isinstance(v, Path) else v for k, v in fields.items()}
        meta.write_text(json.dumps({**fields, "load_seconds": result["load_seconds"]}))
        yield h


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument(
        "--latency-connections", type=int, default=16, help="a second pass at this concurrency for latency (0: none)"
    )
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--watch-records", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=WARMUP, help="seconds of warm-up before each measured run")
    ap.add_argument("--no-datasette", action="store_true")
    ap.add_argument(
        "--reuse-load",
        action="store_true",
        help="start from the homes the last run with these --records and --seed loaded (a copy kept under "
        "bench/.cache/web-loaded-*) instead of loading again",
    )
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk")
        return 2
    print(f"load average before: {os.getloadavg()}")
    ds = data.ensure(args.records, args.seed)
    root = ROOT / ".cache" / "web-run"
    result: dict[str, Any] = {
        "latency_connections": args.latency_connections,
        "connections": args.connections,
        "records": args.records,
        "duration": args.duration,
        "workers": args.workers,
        "scenarios": {},
    }
    with loaded_homes(root, ds, args.records, args.seed, reuse=args.reuse_load, result=result) as h:
        db = h.public / "node.db"
        t = targets(db)
        scenarios = {
            "lookup by credit code (JSON)": [f"/api/v1/subjects/{c}" for c in t["codes"]],
            "name search, 2 characters (JSON)": [f"/api/v1/search?q={quote(f)}" for f in t["frag2"]],
            "name search, 3 characters (JSON)": [f"/api/v1/search?q={quote(f)}" for f in t["frag3"]],
            "subject page (HTML)": [f"/subjects/{k}" for k in t["keys"]],
        }
        peer = {
            # the subject's records by the indexed subject_key (a uscc filter on published_record is a
            # table scan, which at 1M answered nothing within 30 s): the fairest lookup Datasette has
            "lookup by credit code (JSON)": [f"/node/published_record.json?subject_key={k}&_shape=array" for k in t["keys"]],
            "name search, 2 characters (JSON)": [f"/node/search_subject.json?name__contains={quote(f)}&_shape=array" for f in t["frag2"]],
            "name search, 3 characters (JSON)": [f"/node/search_subject.json?name__contains={quote(f)}&_shape=array" for f in t["frag3"]],
            "subject page (HTML)": [f"/node/search_subject/{i}" for i in t["ids"]],
        }  # fmt: skip
        out = root / "wrk"
        out.mkdir()
        port = free_port()
        set_web(h.public, rate_limit="1000000/minute", rate_limit_exempt=["127.0.0.1"])
        proc = serve(h.public, port, args.workers)
        try:
            for name, paths in scenarios.items():
                r = wrk(
                    f"http://127.0.0.1:{port}",
                    paths,
                    args.duration,
                    args.connections,
                    out / f"credgap-{len(result['scenarios'])}.txt",
                    warmup=args.warmup,
                )
                result["scenarios"][name] = {"credgap": r}
                print(f"  credgap  {name}: {r}")
            # latency at a moderate load: with 64 connections on 2 workers, Little's law alone puts the
            # mean latency at 64 / throughput (about 20 ms at 3,000 req/s), whatever the server does
            for i, (name, paths) in enumerate(scenarios.items()):
                if args.latency_connections <= 0:
                    break
                r = wrk(
                    f"http://127.0.0.1:{port}",
                    paths,
                    args.duration,
                    args.latency_connections,
                    out / f"credgap-c{args.latency_connections}-{i}.txt",
                    warmup=0,  # warmed by the run above
                )
                result["scenarios"][name]["credgap_moderate"] = r
                print(f"  credgap  {name}, {args.latency_connections} connections: {r}")
        finally:
            stop(proc)
        # the limiter's cost: the same lookups with this address counted (a limit it never reaches)
        set_web(h.public, rate_limit="100000000/minute")
        proc = serve(h.public, port, args.workers)
        try:
            r = wrk(
                f"http://127.0.0.1:{port}",
                scenarios["lookup by credit code (JSON)"],
                args.duration,
                args.connections,
                out / "limiter.txt",
                warmup=args.warmup,
            )
            result["limiter_counting_lookup"] = r
            print(f"  credgap  lookup with the limiter counting: {r}")
        finally:
            stop(proc)
        # during an import: a package of --watch-records changed records applied by `watch` meanwhile
        change = root / "change"
        change.mkdir()
        count = data.change_file(ds, args.watch_records, change / data.CHANGE_FILE)
        _sh(h.internal_cmd("ingest", str(change / data.CHANGE_FILE), "--kind", data.CHANGE_KIND, "--source", ds.change_source()["source"],
                           *(["--source-uscc", ds.change_source()["source_uscc"]] if ds.change_source().get("source_uscc") else [])))  # fmt: skip
        _sh(h.internal_cmd("export"))
        set_web(h.public, rate_limit="1000000/minute", rate_limit_exempt=["127.0.0.1"])
        proc = serve(h.public, port, args.workers)
        started = time.time()
        watch = subprocess.Popen(
            [*h.public_cmd("watch")], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        try:
            r = wrk(
                f"http://127.0.0.1:{port}",
                scenarios["lookup by credit code (JSON)"],
                args.duration,
                args.connections,
                out / "during-import.txt",
                warmup=0,  # the import starts with the run: no time to lose before it
            )
            result["during_import"] = {"changed_records": count, **r, **applied_within(db, started, args.duration)}
            print(f"  credgap  lookup while watch applies {count:,} changes: {r}")
        finally:
            stop(watch)
            stop(proc)
        exe = None if args.no_datasette else datasette_bin()
        if exe is not None:
            copy = root / "node.db"
            con = sqlite3.connect(db)
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            con.close()
            shutil.copy(db, copy)
            dport = free_port()
            dproc = subprocess.Popen([str(exe), "serve", "--immutable", str(copy), "--port", str(dport), "--setting", "sql_time_limit_ms", "10000"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            try:
                wait_http(f"http://127.0.0.1:{dport}/-/versions.json", dproc, "datasette")
                for name, paths in peer.items():
                    r = wrk(
                        f"http://127.0.0.1:{dport}",
                        paths,
                        args.duration,
                        args.connections,
                        out / f"datasette-{list(peer).index(name)}.txt",
                        warmup=args.warmup,
                    )
                    result["scenarios"][name]["datasette"] = r
                    print(f"  datasette {name}: {r}")
            finally:
                stop(dproc)
    result["load_after"] = os.getloadavg()
    report(result)
    results = ROOT / "results"
    results.mkdir(exist_ok=True)
    (results / f"web-{args.records}-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(result, indent=2))
    return 0


def applied_within(db: Path, started: float, duration: int) -> dict[str, Any]:
    """When the package `watch` applied during the run committed, in seconds after the run started (the
    measurement covers the import only if this is within the run)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    row = con.execute("SELECT max(recorded_at) FROM channel_package WHERE status = 'applied'").fetchone()
    con.close()
    if not row or row[0] is None:
        return {"applied_after_s": None}
    at = datetime.fromisoformat(str(row[0])).replace(tzinfo=UTC).timestamp()
    return {"applied_after_s": round(at - started, 1), "window_s": duration}


def report(result: dict[str, Any]) -> None:
    def cell(r: dict[str, Any] | None) -> str:
        if not r:
            return "—"
        return f"{r['rps']:,.0f} req/s, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms" + (
            f", {r['errors']} errors" if r["errors"] else ""
        )

    print(f"\n{result['records']:,} records, {result['workers']} workers, {result['duration']} s per scenario")
    print("| scenario | credgap | Datasette (--immutable) | ratio |\n|---|---|---|---|")
    for name, sides in result["scenarios"].items():
        ours, theirs = sides.get("credgap"), sides.get("datasette")
        ratio = f"{ours['rps'] / theirs['rps']:.1f}×" if ours and theirs and theirs["rps"] else "—"
        print(f"| {name} | {cell(ours)} | {cell(theirs)} | {ratio} |")
    if "during_import" in result:
        d = result["during_import"]
        print(f"| lookup while `watch` applies {d['changed_records']:,} changes | {cell(d)} | — | — |")
        print(f"  (the package committed {d.get('applied_after_s')} s after the {d.get('window_s')} s run began)")
    if "limiter_counting_lookup" in result:
        print(
            f"| lookup with the limiter counting (not allow-listed) | {cell(result['limiter_counting_lookup'])} | — | — |"
        )
    moderate = {n: s["credgap_moderate"] for n, s in result["scenarios"].items() if "credgap_moderate" in s}
    if moderate:
        print(f"\ncredgap at {result['latency_connections']} connections (latency at a moderate load)")
        print("| scenario | credgap |\n|---|---|")
        for name, r in moderate.items():
            print(f"| {name} | {cell(r)} |")


if __name__ == "__main__":
    sys.exit(main())
