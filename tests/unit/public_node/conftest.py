"""Fixtures of the published-database tests: a migrated public node on the engine under test, and a
fixed ``today``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from nodekit.runtime import Node, init_home
from public_node import SPEC

TODAY = date(2026, 11, 26)


@pytest.fixture
def today() -> date:
    return TODAY


@pytest.fixture
def node(tmp_path: Path, database_url: str) -> Iterator[Node]:
    """A freshly initialised public node (migrated database) on the engine selected with --db."""
    n = init_home(tmp_path / "public", SPEC, name="public-test", database_url=database_url)
    yield n
    n.close()
