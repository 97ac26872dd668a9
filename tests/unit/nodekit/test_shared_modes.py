"""The modes of SQLite's side files, for a reader of another user (docs/OPERATIONS.md, "File modes for a
read-only reader"): the engine gives ``-wal`` the database's mode and ``-shm`` (the WAL index every reader
writes) group write where the group reads, whatever the creating process's umask; and a new web database
in a folder its group may write is the group's to write too."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from nodekit.db import make_engine
from public_node.web.db import web_engine


@pytest.fixture
def narrow_umask() -> Iterator[None]:
    old = os.umask(0o077)  # the units' UMask=0077
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("narrow_umask")
def test_the_wal_files_take_the_databases_access(tmp_path: Path) -> None:
    db = tmp_path / "node.db"
    first = make_engine(f"sqlite:///{db}")
    with first.connect() as c:
        c.execute(text("CREATE TABLE t (x)"))
        c.commit()
    first.dispose()
    for side in ("-wal", "-shm"):
        (tmp_path / f"node.db{side}").unlink(missing_ok=True)
    db.chmod(0o640)  # as tmpfiles.d/credgap.conf sets it
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        c.execute(text("SELECT count(*) FROM t"))
        assert (_mode(tmp_path / "node.db-wal"), _mode(tmp_path / "node.db-shm")) == (0o640, 0o660)
    engine.dispose()

    db.chmod(0o600)  # a home of one user: nothing widened
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as c:
        c.execute(text("SELECT count(*) FROM t"))
        assert (_mode(tmp_path / "node.db-wal"), _mode(tmp_path / "node.db-shm")) == (0o600, 0o600)
    engine.dispose()


@pytest.mark.usefixtures("narrow_umask")
@pytest.mark.parametrize(("folder", "made"), [(0o2770, 0o660), (0o700, 0o600)])
def test_a_new_web_database_is_shared_where_its_folder_is(tmp_path: Path, folder: int, made: int) -> None:
    where = tmp_path / "web"
    where.mkdir()
    where.chmod(folder)
    engine = web_engine(f"sqlite:///{where}/web.db")
    with engine.connect() as c:
        c.execute(text("CREATE TABLE t (x)"))
        c.commit()
        assert {_mode(where / n) for n in ("web.db", "web.db-wal", "web.db-shm")} == {made}
    engine.dispose()
