"""A page never sees a half-applied package: every request reads one snapshot. The package here adds
a penalty and moves the freshness to package 4 in one transaction; the apply is paused in the middle
(after its records are written, before the search index and the commit), and a request is rendered
meanwhile, itself paused between its queries while the package commits. It must show the whole
before state (1 penalty, package 3), then, once committed, the whole after state (2, package 4)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, event, update
from starlette.testclient import TestClient

from nodekit.models import ChannelRow
from nodekit.runtime import Node
from public_node import search as search_module
from public_node import store
from public_node.web import db as web_db
from public_node.web.app import create_app
from tests.unit.public_node.data import key, row, upsert
from tests.web.conftest import Clock
from tests.web.support import HX_USCC, TODAY

pytestmark = pytest.mark.db
WAIT = 60  # a bound so that a broken test fails instead of hanging; never a timing assumption


class PausedPackage:
    """Applies the package in a thread, pausing inside the apply until released."""

    def __init__(self, node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
        self.mid_apply = threading.Event()
        self.go = threading.Event()
        self.committed = threading.Event()
        original = search_module.index_applied

        def paused_index(conn: Any, applied: Any) -> None:
            self.mid_apply.set()  # the records are written, not committed
            assert self.go.wait(WAIT)
            original(conn, applied)

        monkeypatch.setattr(search_module, "index_applied", paused_index)

        def apply() -> None:
            p2 = upsert(
                "penalty",
                "p2",
                1,
                row(
                    "hx",
                    "昆明华兴科技有限公司",
                    uscc=HX_USCC,
                    doc_no="昆市监罚〔2026〕99号",
                    decision_date="2026-11-01",
                ),
            )
            with node.transaction() as s:
                store.apply_changes(s, [p2], today=TODAY)
                s.execute(update(ChannelRow).where(ChannelRow.outbound.is_(False)).values(last_seq=4))
            self.committed.set()

        self.thread = threading.Thread(target=apply, daemon=True)

    def __enter__(self) -> PausedPackage:
        self.thread.start()
        assert self.mid_apply.wait(WAIT)
        return self

    def __exit__(self, *exc: object) -> None:
        self.go.set()
        self.thread.join(WAIT)


@pytest.fixture
def app_client(home: Node, clock: Clock) -> Iterator[TestClient]:
    app = create_app(home.config.home, clock=clock)
    with TestClient(app) as c:
        yield c


def _pause_reader_before_documents(client: TestClient, package: PausedPackage) -> None:
    """When the request reaches its documents query, let the package commit, then go on."""
    engine = client.app.app.state.platform.read_engine  # type: ignore[attr-defined]

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "published_document" in statement and not package.go.is_set():
            package.go.set()
            assert package.committed.wait(WAIT)

    event.listen(engine, "before_cursor_execute", before)


def _state(client: TestClient) -> tuple[int, int]:
    body = client.get(f"/api/v1/subjects/{key('hx')}").json()
    return len(body["records"]["penalty"]), body["package_seq"]


def test_a_request_during_an_apply_sees_before_then_after(
    app_client: TestClient, home: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _state(app_client) == (1, 3)
    with PausedPackage(home, monkeypatch) as package:
        assert _state(app_client) == (1, 3)  # the apply is paused mid-way: nothing of it shows
        _pause_reader_before_documents(app_client, package)
        assert _state(app_client) == (1, 3)  # it committed between this request's queries
        assert package.committed.is_set()
    assert _state(app_client) == (2, 4)
    html = app_client.get(f"/subjects/{key('hx')}").text
    assert "昆市监罚〔2026〕99号" in html and "数据包 4" in html


def test_the_check_catches_a_reader_without_a_snapshot(
    home: Node, clock: Clock, monkeypatch: pytest.MonkeyPatch, db_engine_name: str
) -> None:
    """The same sequence with pysqlite's default transaction handling (no BEGIN before a SELECT):
    the request mixes the two states, which is what the test above would catch."""
    if db_engine_name != "sqlite":
        pytest.skip("the pysqlite default is a SQLite matter")
    monkeypatch.setattr(web_db, "read_engine", lambda url, **kw: create_engine(url))
    app = create_app(home.config.home, clock=clock)
    with TestClient(app) as client, PausedPackage(home, monkeypatch) as package:
        _pause_reader_before_documents(client, package)
        assert _state(client) == (1, 4)  # torn: the records before, the freshness after
