"""Helpers of the hostile-medium tests: a trusted pair on the real clock (the node programs, run as
subprocesses, read it), heartbeat packages, a node program run as an unprivileged service user, a
receiver paused between its scan of the medium and its use of what it saw, and a small tmpfs."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from exchange.crash import PAUSE_DIR_ENV, PAUSE_ENV
from exchange.engine import SentPackage
from exchange.node import open_exchange
from nodekit import trust_store
from tests.integration.public_support import BIN, program_env
from tests.nodes import Clock, Home, trusted_pair
from transfer.medium import channel_dirname

TIMEOUT = 60.0  # a bound on a hung program, never a statement about speed
SERVICE_UID = 65534  # nobody: what a node running as a service user is, to the kernel


@dataclass
class Pair:
    """An internal and a public node sharing a medium folder, on a clock that starts now."""

    root: Path
    medium: Path
    internal: Home
    public: Home
    clock: Clock

    @property
    def inbound(self) -> Path:
        """The internal-to-public channel folder on the medium."""
        return self.medium / channel_dirname(self.internal.id, self.public.id)

    def heartbeat(self, sender: Home | None = None) -> SentPackage:
        """Seal and deliver one package with no data from ``sender`` (the internal node by default)."""
        sender = sender or self.internal
        with sender.node.sessions() as s:
            peer = trust_store.load_trust_state(s).current_for(self.public.id)
        assert peer is not None
        return open_exchange(sender.node, sender.identity).send(peer, lambda s, seq: [])

    def close(self) -> None:
        self.internal.node.close()
        self.public.node.close()


def real_clock_pair(root: Path, database_factory: Callable[[str], str] | None) -> Pair:
    """:func:`tests.nodes.trusted_pair` under ``root``, on a clock a few seconds behind the real one."""
    clock = Clock(datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5))
    a, b, medium, clock = trusted_pair(root, database_factory, clock)
    return Pair(root, medium, a, b, clock)


@contextmanager
def open_root() -> Iterator[Path]:
    """A folder another user can reach (pytest's own temporary root is private to its owner, and
    pytest resets its mode): for homes handed over to the service user."""
    root = Path(tempfile.mkdtemp(prefix="credgap-medium-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def hand_over(*paths: Path) -> None:
    """Make ``paths`` (recursively) the service user's, as an installation would."""
    uid = service_user()[1]
    if uid is None:
        return
    for top in paths:
        for folder, dirs, files in os.walk(top):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.chown(name, uid, uid, follow_symlinks=False)


def service_user() -> tuple[list[str], int | None]:
    """How to run a node program as an unprivileged service user: the command prefix, and whose the files
    it uses must be (None: leave them as they are).

    Not root: as is. Root, with an interpreter that uid 65534 can reach: ``setpriv`` to uid 65534. Root
    otherwise (a Python under a private ``/root``): root without ``CAP_DAC_OVERRIDE`` and
    ``CAP_DAC_READ_SEARCH``, which the kernel then holds to the mode bits exactly as it holds a service
    user (a mode-000 entry is refused to it as to anyone)."""
    if os.geteuid() != 0:
        return [], None
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot run the node as an unprivileged user")
    if _reachable_by_others(Path(sys.executable).resolve()) and _reachable_by_others(Path(sys.base_prefix)):
        return [setpriv, f"--reuid={SERVICE_UID}", f"--regid={SERVICE_UID}", "--clear-groups"], SERVICE_UID
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"], 0


def _reachable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in path.parents) and bool(path.stat().st_mode & stat.S_IROTH)


def start(
    program: str,
    home: Home,
    *args: str,
    as_service_user: bool = False,
    pause: str | None = None,
    pause_dir: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a node program, its output in a log file beside the home."""
    env = program_env()
    if pause is not None:
        assert pause_dir is not None
        env[PAUSE_ENV], env[PAUSE_DIR_ENV] = pause, str(pause_dir)
    prefix = service_user()[0] if as_service_user else []
    with (home.node.config.home.parent / f"{program}-{time.monotonic_ns()}.log").open("wb") as out:
        return subprocess.Popen(
            [*prefix, str(BIN / program), "--home", str(home.node.config.home), *args],
            env=env,
            cwd=str(home.node.config.home),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def run(program: str, home: Home, *args: str, as_service_user: bool = False) -> subprocess.CompletedProcess[bytes]:
    """Run a node program to its end (failing the test if it hangs)."""
    prefix = service_user()[0] if as_service_user else []
    try:
        return subprocess.run(
            [*prefix, str(BIN / program), "--home", str(home.node.config.home), *args],
            env=program_env(),
            cwd=str(home.node.config.home),
            capture_output=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{program} {' '.join(args)} hung (killed after {TIMEOUT:.0f}s)")


def finish(proc: subprocess.Popen[bytes], what: str) -> int:
    """The exit code of ``proc``; a program still running after :data:`TIMEOUT` hangs: kill it, fail."""
    try:
        return proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"{what} hung (killed after {TIMEOUT:.0f}s)")


class Pause:
    """The test's side of :func:`exchange.crash.pausepoint`: wait until the program reached the point,
    change the medium, then let it go on."""

    def __init__(self, folder: Path, point: str) -> None:
        self.folder, self.point = folder, point
        folder.mkdir(exist_ok=True)
        os.mkfifo(folder / f"{point}.go")

    def reached(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not (self.folder / f"{self.point}.reached").exists():
            if proc.poll() is not None:
                pytest.fail(f"the program exited ({proc.returncode}) before it reached {self.point}")
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the program never reached {self.point}")
            time.sleep(0.02)

    def go(self) -> None:
        # opening the FIFO for writing releases the program blocked opening it for reading
        fd = os.open(self.folder / f"{self.point}.go", os.O_WRONLY)
        os.close(fd)


@contextmanager
def tmpfs(where: Path, size: str = "16m") -> Iterator[Path]:
    """A small tmpfs mounted on ``where`` (skips the test where mounting is not permitted)."""
    where.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs CAP_SYS_ADMIN): {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
