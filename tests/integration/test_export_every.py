"""``internal-node export --every`` as a foreground service: the real program in a subprocess exports
once at start and then once per period until SIGTERM, which ends it with exit 0 and a clean log.

The period here is 1 s so the test sees two rounds; nothing is asserted about how long a round takes."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from internal_node import SPEC as INTERNAL
from public_node import SPEC as PUBLIC
from public_node.importer import import_packages
from tests.integration.public_support import (
    BIN,
    assert_in_step,
    ingest_rows,
    package_files,
    penalty,
    program_env,
)
from tests.nodes import Clock, Home, make_home, trust_each_other

pytestmark = pytest.mark.slow

TIMEOUT = 60.0  # a bound on a hung test, never a statement about speed


@pytest.fixture
def homes(tmp_path: Path) -> Iterator[tuple[Home, Home, Path]]:
    medium = tmp_path / "medium"
    medium.mkdir()
    clock = Clock(datetime.now(UTC).replace(microsecond=0))  # the program reads the real clock
    internal = make_home(tmp_path, INTERNAL, "int", medium, clock)
    public = make_home(tmp_path, PUBLIC, "pub", medium, clock)
    trust_each_other(internal, public, clock)
    yield internal, public, medium
    internal.node.close()
    public.node.close()


def wait_for(condition: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"export --every exited ({proc.returncode}) before {what}:\n{log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)


def test_export_every_seals_each_period_and_stops_cleanly_on_sigterm(
    homes: tuple[Home, Home, Path], tmp_path: Path
) -> None:
    internal, public, medium = homes
    decided = datetime.now(UTC).date() - timedelta(days=20)
    assert ingest_rows(internal.node, "penalty", [penalty(1, decided)], tmp_path / "dept").accepted
    log = tmp_path / "export.log"
    home = str(internal.node.config.home)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "internal-node"), "--home", home, "export", "--every", "1s"],
            env=program_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # round 1 seals the penalty, round 2 (a period later, nothing changed) a heartbeat
        wait_for(lambda: len(package_files(medium)) >= 2, "two packages are sealed", proc, log)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
    text = log.read_text(encoding="utf-8")
    assert code == 0, text
    sealed = [line for line in text.splitlines() if line.startswith("sealed ")]
    assert len(sealed) == len(package_files(medium)) >= 2, text
    assert [line.split(" seq ")[1].split(" ")[0] for line in sealed] == [str(n) for n in range(1, len(sealed) + 1)]
    for bad in ("failed", "Traceback", "Error", "error:"):
        assert bad not in text, text
    # what it sealed is what the public node applies: the penalty, then heartbeats
    outcomes = import_packages(public.node, public.identity)
    assert [o.result for o in outcomes] == ["applied"] * len(sealed)
    assert_in_step(internal.node, public.node)
