"""Fixtures of the platform tests: a published home on the engine under test, and a client of the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from nodekit.runtime import Node
from public_node.web.app import create_app
from tests.web.support import NOW, published_home


class Clock:
    """The platform's clock, settable by a test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def home(tmp_path: Path, database_factory: Callable[[str], str]) -> Iterator[Node]:
    node = published_home(tmp_path, database_factory, web_on_engine=True)
    yield node
    node.close()


@pytest.fixture
def client(home: Node, clock: Clock) -> Iterator[TestClient]:
    app = create_app(home.config.home, clock=clock)
    with TestClient(app, client=("203.0.113.7", 50000)) as c:
        yield c
    app.app.state.platform.close()  # type: ignore[attr-defined]
