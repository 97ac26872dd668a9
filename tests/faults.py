"""Helpers of the fault tests: filling a real small filesystem, and changing its mount in place (the
tmpfs itself and the pause points' barrier are in tests/integration/medium_support.py)."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

TIMEOUT = 120.0  # a bound on a hung test (a program starting on a loaded machine), never a speed claim


def remount(path: Path, options: str) -> None:
    """Change a mounted tmpfs in place, e.g. ``ro``, ``rw`` or ``size=4m``."""
    subprocess.run(["mount", "-o", f"remount,{options}", str(path)], check=True, capture_output=True)


def fill(folder: Path) -> Path:
    """Write a filler file in ``folder`` until its filesystem is full; remove it to make room again."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            block = b"\0" * size
            while True:
                try:
                    if os.write(fd, block) < size:
                        break
                except OSError as exc:
                    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                        raise
                    break
    finally:
        os.close(fd)
    return filler
