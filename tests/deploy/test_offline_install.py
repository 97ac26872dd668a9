"""The offline bundle of `make dist` installs and runs on a machine with no network (issue 18, point 16).

The bundle is built by `make dist` (CI builds it before the tests; set CREDGAP_DIST_DIR to test
another one). The install runs in a new network namespace with only a loopback interface
(``unshare --net``), with pip's configuration files disabled (``PIP_CONFIG_FILE=/dev/null``: no
index, find-links or constraints of this machine's pip.conf) and ``PIP_NO_INDEX=1``; a probe in the
same namespace first shows that no outside address is reachable. Without ``unshare`` (not root), the
same install runs with an index URL that refuses connections, so a fetch would fail loudly.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.make_dist import add_hashes, lock_entries, normalise

ROOT = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("CREDGAP_DIST_DIR", ROOT / "dist"))

pytestmark = pytest.mark.slow


def _offline_prefix() -> list[str]:
    """The command prefix that cuts the network off, or [] when this process may not."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    probe = subprocess.run([unshare, "--net", "true"], capture_output=True)
    return [unshare, "--net"] if probe.returncode == 0 else []


def _bundle() -> Path:
    if not (DIST / "SHA256SUMS").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{DIST}: no bundle; .ci/run builds it with `make dist` before the tests")
        pytest.skip(f"{DIST}: no bundle (run `make dist`)")
    return DIST


def test_bundle_sums_cover_every_file() -> None:
    dist = _bundle()
    listed = {}
    for line in (dist / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    files = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file() and p.name != "SHA256SUMS"}
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest, name
    assert any(n.startswith("credgap-") and n.endswith(".whl") for n in files)


def test_every_wheel_in_the_wheelhouse_is_pinned_by_hash() -> None:
    dist = _bundle()
    entries = lock_entries((dist / "requirements.lock").read_text())
    wheels = sorted((dist / "wheelhouse").iterdir())
    assert wheels
    for wheel in wheels:
        name = normalise(wheel.name.split("-", 1)[0])
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() in entries[name], wheel.name


def test_install_into_a_fresh_venv_without_network(tmp_path: Path) -> None:
    dist = _bundle()
    prefix = _offline_prefix()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "CREDGAP_", "VIRTUAL_ENV"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    if prefix:
        # the proof that the namespace has no way out: connecting anywhere but loopback fails
        probe = "import socket\ntry:\n socket.create_connection(('192.0.2.1', 443), timeout=2)\nexcept OSError as e:\n print('unreachable', e.errno)"
        out = subprocess.run([*prefix, sys.executable, "-c", probe], capture_output=True, text=True, env=env)
        assert out.stdout.startswith("unreachable"), out
    else:
        env["PIP_INDEX_URL"] = "http://127.0.0.1:9/simple"  # the discard port: any fetch fails
    target = tmp_path / "credgap"
    install = subprocess.run(
        [*prefix, "sh", str(dist / "install.sh"), str(target)], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    assert "internal-node (credgap)" in install.stdout
    # the runtime imports every dependency it needs, PostgreSQL's driver and the metrics client included
    check = "import psycopg, prometheus_client, tzdata, public_node.web.app, internal_node.cli, zoneinfo; zoneinfo.ZoneInfo('Asia/Shanghai')"
    run = subprocess.run(
        [*prefix, str(target / "bin" / "python"), "-c", check], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # the package data came along: the operators' zh-CN catalogue, the platform's templates
    zh = subprocess.run(
        [*prefix, str(target / "bin" / "internal-node"), "--lang", "zh_CN", "--help"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert zh.returncode == 0 and "退出码" in zh.stdout, zh.stdout[-2000:] + zh.stderr[-2000:]
    dev = subprocess.run([str(target / "bin" / "python"), "-c", "import pytest"], capture_output=True, env=env)
    assert dev.returncode != 0, "a development tool got into the runtime bundle"


def test_a_tampered_wheel_stops_the_install(tmp_path: Path) -> None:
    dist = _bundle()
    copy = tmp_path / "dist"
    shutil.copytree(dist, copy)
    wheel = next(p for p in (copy / "wheelhouse").iterdir() if p.name.startswith("click-"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1")
    out = subprocess.run(["sh", str(copy / "install.sh"), str(tmp_path / "v")], capture_output=True, text=True, env=env)
    assert out.returncode != 0
    assert "click-" in out.stdout + out.stderr
    assert not (tmp_path / "v").exists()


def test_the_runtime_lock_matches_the_development_pins() -> None:
    """runtime.lock and constraints.txt pin the same versions: the bundle runs what the tests ran."""
    lock = (ROOT / "requirements" / "runtime.lock").read_text()
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[normalise(name)] = version.strip()
    import re

    locked = {normalise(m[0]): m[1] for m in re.findall(r"^([A-Za-z0-9][\w.-]*)==(\S+)", lock, re.M)}
    assert locked, "runtime.lock pins nothing"
    for name, version in locked.items():
        assert pins.get(name) == version, f"{name}: runtime.lock {version}, constraints.txt {pins.get(name)}"
    for name, hashes in lock_entries(lock).items():
        assert hashes, f"{name}: no hash in runtime.lock"
    assert "psycopg" in locked and "tzdata" in locked and "prometheus-client" in locked
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["postgresql"]]
    for requirement in wanted:
        name = normalise(re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0])
        assert name in locked, f"{name}: in pyproject.toml, not in requirements/runtime.lock (run `make lock`)"
    assert "pytest" not in locked and "mypy" not in locked


def test_add_hashes_puts_a_built_wheel_under_its_requirement() -> None:
    text = (
        "jieba==0.42.1 \\\n    --hash=sha256:"
        + "a" * 64
        + "\n    # via credgap\nzstandard==1 \\\n    --hash=sha256:"
        + "c" * 64
        + "\n"
    )
    out = add_hashes(text, {"jieba": ["b" * 64]})
    assert lock_entries(out) == {"jieba": {"a" * 64, "b" * 64}, "zstandard": {"c" * 64}}
