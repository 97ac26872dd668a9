"""Build the offline installation bundle (`make dist`, docs/OPERATIONS.md "Installing offline").

On a connected build machine of the target's kind (same Python minor version and architecture):

    dist/
      credgap-VERSION-py3-none-any.whl   credgap itself, installed with --no-deps
      wheelhouse/                        one wheel per pinned runtime dependency
      requirements.lock                  requirements/runtime.lock, hashes included
      install.sh                         checks SHA256SUMS, then installs with --no-index --require-hashes
      SHA256SUMS                         every file above, for `sha256sum -c`

Every wheel in the wheelhouse matches a hash of requirements/runtime.lock, except a wheel built here
from a source-only release (jieba): its sdist was checked against the lock before it was built, and
the built wheel's own hash is added to that requirement in the bundle's requirements.lock and to
SHA256SUMS (docs/adr/0015-deployment.md).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "runtime.lock"

INSTALL_SH = """\
#!/bin/sh
# Install credgap from this bundle into a virtual environment, without any network:
#   sh install.sh /opt/credgap            (then /opt/credgap/bin/internal-node, /opt/credgap/bin/public-node)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${1:?usage: sh install.sh TARGET_DIR}
cd "$here"
sha256sum --quiet -c SHA256SUMS
python3 -m venv "$target"
# PIP_CONFIG_FILE=/dev/null: no pip.conf adds an index, find-links or constraints of its own
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
"$target/bin/pip" install --no-index --find-links wheelhouse --require-hashes --only-binary :all: -r requirements.lock
"$target/bin/pip" install --no-index --no-deps credgap-*.whl
"$target/bin/internal-node" --version
"""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_entries(text: str) -> dict[str, set[str]]:
    """{normalised name: its hashes} of a hashed requirements file."""
    entries: dict[str, set[str]] = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==\S+", line)
        if match:
            current = normalise(match.group(1))
            entries[current] = set()
        for h in re.findall(r"--hash=sha256:([0-9a-f]{64})", line):
            if current is not None:
                entries[current].add(h)
    return entries


def wheel_project(path: Path) -> str:
    return normalise(path.name.split("-", 1)[0])


def add_hashes(text: str, extra: dict[str, list[str]]) -> str:
    """``text`` with each ``extra[name]`` hash added under that requirement's line."""
    out: list[str] = []
    for line in text.splitlines():
        out.append(line)
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==\S+ \\$", line)
        if match and normalise(match.group(1)) in extra:
            out.extend(f"    --hash=sha256:{h} \\" for h in extra[normalise(match.group(1))])
    return "\n".join(out) + "\n"


def run(*args: str) -> None:
    print("+", " ".join(args), flush=True)
    subprocess.run(args, check=True)


def build(out: Path, python: str) -> None:
    if out.exists():
        shutil.rmtree(out)
    wheelhouse = out / "wheelhouse"
    wheelhouse.mkdir(parents=True)
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    # hash-checked: each download must match runtime.lock; a source-only release is built into a wheel
    run(*pip, "wheel", "--quiet", "--require-hashes", "--no-deps", "-r", str(LOCK), "-w", str(wheelhouse))
    for stale in (ROOT / "build").glob("lib*"):  # setuptools reuses build/lib: a deleted module would ship
        shutil.rmtree(stale)
    run(*pip, "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT))
    lock_text = LOCK.read_text(encoding="utf-8")
    known = lock_entries(lock_text)
    built: dict[str, list[str]] = {}
    for wheel in sorted(wheelhouse.iterdir()):
        name, digest = wheel_project(wheel), sha256(wheel)
        if name not in known:
            raise SystemExit(f"make_dist: {wheel.name}: not a requirement of {LOCK.name}")
        if digest not in known[name]:
            built.setdefault(name, []).append(digest)
            print(f"  {wheel.name}: built here from its hash-checked source; its hash is added to requirements.lock")
    missing = sorted(set(known) - {wheel_project(w) for w in wheelhouse.iterdir()})
    if missing:
        raise SystemExit(f"make_dist: no wheel for {', '.join(missing)}")
    (out / "requirements.lock").write_text(add_hashes(lock_text, built), encoding="utf-8")
    (out / "install.sh").write_text(INSTALL_SH, encoding="utf-8")
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "SHA256SUMS")
    sums = "".join(f"{sha256(p)}  {p.relative_to(out).as_posix()}\n" for p in files)
    (out / "SHA256SUMS").write_text(sums, encoding="utf-8")
    print(f"make_dist: {out} ({len(files)} files, SHA256SUMS written)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    build(args.out, args.python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
