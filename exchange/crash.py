"""Deterministic crash and pause points for the kill and race tests: ``CREDGAP_CRASH_AT=<name>`` makes
the process SIGKILL itself when it reaches that point; ``CREDGAP_PAUSE_AT=<name>`` makes it wait there
until the test says go (nothing else happens when the variables are unset).

The tests kill imports and exports at each point and show that a restart applies every package
exactly once and leaves the medium, the archive and the database consistent; they pause a receiver
between its scan of the medium and its use of what it saw, change the medium meanwhile, and show that
the receiver acts only on what it checked.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

ENV = "CREDGAP_CRASH_AT"
POINTS = frozenset(
    {
        # receiving
        "after-staging", "mid-apply", "before-commit", "after-commit", "before-medium-remove", "after-medium-remove",
        # sending
        "after-archive", "after-seal-commit", "after-medium-write",
    }
)  # fmt: skip

PAUSE_ENV = "CREDGAP_PAUSE_AT"
PAUSE_DIR_ENV = "CREDGAP_PAUSE_DIR"
PAUSES = frozenset(
    {
        "after-scan", "before-medium-remove",
        # a receiver inside the receiver lock (a round that hangs, a lock held), and half-way through an apply
        "receive-locked", "mid-apply",
    }
)  # fmt: skip


def crashpoint(name: str) -> None:
    """Die here, at once and without cleanup, if the environment asks for it."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def pausepoint(name: str) -> None:
    """Wait here if the environment asks for it: create ``<CREDGAP_PAUSE_DIR>/<name>.reached``, then open
    the FIFO ``<name>.go`` that the test made, which blocks until the test opens it for writing (a
    barrier, not a sleep that hopes the other side is done)."""
    if os.environ.get(PAUSE_ENV) != name:
        return
    folder = Path(os.environ[PAUSE_DIR_ENV])
    (folder / f"{name}.reached").touch()
    fd = os.open(folder / f"{name}.go", os.O_RDONLY)
    try:
        while os.read(fd, 64):
            pass
    finally:
        os.close(fd)
