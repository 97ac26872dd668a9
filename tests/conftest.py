"""Shared fixtures: the database under test (SQLite or PostgreSQL), fixed clocks and node homes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ENV = "CREDGAP_TEST_PG_URL"

# Tests read the programs' English (message ids) unless they ask for a language (--lang, LANG in
# run_cli's env): a developer's zh_CN locale must not change what they compare (nodekit.i18n).
for _var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_var, None)
os.environ["LANG"] = "C.UTF-8"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("CREDGAP_TEST_DB", "sqlite"),
        help=f"database engine for tests marked 'db' (postgresql needs {PG_ENV})",
    )


@pytest.fixture(scope="session")
def db_engine_name(request: pytest.FixtureRequest) -> str:
    name: str = request.config.getoption("--db")
    if name == "postgresql" and not os.environ.get(PG_ENV):
        pytest.exit(f"--db=postgresql needs {PG_ENV}", returncode=2)
    return name


def _pg_admin_url() -> str:
    return os.environ[PG_ENV].replace("postgresql://", "postgresql+psycopg://", 1)


def create_database_url(engine_name: str, tmp_path: Path, label: str = "node") -> tuple[str, object]:
    """A fresh, empty database for one test: a SQLite file, or a new UTF-8 PostgreSQL database."""
    if engine_name == "sqlite":
        return f"sqlite:///{tmp_path / (label + '.db')}", None
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    dbname = f"cgtest_{label}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {dbname} ENCODING 'UTF8' TEMPLATE template0"))
    admin.dispose()
    url = make_url(_pg_admin_url()).set(database=dbname).render_as_string(hide_password=False)
    return url, dbname


def drop_database(dbname: object) -> None:
    if dbname is None:
        return
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def database_url(db_engine_name: str, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database on the engine selected with --db."""
    url, handle = create_database_url(db_engine_name, tmp_path)
    yield url
    drop_database(handle)


@pytest.fixture
def database_factory(db_engine_name: str, tmp_path: Path) -> Iterator[object]:
    """Make several empty databases in one test (e.g. one per node)."""
    handles: list[object] = []

    def make(label: str) -> str:
        url, handle = create_database_url(db_engine_name, tmp_path, label)
        handles.append(handle)
        return url

    yield make
    for h in handles:
        drop_database(h)


FIXED_NOW = datetime(2026, 11, 26, 8, 0, 0, tzinfo=UTC)


@pytest.fixture
def fixed_now() -> datetime:
    return FIXED_NOW


@pytest.fixture(autouse=True)
def _insecure_test_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Key files made in tests use the fast, test-only Argon2id profile (keys.keyfile.TEST_PROFILE)."""
    monkeypatch.setenv("CREDGAP_INSECURE_TEST_KDF", "1")
