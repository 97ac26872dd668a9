"""Bench helpers that run in their own process (so the OS measures each one alone) and print one JSON line:

    python -m bench.parts ceiling --url URL [--since N] [--full]   # read the prepared rows, frame them
    python -m bench.parts open --home PUB PACKAGE                  # verify, decrypt, decompress, validate
    python -m bench.parts apply-no-index --home PUB                # import with search maintenance off
    python -m bench.parts produce --home INT --hold DIR --kind K --source S --source-uscc U FILE...
                                                                   # ingest + export per file, packages kept aside

``ceiling`` is the floor of an export: the stages Python cannot avoid (reading each prepared row through
the driver, encoding it to bytes, framing it); everything else an export does is on top of it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ENV_KDF = "CREDGAP_INSECURE_TEST_KDF"


def ceiling(url: str, since: int, full: bool) -> dict[str, Any]:
    """Read the prepared items of an export in order, as UTF-8 bytes through the bare driver, and
    frame them (length prefix, joined per batch): nothing an export could leave out."""
    sqlite = url.startswith("sqlite")
    item = "CAST(item AS BLOB)" if sqlite else "convert_to(item, 'UTF8')"
    state = " AND state = 'publish'" if full else ""
    # the export's own order and the unique index on pub_seq (the state is filtered as it streams there)
    q = f"SELECT {item}, state FROM publication WHERE item IS NOT NULL AND pub_seq > {since} ORDER BY pub_seq"
    n = size = 0
    if sqlite:
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        rows: Any = conn.execute(q)
        batches = iter(lambda: rows.fetchmany(1000), [])
    else:
        import psycopg

        from bench.homes import libpq_url

        pg = psycopg.connect(libpq_url(url))
        cur = pg.cursor(name="bench_ceiling")  # server-side: rows stream, memory stays flat
        cur.itersize = 5000
        cur.execute(q)
        batches = iter(lambda: cur.fetchmany(1000), [])
    for batch in batches:
        parts: list[bytes] = []
        for body, st in batch:
            if state and st != "publish":
                continue
            parts.append(len(body).to_bytes(4, "big"))
            parts.append(body)
        n += len(parts) // 2
        size += len(b"".join(parts))
    return {"records": n, "bytes": size}


def _public(home: Path) -> tuple[Any, Any]:
    from nodekit.identity_ops import load_identity
    from nodekit.runtime import Node
    from public_node import SPEC

    node = Node.open(home, SPEC)
    return node, load_identity(node)


def open_only(home: Path, package: Path) -> dict[str, Any]:
    """Steps 1-6 of FORMAT.md §14 on one package, as the import does them, with no database write."""
    from nodekit import trust_store
    from transfer.files import read_chunks
    from transfer.opener import OpenContext, PackageOpener

    node, identity = _public(home)
    with node.sessions() as s:
        trust = trust_store.load_trust_state(s)
    ctx = OpenContext(
        own_node=identity.node_id, own_role="public", trust=trust, own_keys=identity.secret_for,
        now=int(time.time()),
    )  # fmt: skip
    opener = PackageOpener(read_chunks(package), ctx, file_size=package.stat().st_size)
    opener.header()
    n = sum(1 for item in opener.items() if item["kind"] == "record")
    return {"records": n, "bytes": opener.header().header.plain}


def apply_no_index(home: Path) -> dict[str, Any]:
    """``public-node import`` with the search-index maintenance switched off (records applied only)."""
    from public_node import search
    from public_node.importer import import_packages

    def off(*_: Any, **__: Any) -> None:
        return None

    search.index_applied = off  # type: ignore[assignment]
    search.refresh_subjects = off  # type: ignore[assignment]
    node, identity = _public(home)
    outcomes = import_packages(node, identity)
    return {"outcomes": [o.as_dict() for o in outcomes]}


def produce(home: Path, hold: Path, files: list[Path], kind: str, source: str, source_uscc: str) -> dict[str, Any]:
    """For each change file: ingest it and export; move the sealed package off the medium into ``hold``
    (the latency run puts them back one by one while ``public-node watch`` runs)."""
    from internal_node import SPEC
    from internal_node.export import export
    from internal_node.ingest import ingest_file
    from nodekit.identity_ops import load_identity
    from nodekit.runtime import Node

    node = Node.open(home, SPEC)
    identity = load_identity(node)
    hold.mkdir(parents=True, exist_ok=True)
    made: list[dict[str, Any]] = []
    for f in files:
        ingest_file(node, f, kind=kind, source=source, source_uscc=source_uscc)
        report = export(node, identity)
        for sent in report.sent:
            if sent.medium is None:
                raise RuntimeError(f"package {sent.seq} was not written to the medium")
            target = hold / sent.medium.name
            os.replace(sent.medium, target)
            made.append({"file": target.name, "seq": sent.seq, "records": sent.counts.get("record", 0)})
    return {"packages": made}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.parts")
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("ceiling")
    c.add_argument("--url", required=True)
    c.add_argument("--since", type=int, default=0)
    c.add_argument("--full", action="store_true")
    o = sub.add_parser("open")
    o.add_argument("--home", type=Path, required=True)
    o.add_argument("package", type=Path)
    a = sub.add_parser("apply-no-index")
    a.add_argument("--home", type=Path, required=True)
    pr = sub.add_parser("produce")
    pr.add_argument("--home", type=Path, required=True)
    pr.add_argument("--hold", type=Path, required=True)
    pr.add_argument("--kind", required=True)
    pr.add_argument("--source", required=True)
    pr.add_argument("--source-uscc", required=True)
    pr.add_argument("files", type=Path, nargs="+")
    args = p.parse_args(argv)
    os.environ.setdefault(ENV_KDF, "1")
    if args.cmd == "ceiling":
        out = ceiling(args.url, args.since, args.full)
    elif args.cmd == "open":
        out = open_only(args.home, args.package)
    elif args.cmd == "apply-no-index":
        out = apply_no_index(args.home)
    else:
        out = produce(args.home, args.hold, args.files, args.kind, args.source, args.source_uscc)
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
