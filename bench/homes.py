"""Two node homes for a bench run: an internal and a public node sharing a transfer folder, each with
its own keys and trusting the other's card by fingerprint, on SQLite files or on scratch PostgreSQL
databases created for the run and dropped after it."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

BIN = Path(sys.executable).parent
# Keys without a passphrase, and the fast test KDF for anything that still asks: nothing in a bench
# run protects real keys, and Argon2id would only add a constant to every command.
ENV = {"CREDGAP_INSECURE_TEST_KDF": "1"}


@dataclass(frozen=True)
class Homes:
    root: Path
    internal: Path
    public: Path
    medium: Path
    engine: str  # sqlite | postgresql
    internal_url: str
    public_url: str
    public_node_id: str = ""
    pg: PgDatabases | None = dataclasses.field(default=None, compare=False, repr=False)

    def internal_cmd(self, *args: str) -> list[str]:
        return [str(BIN / "internal-node"), "--home", str(self.internal), *args]

    def public_cmd(self, *args: str) -> list[str]:
        return [str(BIN / "public-node"), "--home", str(self.public), *args]

    def channel_dir(self) -> Path:
        """The medium folder of the internal -> public channel (exists after the first export)."""
        dirs = [d for d in self.medium.iterdir() if d.is_dir() and d.name.endswith("_to_" + self.public_node_id)]
        if len(dirs) != 1:
            raise RuntimeError(f"expected one channel folder to the public node in {self.medium}, found {dirs}")
        return dirs[0]


def _env() -> dict[str, str]:
    return {**os.environ, **ENV}


def _sh(cmd: list[str]) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {out.returncode}\n{out.stderr}{out.stdout}")
    return out.stdout


class PgDatabases:
    """Scratch UTF-8 databases on a PostgreSQL server, dropped when the run ends."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.created: list[str] = []

    def create(self, label: str, *, template: str | None = None) -> str:
        name = f"credgap_bench_{label}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE {template or 'template0'}"))
        admin.dispose()
        self.created.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            for name in self.created:
                c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
        self.created.clear()


def libpq_url(url: str) -> str:
    """The URL as psql and psycopg take it (no SQLAlchemy driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def homes(root: Path, engine: str, pg_admin_url: str | None) -> Iterator[Homes]:
    """Fresh homes under ``root`` (replaced if present); PostgreSQL databases dropped afterwards."""
    if root.exists():
        shutil.rmtree(root)
    (root / "medium").mkdir(parents=True)
    pg = PgDatabases(pg_admin_url) if engine == "postgresql" and pg_admin_url else None
    if engine == "postgresql" and pg is None:
        raise RuntimeError("PostgreSQL run without a server URL")
    try:
        if pg is not None:
            int_url, pub_url = pg.create("int"), pg.create("pub")
        else:
            int_url, pub_url = f"sqlite:///{root / 'int' / 'node.db'}", f"sqlite:///{root / 'pub' / 'node.db'}"
        h = Homes(root, root / "int", root / "pub", root / "medium", engine, int_url, pub_url, pg=pg)
        _sh(h.internal_cmd("init", "--name", "bench-internal", "--medium", str(h.medium), "--database-url", int_url))
        _sh(h.public_cmd("init", "--name", "bench-public", "--medium", str(h.medium), "--database-url", pub_url))
        for cmd, card in ((h.internal_cmd, root / "int.card"), (h.public_cmd, root / "pub.card")):
            _sh(cmd("keys", "init", "--no-passphrase"))
            _sh(cmd("keys", "export-card", "-o", str(card)))
        int_key = json.loads(_sh(h.internal_cmd("keys", "show", "--json")))["key_id"]
        pub_show = json.loads(_sh(h.public_cmd("keys", "show", "--json")))
        pub_key = pub_show["key_id"]
        h = dataclasses.replace(h, public_node_id=pub_show["node_id"])
        _sh(h.public_cmd("keys", "trust", str(root / "int.card"), "--fingerprint", int_key))
        _sh(h.internal_cmd("keys", "trust", str(root / "pub.card"), "--fingerprint", pub_key))
        yield h
    finally:
        if pg is not None:
            pg.drop_all()


def clone_public(h: Homes, name: str) -> tuple[Path, Path, str]:
    """A copy of the public home as it is now (same keys and trust, own database and medium): a second
    receiver of the same packages, for the measurements that must not touch the real one. Returns the
    home, its medium and its database URL."""
    home, medium = h.root / name, h.root / f"{name}-medium"
    shutil.copytree(h.public, home)
    medium.mkdir()
    if h.pg is not None:
        url = h.pg.create(name.replace("-", "_"), template=make_url(h.public_url).database)
    else:
        url = f"sqlite:///{home / 'node.db'}"
    toml = home / "node.toml"
    lines = []
    for line in toml.read_text().splitlines():
        if line.startswith("url = "):
            line = f'url = "{url}"'
        elif line.startswith("medium = "):
            line = f'medium = "{medium}"'
        lines.append(line)
    toml.write_text("\n".join(lines) + "\n")
    return home, medium, url
