"""The platform under its own user (deploy/: sysusers, tmpfiles, the serve unit), for real: the shipped
sysusers.d and tmpfiles.d files applied to a scratch root by systemd's own tools, a public node made there
by the node's user, and ``public-node serve`` started as ``credgap-web``, which serves pages from the
published database and writes its own, while the node's key, log and quarantine stay out of its reach.
Needs root (to act as two users) and systemd's tools; skipped without them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NODE_UID, WEB_UID = 64010, 64011  # the scratch root's users, remapped to ids no host account uses
TOOLS = ("systemd-sysusers", "systemd-tmpfiles", "setpriv")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in TOOLS),
    reason="needs root, systemd-sysusers/-tmpfiles, setpriv",
)


def _entries(path: Path) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in path.read_text().splitlines() if line}


@pytest.fixture
def scratch() -> Iterator[Path]:
    # not pytest's tmp_path: its parents are root's alone, and the two users must reach this one
    root = Path(tempfile.mkdtemp(prefix="credgap-deploy-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_the_shipped_users(scratch: Path) -> None:
    (scratch / "etc").mkdir()
    (scratch / "usr/lib/sysusers.d").mkdir(parents=True)
    shutil.copy(ROOT / "deploy/sysusers.d/credgap.conf", scratch / "usr/lib/sysusers.d/")
    subprocess.run(["systemd-sysusers", "--root", str(scratch)], check=True, capture_output=True)
    users, groups = _entries(scratch / "etc/passwd"), _entries(scratch / "etc/group")
    assert {"credgap", "credgap-web"} <= users.keys()
    assert users["credgap-web"][3] == groups["credgap-web"][2], "credgap-web's own group"
    assert users["credgap-web"][2] != users["credgap"][2]
    assert groups["credgap-web"][3].split(",") == ["credgap"], "the node's user writes the web database too"
    assert groups["credgap"][3] == "", "nobody else reads the node's own files"


def _as(uid: int, gid: int, groups: list[int]) -> list[str]:
    extra = ["--groups", ",".join(map(str, groups))] if groups else ["--clear-groups"]
    return ["setpriv", "--reuid", str(uid), "--regid", str(gid), *extra, "--inh-caps=-all", "--"]


def _umask(mask: int) -> Callable[[], None]:
    """What the unit's UMask= does, for a child (setpriv keeps it across the exec)."""
    return lambda: os.umask(mask) and None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _runnable_by(uid: int) -> str:
    """Why another user cannot run this checkout's ``public-node`` here ("" when it can): the checkout or
    the interpreter under a folder only root may enter (a CI clone in a private temporary folder)."""
    probe = subprocess.run([*_as(uid, uid, []), str(BIN / "public-node"), "--help"], capture_output=True, text=True)
    return "" if probe.returncode == 0 else (probe.stderr.strip().splitlines() or [f"exit {probe.returncode}"])[-1]


def test_serve_runs_as_its_own_user_and_reads_the_published_database(scratch: Path) -> None:
    why = _runnable_by(NODE_UID)
    if why:
        pytest.skip(f"another user cannot run {BIN / 'public-node'} from this checkout: {why}")
    (scratch / "etc").mkdir()
    (scratch / "etc/passwd").write_text(
        f"credgap:x:{NODE_UID}:{NODE_UID}::/var/lib/credgap:/usr/sbin/nologin\n"
        f"credgap-web:x:{WEB_UID}:{WEB_UID}::/var/lib/credgap/web:/usr/sbin/nologin\n"
    )
    (scratch / "etc/group").write_text(f"credgap:x:{NODE_UID}:\ncredgap-web:x:{WEB_UID}:credgap\n")
    conf = scratch / "usr/lib/tmpfiles.d"
    conf.mkdir(parents=True)
    shutil.copy(ROOT / "deploy/tmpfiles.d/credgap.conf", conf)
    tmpfiles = ["systemd-tmpfiles", "--root", str(scratch), "--create"]
    subprocess.run(tmpfiles, check=True, capture_output=True)
    home, web = scratch / "var/lib/credgap/public", scratch / "var/lib/credgap/web"
    env = {**os.environ, "HOME": str(scratch), "USER": "credgap", "LOGNAME": "credgap", "LANG": "C.UTF-8"}
    node = _as(NODE_UID, NODE_UID, [WEB_UID])
    as_watch = _umask(0o077)  # the watch unit's UMask=
    medium = scratch / "srv/credgap/transfer"
    subprocess.run([*node, str(BIN / "public-node"), "--home", str(home), "init", "--name", "city-public",
                    "--medium", str(medium)], check=True, env=env, capture_output=True, preexec_fn=as_watch)  # fmt: skip
    with (home / "node.toml").open("a") as f:
        f.write(f'\n[web]\nweb_database_url = "sqlite:///{web}/web.db"\n')
    r = subprocess.run([*node, str(BIN / "public-node"), "--home", str(home), "admin", "audit-key", "rotate"],
                       env=env, capture_output=True, preexec_fn=as_watch)  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = subprocess.run(tmpfiles, capture_output=True, text=True)  # again, after init: docs/OPERATIONS.md
    assert r.returncode == 0, r.stderr

    web_env = {**env, "USER": "credgap-web", "LOGNAME": "credgap-web"}
    early = subprocess.run([*_as(WEB_UID, WEB_UID, []), str(BIN / "public-node"), "--home", str(home), "serve"],
                           env=web_env, capture_output=True, text=True, preexec_fn=_umask(0o007))  # fmt: skip
    assert early.returncode == 1 and "cannot create its -shm file; start the node's watch first" in early.stderr

    # the watch service's part: the writer holds the published database open, its -wal and -shm exist
    holder = subprocess.Popen(
        [*node, sys.executable, "-c", "import sys; from nodekit.db import make_engine; from sqlalchemy import text; "
         f"e = make_engine('sqlite:///{home}/node.db'); c = e.connect(); c.execute(text('select 1')); "
         "print('open', flush=True); sys.stdin.read()"],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=as_watch,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "open\n"
    shm = (home / "node.db-shm").stat()
    assert (stat.S_IMODE(shm.st_mode), shm.st_gid) == (0o660, WEB_UID), "the WAL index every reader writes"

    # LoadCredential=web-audit:…/web-audit as systemd does it: a copy of each file, the service user's, 0400
    credentials = scratch / "run/credentials/credgap-public-serve.service"
    credentials.mkdir(parents=True)
    for key in (home / "web-audit").iterdir():
        shutil.copy(key, credentials / f"web-audit_{key.name}")
        (credentials / f"web-audit_{key.name}").chmod(0o400)
        os.chown(credentials / f"web-audit_{key.name}", WEB_UID, WEB_UID)
    credentials.chmod(0o500)
    os.chown(credentials, WEB_UID, WEB_UID)

    port = _free_port()
    log = scratch / "serve.log"
    serve = subprocess.Popen(
        [*_as(WEB_UID, WEB_UID, []), str(BIN / "public-node"), "--home", str(home), "serve", "--port", str(port)],
        env={**web_env, "CREDGAP_WEB_AUDIT_KEYS": str(credentials)},
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
        preexec_fn=_umask(0o007),  # the serve unit's UMask=
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60  # a bound on start-up, not a timing assumption
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/freshness", timeout=5) as r:
                    assert r.status == 200
                    break
            except OSError:
                pass
            assert serve.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
            time.sleep(0.1)
        for path in ("/", "/login", "/lists/red"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                assert r.status == 200, path
    finally:
        serve.terminate()
        serve.wait(60)
        holder.communicate("")
    # (one worker: uvicorn serves in its own process and ends by the signal it caught, re-raised)
    assert serve.returncode in (0, -signal.SIGTERM), log.read_text(errors="replace")[-2000:]
    assert "Traceback" not in log.read_text(errors="replace")
    for name in ("web.db", "web.db-wal", "web.db-shm"):  # (made by the node's `admin`, written by both)
        made = (web / name).stat()
        assert (made.st_gid, stat.S_IMODE(made.st_mode)) == (WEB_UID, 0o660), name
    assert "Permission denied" not in log.read_text(errors="replace")

    # what the platform's user may not do, by file modes alone (the unit adds InaccessiblePaths=)
    web_user = _as(WEB_UID, WEB_UID, [])
    for attempt in (
        f"open({str(home / 'node.db')!r}, 'r+b')",
        f"os.listdir({str(home / 'keys')!r})",
        f"os.listdir({str(home / 'quarantine')!r})",
        f"os.listdir({str(home / 'web-audit')!r})",
        f"open({str(home / 'logs' / 'node.log')!r}, 'a')",
        f"open({str(home / 'node.toml')!r}, 'a')",
    ):
        r = subprocess.run([*web_user, sys.executable, "-c", f"import os; {attempt}"], env=env, capture_output=True)
        assert r.returncode != 0 and b"PermissionError" in r.stderr, attempt
