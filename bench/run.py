"""The benchmark (``make bench``, ``make bench-full``): credgap's export, import and ingest on a generated
database of N published records, next to the pipelines a user would otherwise script, in the same run
and on the same data (docs/PERFORMANCE.md).

    python -m bench.run                      # N = 100k, SQLite and PostgreSQL (if a server answers)
    python -m bench.run --full               # N = 1M and 5M
    python -m bench.run --n 300000 --engines sqlite --no-latency

For each N and database engine: ingest of the department files; the first export after the load (the
publication projects every record: policy, masking, leak guard, schema validation); ``export --full``;
its ceiling (reading and framing the prepared rows, nothing else); the peers' exports; ``public-node
import`` of the full package, with its parts (open only; records applied with search maintenance off);
the peers' imports; the same for 1% of the records changed through ingest; and the package-to-visible
latency with ``public-node watch`` running. Every step is a separate process; wall time, CPU time and
peak RSS come from the OS. Times are wall clock: run it on a quiet machine (the load is reported).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from bench import data, latency, measure, peers, report
from bench.homes import BIN, ENV, Homes, clone_public, homes, libpq_url
from bench.measure import Step, StepFailed, load_average, run, step, wait_for_quiet
from transfer.header import parse_prefix

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
WORK = data.CACHE / "work"
PY = [sys.executable, "-m"]


def say(msg: str) -> None:
    print(msg, flush=True)


def package_facts(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        doc = parse_prefix(fh.read(70_000)).document
    return {
        "seq": doc["seq"],
        "records": doc["counts"].get("record", 0),
        "plain": doc["sizes"]["plain"],
        "size": path.stat().st_size,
    }


def newest_package(folder: Path) -> Path:
    files = sorted(p for p in folder.glob("p*.cgp"))
    if not files:
        raise StepFailed(f"no package in {folder}")
    return files[-1]


def sql_value(h: Homes, url: str, query: str) -> str:
    if h.engine == "sqlite":
        return run(["sqlite3", "-readonly", url.removeprefix("sqlite:///"), query]).stdout.strip()
    return run(["psql", "-X", "-At", libpq_url(url), "-c", query]).stdout.strip()


class Bench:
    def __init__(self, args: argparse.Namespace, missing: list[str]) -> None:
        self.args = args
        self.missing = set(missing)

    def peer_ok(self, *tools: str) -> bool:
        return not self.args.no_peers and not (set(tools) & self.missing)

    def one(self, ds: data.Dataset, engine: str, with_latency: bool) -> dict[str, Any]:
        a = self.args
        root = Path(a.work) / f"{engine}-n{ds.n}"
        db_tool = "sqlite3" if engine == "sqlite" else "psql"
        steps: list[Step] = []
        extra: dict[str, Any] = {}
        say(f"== N = {ds.n:,} on {engine} (work folder {root})")
        with homes(root, engine, a.pg_url if engine == "postgresql" else None) as h:
            noindex_home, noindex_medium, _ = clone_public(h, "pub-noindex")
            peer_url = self._peer_database(h)
            keys = peers.make_keys(root / "peer-keys") if self.peer_ok("age", "minisign", "gpg") else None
            pk = root / "packages"
            pk.mkdir()
            try:
                steps += self._ingest(h, ds)
                extra["published_records"] = self._export_first(h, steps)
                full = self._export(h, steps, "export --full", ["export", "--full"], pk / "full.cgp")
                upto_full = int(sql_value(h, h.internal_url, "SELECT max(sent_pub_seq) FROM peer_export"))
                self._ceiling(h, steps, "ceiling: read + frame prepared rows", 0, True, full)
                if keys is not None:
                    self._peer_exports(h, keys, steps, "", 0, True, full, pk / "full", db_tool)
                self._import(h, steps, "--full", pk / "full.cgp", full, noindex_home, noindex_medium)
                if keys is not None:
                    self._peer_imports(h, keys, steps, "", pk / "full", full, peer_url, db_tool, snapshot=True)
                    extra["check: published records, credgap / peer"] = (
                        f"{sql_value(h, h.public_url, 'SELECT count(*) FROM published_record')} / "
                        f"{peers.count_records(engine, peer_url)}"
                    )
                    extra["check: search entries, credgap / peer"] = (
                        f"{sql_value(h, h.public_url, 'SELECT count(*) FROM search_subject')} / "
                        f"{peers.count_entries(engine, peer_url)}"
                    )
                    ours, theirs = peers.sample_grams(engine, h.public_url), peers.sample_grams(engine, peer_url)
                    same = sum(1 for k, v in ours.items() if theirs.get(k) == v)
                    extra["check: search entries with the same normalised name, code and tokens"] = (
                        f"{same} of {len(ours)} sampled"
                    )
                # 1% of the records changed through ingest, then an incremental export and its import
                changes = ds.folder / f"changes-{data.CHANGE_KIND}-{ds.n // 100}.csv"
                if not changes.exists():
                    data.change_file(ds, max(1, ds.n // 100), changes)
                src = ds.change_source()
                s = step(
                    "ingest 1% changes (CSV)", "ingest", "credgap",
                    h.internal_cmd("ingest", str(changes), "--kind", data.CHANGE_KIND, "--source", src["source"],
                                   "--source-uscc", src["source_uscc"]),
                    env=ENV, records=max(1, ds.n // 100) , bytes=changes.stat().st_size,
                )  # fmt: skip
                steps.append(s)
                inc = self._export(h, steps, "export 1% changes", ["export"], pk / "inc.cgp")
                self._ceiling(h, steps, "ceiling 1%: read + frame prepared rows", upto_full, False, inc)
                if keys is not None:
                    self._peer_exports(h, keys, steps, " 1%", upto_full, False, inc, pk / "inc", db_tool)
                self._import(h, steps, "1% changes", pk / "inc.cgp", inc, noindex_home, noindex_medium)
                if keys is not None:
                    self._peer_imports(h, keys, steps, " 1%", pk / "inc", inc, peer_url, db_tool, snapshot=False)
                if with_latency and not a.no_latency:
                    extra["latency"] = self._latency(h, ds)
            finally:
                if keys is not None:
                    keys.close()
            extra["load average after"] = round(load_average(), 2)
        say(report.table(f"N = {ds.n:,}, {engine}", steps, extra))
        say("")
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)
        return {
            "n": ds.n,
            "engine": engine,
            "steps": [s.as_dict() for s in steps],
            "ratios": report.ratios(steps),
            **extra,
        }

    # ------------------------------------------------------------------ steps

    def _peer_database(self, h: Homes) -> str:
        """An empty published database with the public node's own schema (its migrations), for the peers."""
        url = h.pg.create("peer") if h.pg is not None else f"sqlite:///{h.root / 'peer' / 'node.db'}"
        run([str(BIN / "public-node"), "--home", str(h.root / "peer"), "init", "--name", "peer", "--medium",
             str(h.root / "peer-medium"), "--database-url", url], env=ENV)  # fmt: skip
        return url

    def _ingest(self, h: Homes, ds: data.Dataset) -> list[Step]:
        """Every department file, subjects first, as ``internal-node ingest`` runs (one process each)."""
        files = sorted(ds.manifest, key=lambda m: m["kind"] != "subject")
        parts: list[Step] = []
        for m in files:
            say(f"  ingest {m['file']} ({m['rows']:,} rows)")
            cmd = h.internal_cmd("ingest", str(ds.dept / m["file"]), "--kind", m["kind"], "--source", m["source"],
                                 "--source-uscc", m["source_uscc"])  # fmt: skip
            s = step(f"ingest {m['file']}", "ingest", "credgap", cmd, env=ENV, records=int(m["rows"]),
                     bytes=(ds.dept / m["file"]).stat().st_size)  # fmt: skip
            s.extra["format"] = m["format"]
            parts.append(s)
        out: list[Step] = []
        for label, chosen in (
            ("ingest: CSV department files", [p for p in parts if p.extra["format"] == "csv"]),
            ("ingest: all department files (CSV, JSONL, XLSX)", parts),
        ):
            agg = Step(label, "ingest", "credgap")
            for p in chosen:
                agg.records += p.records
                agg.bytes += p.bytes
                agg.wall_s += p.wall_s
                agg.cpu_s += p.cpu_s
                agg.peak_rss_mb = max(agg.peak_rss_mb, p.peak_rss_mb)
            agg.extra["files"] = [p.as_dict() for p in chosen]
            out.append(agg)
        return out

    def _export_first(self, h: Homes, steps: list[Step]) -> int:
        """The first export after the load projects every record into the publication, then seals it."""
        say("  export (first after the load: projection of every record, then the package)")
        s = step("export, first after load (projection + seal)", "export", "credgap", h.internal_cmd("export"), env=ENV)
        pkg = newest_package(h.channel_dir())
        facts = package_facts(pkg)
        s.records, s.bytes = facts["records"], facts["plain"]
        steps.append(s)
        pkg.unlink()  # the public node starts from the snapshot below (a snapshot rebases the channel)
        return int(facts["records"])

    def _export(self, h: Homes, steps: list[Step], name: str, args: list[str], keep: Path) -> dict[str, Any]:
        say(f"  {name}")
        s = step(name, "export", "credgap", h.internal_cmd(*args), env=ENV)
        pkg = newest_package(h.channel_dir())
        facts = package_facts(pkg)
        s.records, s.bytes = facts["records"], facts["plain"]
        s.extra["package_bytes"] = facts["size"]
        steps.append(s)
        shutil.copyfile(pkg, keep)
        facts["file"] = pkg.name
        return facts

    def _ceiling(self, h: Homes, steps: list[Step], name: str, since: int, full: bool, facts: dict[str, Any]) -> None:
        cmd = [*PY, "bench.parts", "ceiling", "--url", h.internal_url, "--since", str(since)]
        s = step(name, "ceiling", "python", [*cmd, "--full"] if full else cmd)
        s.records, s.bytes = facts["records"], facts["plain"]
        steps.append(s)

    def _peer_exports(
        self, h: Homes, keys: peers.PeerKeys, steps: list[Step], tag: str, since: int, full: bool,
        facts: dict[str, Any], out: Path, db_tool: str,
    ) -> None:  # fmt: skip
        dump = peers.dump_command(h.engine, h.internal_url, since=since, full=full)
        for name, cmd, suffix in (
            (f"peer export{tag}: {db_tool}|zstd|age; minisign", peers.export_age, ".age"),
            (f"peer export{tag}: {db_tool}|gpg --sign --encrypt", peers.export_gpg, ".gpg"),
        ):
            say(f"  {name}")
            target = out.with_suffix(suffix)
            s = step(name, "export", "peer", cmd(keys, dump, target), records=facts["records"], bytes=facts["plain"])
            s.extra["package_bytes"] = target.stat().st_size
            steps.append(s)

    def _import(
        self, h: Homes, steps: list[Step], label: str, package: Path, facts: dict[str, Any],
        noindex_home: Path, noindex_medium: Path,
    ) -> None:  # fmt: skip
        """``public-node import`` of one package, then its parts on a copy of the same node."""
        channel = h.channel_dir()
        say(f"  import {label}")
        s = step(f"import {label}", "import", "credgap", h.public_cmd("import"), env=ENV,
                 records=facts["records"], bytes=facts["plain"])  # fmt: skip
        steps.append(s)
        if "applied" not in s.stdout and "rebased" not in s.stdout:
            raise StepFailed(f"import {label} did not apply the package: {s.stdout[-500:]}")
        say(f"  open {label} (no database)")
        opened = step(f"open {label} (verify, decrypt, decompress, validate)", "import", "credgap",
                      [*PY, "bench.parts", "open", "--home", str(h.public), str(package)], env=ENV,
                      records=facts["records"], bytes=facts["plain"])  # fmt: skip
        steps.append(opened)
        say(f"  import {label} with search maintenance off (a copy of the public node)")
        target = noindex_medium / channel.name
        target.mkdir(exist_ok=True)
        shutil.copyfile(package, target / facts["file"])
        s2 = step(f"import {label}, records only (search maintenance off)", "import", "credgap",
                  [*PY, "bench.parts", "apply-no-index", "--home", str(noindex_home)], env=ENV,
                  records=facts["records"], bytes=facts["plain"])  # fmt: skip
        if '"result": "applied"' not in s2.stdout and '"result": "rebased"' not in s2.stdout:
            raise StepFailed(f"import {label} without search maintenance did not apply: {s2.stdout[-500:]}")
        steps.append(s2)

    def _peer_imports(
        self, h: Homes, keys: peers.PeerKeys, steps: list[Step], tag: str, base: Path, facts: dict[str, Any],
        peer_url: str, db_tool: str, *, snapshot: bool,
    ) -> None:  # fmt: skip
        age_pkg, gpg_pkg = base.with_suffix(".age"), base.with_suffix(".gpg")
        say(f"  peer import{tag}")
        steps.append(step(f"peer open{tag}: minisign -V; age -d|zstd -d", "import", "peer",
                          peers.open_age(keys, age_pkg), records=facts["records"], bytes=facts["plain"]))  # fmt: skip
        script = base.with_suffix(".sql")
        make = peers.sqlite_import_script if h.engine == "sqlite" else peers.pg_import_script
        script.write_text(make(keys, age_pkg, snapshot=snapshot))
        what = "sqlite3 .import" if h.engine == "sqlite" else "psql \\copy"
        cmd = f"{peers.verify_age(keys, age_pkg)} && {peers.import_command(h.engine, peer_url, script)}"
        steps.append(step(f"peer import{tag}: minisign; age|zstd; {what} + index", "import", "peer", cmd,
                          records=facts["records"], bytes=facts["plain"]))  # fmt: skip
        steps.append(step(f"peer import{tag}: gpg --decrypt", "import", "peer", peers.decrypt_gpg(keys, gpg_pkg),
                          records=facts["records"], bytes=facts["plain"]))  # fmt: skip

    def _latency(self, h: Homes, ds: data.Dataset) -> dict[str, Any]:
        a = self.args
        count = a.latency_packages + latency.WARMUP
        say(f"  latency: making {count} packages of {a.latency_size} changed records")
        files = list(data.change_stream(ds, count, a.latency_size, h.root / "latency-csv"))
        src = ds.change_source()
        hold = h.root / "latency-hold"
        made = step(
            "latency: make packages (ingest 1k changes + export, in one process)", "latency", "credgap",
            [*PY, "bench.parts", "produce", "--home", str(h.internal), "--hold", str(hold), "--kind", data.CHANGE_KIND, "--source",
             src["source"], "--source-uscc", src["source_uscc"], *map(str, files)],
            env=ENV,
        )  # fmt: skip
        packages = json.loads(made.stdout.strip().splitlines()[-1])["packages"]
        say(f"  latency: feeding {len(packages)} packages to public-node watch")
        figures = latency.measure(h, hold, packages, say=say)
        figures["make_packages_s"] = round(made.wall_s, 1)
        say(f"  latency: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms over {figures['packages']} packages")
        return figures


def pg_available(url: str) -> bool:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url)
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--full", action="store_true", help="N = 1M and 5M (make bench-full)")
    p.add_argument(
        "--n", type=int, action="append", help="records (repeatable); default 100k, or 1M and 5M with --full"
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--engines", default="sqlite,postgresql")
    p.add_argument("--pg-url", default=PG_URL, help="an administrative URL of a PostgreSQL server (trust auth)")
    p.add_argument("--latency-packages", type=int, default=500)
    p.add_argument("--latency-size", type=int, default=1000)
    p.add_argument("--no-latency", action="store_true")
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--work", default=str(WORK), help="where node homes and packages go (removed after each run)")
    p.add_argument("--keep", action="store_true", help="keep the work folders")
    p.add_argument("--quiet-load", type=float, default=1.0, help="wait for a 1-minute load under this first")
    p.add_argument("--wait-quiet", type=float, default=0.0, help="at most this many seconds (0: do not wait)")
    p.add_argument(
        "--profile", action="store_true", help="run each credgap step under cProfile and print where the time goes"
    )
    a = p.parse_args(argv)
    sizes = a.n or ([1_000_000, 5_000_000] if a.full else [100_000])
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    say("credgap bench: " + report.CHECKS_ON + ".")
    missing = peers.install(say) if not a.no_peers else []
    if "postgresql" in engines and not pg_available(a.pg_url):
        say(f"PostgreSQL: no server answers at {a.pg_url}: the PostgreSQL runs are skipped")
        engines.remove("postgresql")
    started = time.time()
    if a.profile:
        measure.PROFILE = report.RESULTS / f"profile-{time.strftime('%Y%m%dT%H%M%S')}"
        measure.PROFILE.mkdir(parents=True)
        say(f"profiling every credgap step into {measure.PROFILE} (times below include the profiler's overhead)")
    load_before = wait_for_quiet(a.quiet_load, a.wait_quiet, say=say)
    say(f"machine: {report.machine()}; load average before: {load_before:.2f}")
    bench = Bench(a, missing)
    runs = []
    for i, n in enumerate(sizes):
        ds = data.ensure(n, a.seed, say=say)
        for engine in engines:
            runs.append(bench.one(ds, engine, with_latency=(i == 0)))
    doc = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_s": round(time.time() - started),
        "machine": report.machine(),
        "load_average_before": round(load_before, 2),
        "checks": report.CHECKS_ON,
        "seed": a.seed,
        "runs": runs,
    }
    path = report.write(doc)
    if measure.PROFILE is not None:
        for prof in sorted(measure.PROFILE.glob("*.prof"), key=lambda p: p.stat().st_mtime):
            say(measure.profile_summary(prof))
            say("")
    say(f"results written to {path}")


if __name__ == "__main__":
    main()
