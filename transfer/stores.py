"""The node-owned package folders (archive, pending) and the staging folder's residual cleanup."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from transfer.files import durable_move, ensure_dir, remove_temp_files
from transfer.medium import PACKAGE_NAME, channel_dirname


class PackageStore:
    """A node-owned folder of packages by channel (archive or pending)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sender: str, recipient: str, name: str) -> Path:
        """Where package file ``name`` of channel ``sender`` → ``recipient`` is kept."""
        return self.root / channel_dirname(sender, recipient) / name

    def put(self, staged: Path, sender: str, recipient: str, name: str) -> Path:
        """Move a staged file in, durably; returns its new path."""
        target = self.path(sender, recipient, name)
        ensure_dir(target.parent)
        durable_move(staged, target)
        return target

    def new_file(self, sender: str, recipient: str, name: str) -> Path:
        """The path for a file about to be written (temporary files a crash left in its folder removed)."""
        target = self.path(sender, recipient, name)
        ensure_dir(target.parent)
        remove_temp_files(target.parent)
        return target

    def files(self, sender: str, recipient: str) -> Iterator[Path]:
        """The channel's package files, in name order."""
        folder = self.root / channel_dirname(sender, recipient)
        if folder.is_dir():
            for p in sorted(folder.iterdir()):
                if PACKAGE_NAME.fullmatch(p.name) and p.is_file() and not p.is_symlink():
                    yield p


def clear_staging(staging: Path) -> int:
    """Residual cleanup at start-up: staged copies are re-made from the medium or archive when needed."""
    removed = 0
    if staging.is_dir():
        for p in staging.iterdir():
            if p.is_file() and not p.is_symlink():
                p.unlink(missing_ok=True)
                removed += 1
            elif p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
                removed += 1
    return removed
