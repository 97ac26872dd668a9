"""Interoperability with the previous release, v0.1.0 (FORMAT.md §2.1, docs/OPERATIONS.md "Upgrading
across the gap"): the wheel is built from the git tag into its own virtual environment, and the two
releases exchange packages through a real transfer folder, both ways, as separate programs.

Two nodes across an air gap are never upgraded at the same moment. Both homes start on v0.1.0 and
trust each other's cards; then one node is upgraded (the new programs run on its home), and:

- old sender → new reader: the new node reads the old one's format-1 packages;
- new sender → old reader: the new node writes format 1, because the old one never advertised more;
- the other node is upgraded and carries its re-signed card (``keys export-card``, reads 2) across:
  from then on the first node writes format 2 to it, which it reads.

The old wheel is installed without its dependencies; a ``.pth`` file gives it this environment's
(the releases pin the same ones). Nothing is downloaded: ``pip wheel`` builds from the configured
local index. The test is skipped, with the reason, only when the wheel cannot be built here (no git
tag, no git, no build backend in the index); once built, every failure is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from transfer.limits import MAGICS

REPO = Path(__file__).resolve().parents[2]
TAG = "v0.1.0"
RELEASE_COMMIT = "5b6eea6"  # what v0.1.0 tags: a clone that did not fetch tags still has the commit on main
NEW_BIN = Path(sys.executable).parent
PASS = "interop-passphrase-2026"


def _build_old_release(root: Path) -> Path:
    """The ``bin`` folder of a virtual environment holding the v0.1.0 wheel (raises ``_Unbuildable``)."""
    git = shutil.which("git")
    if git is None:
        raise _Unbuildable("git is not installed")
    ref = next(
        (r for r in (TAG, RELEASE_COMMIT)
         if subprocess.run([git, "-C", str(REPO), "rev-parse", "-q", "--verify", f"{r}^{{commit}}"],
                           capture_output=True).returncode == 0),
        None,
    )  # fmt: skip
    if ref is None:
        raise _Unbuildable(f"neither the tag {TAG} nor its commit {RELEASE_COMMIT} is in this repository")
    src, wheels, venv = root / "src", root / "wheels", root / "venv"
    archive = root / "src.tar"
    subprocess.run([git, "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), ref], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(src, filter="data")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(src)],
        capture_output=True,
        text=True,
    )
    found = sorted(wheels.glob("credgap-*.whl")) if wheels.is_dir() else []
    if built.returncode != 0 or not found:
        last = (built.stderr.strip().splitlines() or ["no output"])[-1]
        raise _Unbuildable(f"pip wheel could not build {TAG} offline: {last[:200]}")
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(found[0])],
        check=True,
        capture_output=True,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # the dependencies from this environment, after the old wheel's own packages on sys.path
    (Path(purelib) / "_credgap_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    check = subprocess.run(
        [str(python), "-c", "import transfer.limits as l; print(l.__file__, hasattr(l, 'READS_FORMAT'))"],
        check=True, capture_output=True, text=True, cwd=root, env=_env(),
    ).stdout  # fmt: skip
    assert check.startswith(str(venv)) and check.strip().endswith("False"), f"not the old release: {check}"
    return venv / "bin"


class _Unbuildable(Exception):
    pass


def _env() -> dict[str, str]:
    """The programs' environment: nothing on PYTHONPATH that would put this checkout before a release."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["CREDGAP_INSECURE_TEST_KDF"] = "1"
    return env


@pytest.fixture(scope="session")
def old_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return _build_old_release(tmp_path_factory.mktemp("release-v0.1.0"))
    except _Unbuildable as exc:
        pytest.skip(f"interoperability with {TAG} not testable here: {exc}")


@dataclass
class Program:
    """One node's home, run by the old or the new release."""

    program: str  # internal-node | public-node
    home: Path
    bin: Path

    def __call__(self, *args: str, ok: bool = True) -> Any:
        r = subprocess.run(
            [str(self.bin / self.program), "--home", str(self.home), "--passphrase-file", str(self.home.parent / "pass"),
             *args],
            capture_output=True, text=True, env=_env(), timeout=300, cwd=self.home.parent,
        )  # fmt: skip
        if ok:
            assert r.returncode == 0, f"{self.bin.parent.name} {self.program} {' '.join(args)}: {r.stderr[-2000:]}"
        if "--json" in args:
            return json.loads(r.stdout)
        return r


def _setup(root: Path, old: Path, medium: Path) -> tuple[Program, Program]:
    """Both homes made, keyed and enrolled by v0.1.0, as they were before the upgrade."""
    (root / "pass").write_text(PASS + "\n")
    medium.mkdir()
    internal, public = Program("internal-node", root / "int", old), Program("public-node", root / "pub", old)
    for node, name in ((internal, "int"), (public, "pub")):
        node("init", "--name", f"互通测试-{name}", "--medium", str(medium))
        node("keys", "init")
    _enrol(internal, public, root)
    _enrol(public, internal, root)
    return internal, public


def _enrol(card_of: Program, at: Program, root: Path, *, reads: int | None = None) -> None:
    card = root / f"{card_of.home.name}.card"
    extra = () if reads is None else ("--reads", str(reads))
    out = card_of("keys", "export-card", "-o", str(card), "--json", *extra)
    at("keys", "trust", str(card), "--fingerprint", out["key_id"])


def _ingest(internal: Program, root: Path, n: int) -> None:
    from tests.integration.public_support import HOUSING, HOUSING_USCC, penalty

    path = root / f"penalty-{n}.jsonl"
    path.write_bytes(orjson.dumps(penalty(n, datetime.now(UTC).date())) + b"\n")
    internal("ingest", str(path), "--kind", "penalty", "--source", HOUSING, "--source-uscc", HOUSING_USCC)


def _formats(medium: Path) -> Iterator[int]:
    for path in sorted(medium.glob("*/*.cgp")):
        head = path.read_bytes()[:19]
        yield next(fmt for fmt, line in MAGICS.items() if head == line)


def _send(sender: Program, reader: Program, medium: Path) -> int:
    """The sender's next package, read by the reader: its format (every outcome must be applied)."""
    sender("export", "--json")
    [fmt] = list(_formats(medium))
    outcomes = reader("import", "--json")["outcomes"]
    assert [o["result"] for o in outcomes] == ["applied"], outcomes
    return fmt


@pytest.mark.parametrize("first", ["public", "internal"])
def test_the_previous_release_and_this_one_exchange_packages_both_ways(
    tmp_path: Path, old_bin: Path, first: str
) -> None:
    medium = tmp_path / "medium"
    internal, public = _setup(tmp_path, old_bin, medium)
    _ingest(internal, tmp_path, 1)
    assert _send(internal, public, medium) == 1, "both on v0.1.0"
    assert _send(public, internal, medium) == 1

    upgraded, old = (public, internal) if first == "public" else (internal, public)
    upgraded.bin = NEW_BIN
    upgraded("db", "upgrade")  # the upgrade procedure: new programs, then the new migrations
    _ingest(internal, tmp_path, 2)
    # old sender → new reader, and new sender → old reader: format 1 while the old node advertises nothing
    assert _send(internal, public, medium) == 1
    assert _send(public, internal, medium) == 1
    # the old release cannot read the new card (version 2): it refuses it and nothing changes
    card = tmp_path / "new.card"
    fp = upgraded("keys", "export-card", "-o", str(card), "--json")["key_id"]
    refused = old("keys", "trust", str(card), "--fingerprint", fp, ok=False)
    assert refused.returncode != 0 and "card" in refused.stderr, refused.stderr
    assert _send(upgraded, old, medium) == 1, "the new node still writes format 1 to the old one"

    # the other node is upgraded and advertises format 2 with its re-signed card
    old.bin = NEW_BIN
    old("db", "upgrade")
    _enrol(old, upgraded, tmp_path)
    assert _send(upgraded, old, medium) == 2, "the reader advertised format 2"
    assert _send(old, upgraded, medium) == 1, "the first node has not advertised its card yet"
    _enrol(upgraded, old, tmp_path)
    _ingest(internal, tmp_path, 3)
    assert _send(internal, public, medium) == 2
    assert _send(public, internal, medium) == 2
