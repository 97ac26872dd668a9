"""Deterministic crash points for the kill tests: ``CREDGAP_CRASH_AT=<name>`` makes the process SIGKILL
itself when it reaches that point (nothing else happens when the variable is unset).

The tests kill imports and exports at each point and show that a restart applies every package
exactly once and leaves the medium, the archive and the database consistent.
"""

from __future__ import annotations

import os
import signal

ENV = "CREDGAP_CRASH_AT"
POINTS = frozenset(
    {
        # receiving
        "after-staging", "mid-apply", "before-commit", "after-commit", "before-medium-remove", "after-medium-remove",
        # sending
        "after-archive", "after-seal-commit", "after-medium-write",
    }
)  # fmt: skip


def crashpoint(name: str) -> None:
    """Die here, at once and without cleanup, if the environment asks for it."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
