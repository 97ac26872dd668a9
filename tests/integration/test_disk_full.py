"""A full disk under a node (issue 12 case 17), on a real tmpfs filled by the test: the operator reads
"disk full: <path>" and exit 1, never an internal error, SQL or a subject's row; nothing is applied or
sealed; once there is room again, the same command does the work, exactly once.

On PostgreSQL the database's disk is the server's and cannot be filled per test; there the node
home's own folders fill (staging, archive), and tests/unit/nodekit/test_db_faults.py maps the
server's disk_full SQLSTATE."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from exchange.crash import PAUSE_DIR_ENV, PAUSE_ENV
from internal_node import SPEC as INTERNAL
from internal_node.export import export
from nodekit.db import database_location
from nodekit.errors import ExitCode
from public_node import SPEC as PUBLIC
from tests.faults import TIMEOUT, fill
from tests.helpers import run_cli
from tests.integration.medium_support import Pause, tmpfs
from tests.integration.public_support import BIN, channel_packages, ingest_rows, package_files, penalty, program_env
from tests.nodes import Clock, Home, make_home, trust_each_other

pytestmark = pytest.mark.db

PARTY = "昆明示例建筑工程有限公司"  # a subject's name in the rows: it must never reach an operator's message


@dataclass
class Pair:
    internal: Home
    public: Home
    medium: Path
    disk: Path  # the tmpfs holding one of the two homes
    engine: str

    def close(self) -> None:
        self.internal.node.close()
        self.public.node.close()


@pytest.fixture
def on_disk(
    tmp_path: Path, database_factory: Callable[[str], str], db_engine_name: str
) -> Iterator[Callable[[str], Pair]]:
    """``on_disk("public")`` or ``on_disk("internal")``: the two nodes, that one's home on a 16 MB tmpfs."""
    pairs: list[Pair] = []
    with tmpfs(tmp_path / "disk", "16m") as disk:

        def make(which: str) -> Pair:
            clock = Clock()
            medium = tmp_path / "medium"
            medium.mkdir()
            a_root, b_root = (disk, tmp_path) if which == "internal" else (tmp_path, disk)
            # SQLite: each database in its home (the default), so the filled disk holds one of them
            url = database_factory if db_engine_name == "postgresql" else (lambda _label: None)
            a = make_home(a_root, INTERNAL, "int", medium, clock, url("int"))
            b = make_home(b_root, PUBLIC, "pub", medium, clock, url("pub"))
            trust_each_other(a, b, clock)
            pair = Pair(a, b, medium, disk, db_engine_name)
            pairs.append(pair)
            return pair

        yield make
        for p in pairs:
            p.close()


def seal_records(pair: Pair, tmp_path: Path, n: int = 3) -> None:
    rows = [penalty(i, date(2026, 10, 1)) for i in range(n)]
    assert ingest_rows(pair.internal.node, "penalty", rows, tmp_path / "department-files").accepted
    [sent] = export(pair.internal.node, pair.internal.identity).sent
    assert sent.medium is not None


def truncate_wal(home: Home) -> None:
    """SQLite: checkpoint the WAL and cut it to nothing, so the next write transaction needs new room."""
    db = Path(database_location(home.node.config.database_url))
    home.node.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        conn.close()


def assert_disk_full(code: int, out: str, err: str, program: str, inside: Path) -> str:
    """Exit 1, one line ``disk full: <path>`` naming a path under ``inside``; no SQL, no row data."""
    assert code == ExitCode.FAILURE, err
    [line] = err.splitlines()
    prefix = f"{program}: error: disk full: "
    assert line.startswith(prefix), line
    where = line.removeprefix(prefix)
    assert Path(where).is_relative_to(inside), where
    for text in (out, err):
        assert PARTY not in text and "INSERT" not in text and "[SQL" not in text and "Traceback" not in text
    return where


def test_a_full_disk_before_an_import_is_reported_and_the_retry_applies(on_disk: Any, tmp_path: Path) -> None:
    pair = on_disk("public")
    seal_records(pair, tmp_path)
    filler = fill(pair.disk)
    home = str(pair.public.node.config.home)
    r = run_cli("public-node", "--home", home, "import", "--json")
    assert_disk_full(r.code, "", r.err, "public-node", pair.disk)
    assert r.json()["error"]["reason"] == "disk-full"  # type: ignore[index]
    filler.unlink()
    assert channel_packages(pair.public.node, pair.internal.id, pair.public.id) == []
    assert len(package_files(pair.medium)) == 1, "the package waits on the medium"
    r = run_cli("public-node", "--home", home, "import", "--json")
    assert r.code == 0, r.err
    assert [(o["seq"], o["result"]) for o in r.json()["outcomes"]] == [(1, "applied")]  # type: ignore[index]


def test_a_disk_filling_during_the_apply_is_reported_and_nothing_is_applied(on_disk: Any, tmp_path: Path) -> None:
    pair = on_disk("public")
    if pair.engine != "sqlite":
        pytest.skip("the database must be on the filled disk: SQLite (PostgreSQL's SQLSTATE: test_db_faults.py)")
    seal_records(pair, tmp_path)
    truncate_wal(pair.public)  # the apply's commit must grow the WAL: it cannot reuse old frames
    pause = Pause(tmp_path / "pauses", "mid-apply")
    home = pair.public.node.config.home
    proc = subprocess.Popen(
        [str(BIN / "public-node"), "--home", str(home), "import"],
        env={**program_env(), PAUSE_ENV: pause.point, PAUSE_DIR_ENV: str(pause.folder)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    pause.reached(proc)
    filler = fill(pair.disk)  # the disk fills while the package is half applied
    pause.go()
    out, err = proc.communicate(timeout=TIMEOUT)
    where = assert_disk_full(proc.returncode, out.decode(), err.decode(), "public-node", pair.disk)
    assert where == database_location(pair.public.node.config.database_url)
    filler.unlink()  # (SQLite cannot even be opened on the full disk to look)
    assert channel_packages(pair.public.node, pair.internal.id, pair.public.id) == [], "nothing applied"
    r = run_cli("public-node", "--home", str(home), "import", "--json")
    assert r.code == 0, r.err
    assert [(o["seq"], o["result"]) for o in r.json()["outcomes"]] == [(1, "applied")]  # type: ignore[index]
    assert channel_packages(pair.public.node, pair.internal.id, pair.public.id) == [(1, "applied")]


def test_a_full_disk_during_an_export_names_the_disk_and_never_a_row(on_disk: Any, tmp_path: Path) -> None:
    pair = on_disk("internal")
    rows = [penalty(i, date(2026, 10, 1)) for i in range(3)]
    assert ingest_rows(pair.internal.node, "penalty", rows, tmp_path / "department-files").accepted
    if pair.engine == "sqlite":
        truncate_wal(pair.internal)  # the export's first write transaction must grow the WAL
    filler = fill(pair.disk)
    home = str(pair.internal.node.config.home)
    r = run_cli("internal-node", "--home", home, "export", "--json")
    where = assert_disk_full(r.code, r.out, r.err, "internal-node", pair.disk)
    if pair.engine == "sqlite":
        assert where == database_location(pair.internal.node.config.database_url)
    filler.unlink()  # (SQLite cannot even be opened on the full disk to look)
    assert channel_packages(pair.internal.node, pair.internal.id, pair.public.id) == [], "nothing sealed"
    assert package_files(pair.medium) == []
    r = run_cli("internal-node", "--home", home, "export", "--json")
    assert r.code == 0, r.err
    assert [p["seq"] for p in r.json()["sent"]] == [1]  # type: ignore[index]
    assert len(package_files(pair.medium)) == 1
