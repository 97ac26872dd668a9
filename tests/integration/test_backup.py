"""``db backup`` and the restore procedure of docs/OPERATIONS.md, "Backup and restore" (issue 18,
point 20): a consistent copy while a writer holds a transaction open, refused over an existing
directory or for PostgreSQL (pg_dump), and a public node restored from an older backup that resumes
the exchange from the packages the internal node resends."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from internal_node.export import export
from nodekit.backup import backup
from nodekit.errors import ExitCode
from nodekit.models import ChannelRow
from nodekit.runtime import Node
from public_node import SPEC as PUBLIC
from public_node.importer import import_packages
from public_node.queries import record_counts
from tests.helpers import run_cli
from tests.integration.test_export import homes, ingest, penalty

pytestmark = pytest.mark.db
__all__ = ["homes"]


def _sqlite_only(request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--db") != "sqlite":
        pytest.skip("SQLite's backup; PostgreSQL's is pg_dump (test_postgresql_is_refused_with_pg_dump)")


def test_a_consistent_copy_even_while_a_writer_holds_a_transaction(homes: Any, request: pytest.FixtureRequest) -> None:
    _sqlite_only(request)
    a, _b, _clock, tmp = homes
    ingest(a, tmp, [penalty(1)])
    r = run_cli("internal-node", "--home", str(a.node.config.home), "db", "backup", str(tmp / "b1"), "--json")
    assert r.code == 0, r.err
    manifest = orjson.loads((tmp / "b1" / "BACKUP.json").read_bytes())
    assert manifest["role"] == "internal" and manifest["name"] == "int" and manifest["schema"]
    copy = tmp / "b1" / "node.db"
    assert manifest["files"]["node.db"]["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert sorted(p.name for p in (tmp / "b1").iterdir()) == ["BACKUP.json", "node.db"], "one file, no -wal"
    with sqlite3.connect(copy) as c:
        assert c.execute("SELECT count(*) FROM penalty").fetchone()[0] == 1
    assert copy.stat().st_mode & 0o077 == 0
    again = run_cli("internal-node", "--home", str(a.node.config.home), "db", "backup", str(tmp / "b1"))
    assert again.code == ExitCode.USAGE and "already exists" in again.err
    assert not [p for p in tmp.iterdir() if p.name.startswith(".b1")], "no partial directory left"

    # SQLite's online backup reads a snapshot: a writer's open transaction neither blocks it nor leaks into it
    writer = sqlite3.connect(a.node.engine.url.database)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE node_meta SET value = 'uncommitted' WHERE key = 'name'")
    try:
        backup({"node": a.node.config.database_url}, tmp / "b2", about={}, clock=a.node.clock)
    finally:
        writer.rollback()
        writer.close()
    with sqlite3.connect(tmp / "b2" / "node.db") as c:
        assert c.execute("SELECT value FROM node_meta WHERE key = 'name'").fetchone() == ("int",)


def test_postgresql_is_refused_with_pg_dump(homes: Any, request: pytest.FixtureRequest) -> None:
    if request.config.getoption("--db") != "postgresql":
        pytest.skip("a PostgreSQL database")
    a, _b, _clock, tmp = homes
    r = run_cli("internal-node", "--home", str(a.node.config.home), "db", "backup", str(tmp / "b"))
    assert r.code == ExitCode.USAGE and "pg_dump" in r.err and len(r.err.splitlines()) == 1
    assert not (tmp / "b").exists()


def test_a_public_node_restored_from_a_backup_resumes_the_exchange(homes: Any, request: pytest.FixtureRequest) -> None:
    _sqlite_only(request)
    a, b, clock, tmp = homes
    home = b.node.config.home
    ingest(a, tmp, [penalty(1)])
    export(a.node, a.identity)
    assert [o.result for o in import_packages(b.node, b.identity)] == ["applied"]
    r = run_cli("public-node", "--home", str(home), "db", "backup", str(tmp / "pub-backup"))
    assert r.code == 0, r.err
    for n in (2, 3):  # the exchange goes on after the backup
        clock.advance(minutes=5)
        ingest(a, tmp, [penalty(n)], f"p{n}.jsonl")
        export(a.node, a.identity)
    assert [o.result for o in import_packages(b.node, b.identity)] == ["applied", "applied"]

    # the disk is lost: the documented restore (stop the services; copy the database back; db upgrade)
    b.node.close()
    db = Path(b.node.config.database_url.removeprefix("sqlite:///"))
    for stale in db.parent.glob(db.name + "*"):
        stale.unlink()
    shutil.copyfile(tmp / "pub-backup" / "node.db", db)
    assert run_cli("public-node", "--home", str(home), "db", "upgrade").code == 0
    restored = Node.open(home, PUBLIC, clock=clock)
    with restored.sessions() as s:
        (inbound,) = s.scalars(select(ChannelRow).where(ChannelRow.outbound.is_(False)))
        assert inbound.last_seq == 1, "the backup's position"
    # resuming: the internal node resends what came after that position, with its original bytes
    r = run_cli("internal-node", "--home", str(a.node.config.home), "export", "--resend", "2..3")
    assert r.code == 0, r.err
    assert [o.result for o in import_packages(restored, b.identity)] == ["applied", "applied"]
    with restored.sessions() as s:
        assert record_counts(s, today=restored.today())["penalty"] == 3
    clock.advance(minutes=5)
    ingest(a, tmp, [penalty(4)], "p4.jsonl")
    export(a.node, a.identity)
    assert [o.result for o in import_packages(restored, b.identity)] == ["applied"], "and the next export follows"
    restored.close()


def test_an_internal_node_restored_by_the_documented_procedure_resumes_through_channel_recover(
    tmp_path: Path, database_factory: Any, request: pytest.FixtureRequest
) -> None:
    """docs/OPERATIONS.md, "Restoring an internal node": `db backup`, the disk lost, the backup put
    back, `db upgrade`, then `channel recover` on both sides: no sequence number is sealed twice and the
    public node reads the longer log as a recorded restore (no alarm)."""
    _sqlite_only(request)
    from tests.integration.test_channel_recover import Net, alarms, cli

    net = Net(tmp_path, database_factory)
    try:
        net.ingest(2)
        net.export()
        assert net.import_() == [(1, "applied", "")]
        assert net.returns() == ["applied"]
        home = net.internal.node.config.home
        assert cli(net.internal, "db", "backup", str(tmp_path / "nightly")).code == 0
        net.ingest(1)
        net.export()
        net.ingest(1)
        net.export()
        assert net.import_() == [(2, "applied", ""), (3, "applied", "")]

        # the disk fails: stop, put the backup back, db upgrade (keys/ and node.toml came from their own copy)
        net.internal.node.close()
        db = Path(net.internal.node.config.database_url.removeprefix("sqlite:///"))
        for stale in db.parent.glob(db.name + "*"):
            stale.unlink()
        shutil.copyfile(tmp_path / "nightly" / "node.db", db)
        assert run_cli("internal-node", "--home", str(home), "db", "upgrade").code == 0
        assert net.sent_seqs() == [1], "the restored database forgot seq 2 and 3"

        _pub, internal = net.recover_both("internal node restored from the nightly db backup", restored=True)
        assert internal["next_seq"] == 5
        net.ingest(1)
        assert net.export().seq == 5
        assert net.import_() == [(5, "rebased", "")]
        assert net.sent_seqs() == [1, 5], "no sequence number sent before the restore is used again"
        assert alarms(net.public) == [] and alarms(net.internal) == []
    finally:
        net.internal.node.close()
        net.public.node.close()


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None)
    if found is None:
        pytest.fail(f"{name} is missing (Debian's postgresql-client)")
    return str(found)


def test_a_public_node_on_postgresql_restored_with_pg_restore_resumes(
    homes: Any, request: pytest.FixtureRequest
) -> None:
    """The documented pg_dump / pg_restore, then the same resend as for SQLite."""
    if request.config.getoption("--db") != "postgresql":
        pytest.skip("pg_dump and pg_restore are for PostgreSQL")
    import subprocess

    from sqlalchemy.engine import make_url

    a, b, clock, tmp = homes
    home = b.node.config.home
    libpq = make_url(b.node.config.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    ingest(a, tmp, [penalty(1)])
    export(a.node, a.identity)
    assert [o.result for o in import_packages(b.node, b.identity)] == ["applied"]
    dump = tmp / "public.dump"
    subprocess.run([_pg_tool("pg_dump"), "--format=custom", f"--file={dump}", f"--dbname={libpq}"], check=True)
    for n in (2, 3):
        clock.advance(minutes=5)
        ingest(a, tmp, [penalty(n)], f"p{n}.jsonl")
        export(a.node, a.identity)
    assert [o.result for o in import_packages(b.node, b.identity)] == ["applied", "applied"]

    b.node.close()
    subprocess.run(
        [_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", f"--dbname={libpq}", str(dump)], check=True
    )
    assert run_cli("public-node", "--home", str(home), "db", "upgrade").code == 0
    restored = Node.open(home, PUBLIC, clock=clock)
    try:
        with restored.sessions() as s:
            (inbound,) = s.scalars(select(ChannelRow).where(ChannelRow.outbound.is_(False)))
            assert inbound.last_seq == 1
        assert run_cli("internal-node", "--home", str(a.node.config.home), "export", "--resend", "2..3").code == 0
        assert [o.result for o in import_packages(restored, b.identity)] == ["applied", "applied"]
        with restored.sessions() as s:
            assert record_counts(s, today=restored.today())["penalty"] == 3
    finally:
        restored.close()
