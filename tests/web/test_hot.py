"""The hot-read layer (public_node/web/hot.py) answers exactly what the FastAPI routes answer, takes
only the plain anonymous GETs it is meant to take, counts them against the rate limit, and the search
cache is never staler than the data generation a request reads (on SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from nodekit.runtime import Node
from public_node.web import app as app_module
from public_node.web.app import create_app
from public_node.web.hot import HotReads
from tests.unit.public_node.data import key
from tests.web.conftest import Clock
from tests.web.support import HX_USCC, NOW, configure

pytestmark = pytest.mark.db

# Requests of every shape around the hot routes: plain ones the layer takes, and ones it must leave to
# the route (a bad limit, an unknown parameter, a missing q, an over-long ident or query, a tampered
# cursor) so that the route's own validation answers them.
REQUESTS = [
    f"/api/v1/subjects/{HX_USCC}",
    f"/api/v1/subjects/{key('hx')}",
    "/api/v1/subjects/91530100MA6K3XQ51B",
    "/api/v1/subjects/" + "9" * 65,
    f"/api/v1/subjects/{HX_USCC}?extra=1",
    "/api/v1/search?q=华兴",
    "/api/v1/search?q=华兴&limit=1",
    "/api/v1/search?q=华兴&limit=0",
    "/api/v1/search?q=华兴&limit=abc",
    "/api/v1/search?q=华兴&q=昆明",
    "/api/v1/search?q=华兴&other=1",
    "/api/v1/search?q=",
    "/api/v1/search",
    "/api/v1/search?q=" + "华" * 300,
    '/api/v1/search?q="*NEAR OR',
    "/api/v1/search?q=华兴&cursor=tampered",
    "/api/v1/search?q=昆市监罚(2024)12号",
    "/api/v1/freshness",
    "/api/v1/freshness?x=1",
    f"/subjects/{key('hx')}",
    f"/subjects/{HX_USCC}",
    "/subjects/nothing-here",
    "/search?q=华兴",
    "/search",
    "/search?q=华兴&cursor=tampered",
    "/search?q=" + "华" * 300,
]

_TOKEN = re.compile(r'value="[A-Za-z0-9_-]{40,}"')


def _comparable(r: Any) -> tuple[Any, ...]:
    kind = r.headers.get("content-type", "")
    body = r.json() if kind.startswith("application/json") else _TOKEN.sub('value="csrf"', r.text)
    return r.status_code, kind, r.headers.get("retry-after"), r.headers.get("cache-control"), body


@pytest.fixture
def apps(home: Node, clock: Clock) -> Iterator[tuple[TestClient, TestClient, list[str]]]:
    """The platform (guard, hot layer, FastAPI) and, beside it, the guard around the FastAPI application
    alone; and the paths that reached the FastAPI application through the hot layer."""
    configure(home, rate_limit="100000/minute")
    app = create_app(home.config.home, clock=clock)
    hot = app.app
    assert isinstance(hot, HotReads)
    fastapi = hot.app
    reached: list[str] = []

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            reached.append(scope["path"])
        await fastapi(scope, receive, send)

    hot.app = spy
    plain = create_app(home.config.home, clock=clock)  # the same guard around the FastAPI application alone
    plain.app = plain.app.app  # type: ignore[attr-defined]
    with (
        TestClient(app, client=("203.0.113.7", 50000)) as full,
        TestClient(plain, client=("203.0.113.7", 50000)) as ref,
    ):
        yield full, ref, reached
    hot.state.platform.close()
    plain.app.state.platform.close()  # type: ignore[attr-defined]


def test_every_answer_is_the_routes_answer(apps: tuple[TestClient, TestClient, list[str]]) -> None:
    full, ref, reached = apps
    cursor = full.get("/api/v1/search", params={"q": "华兴", "limit": 1}).json()["next_cursor"]
    assert cursor
    for path in [*REQUESTS, f"/api/v1/search?q=华兴&limit=1&cursor={cursor}"]:
        reached.clear()
        got, want = full.get(path), ref.get(path)
        assert _comparable(got) == _comparable(want), path
        assert got.headers["content-security-policy"]  # the guard still wraps what the layer answers
    # the plain ones never reached FastAPI; the odd ones did, and got its validation
    taken: dict[str, bool] = {}
    for path in REQUESTS:
        reached.clear()
        full.get(path)
        taken[path] = not reached
    assert taken[f"/api/v1/subjects/{HX_USCC}"] and taken["/api/v1/search?q=华兴"] and taken["/api/v1/freshness"]
    assert taken[f"/subjects/{key('hx')}"] and taken["/search?q=华兴"]
    for left in ("/api/v1/search?q=华兴&limit=0", "/api/v1/search", "/api/v1/subjects/" + "9" * 65,
                 "/api/v1/search?q=华兴&q=昆明", "/api/v1/freshness?x=1"):  # fmt: skip
        assert not taken[left], left
    assert full.get("/api/v1/search", params={"q": "华兴", "limit": 0}).status_code == 400


def test_a_token_or_a_session_goes_to_the_route(apps: tuple[TestClient, TestClient, list[str]]) -> None:
    full, _, reached = apps
    full.get(f"/api/v1/subjects/{HX_USCC}", headers={"Authorization": "Bearer nope"})
    full.get(f"/subjects/{key('hx')}", cookies={"cg_session": "x" * 40})
    full.head(f"/api/v1/subjects/{HX_USCC}")
    assert reached == [f"/api/v1/subjects/{HX_USCC}", f"/subjects/{key('hx')}", f"/api/v1/subjects/{HX_USCC}"]


def test_the_hot_routes_count_against_the_rate_limit(home: Node, clock: Clock) -> None:
    configure(home, rate_limit="3/minute")
    app = create_app(home.config.home, clock=clock)
    with TestClient(app, client=("203.0.113.9", 50000)) as c:
        codes = [c.get(f"/api/v1/subjects/{HX_USCC}").status_code for _ in range(3)]
        over = c.get("/api/v1/search", params={"q": "华兴"})
        page = c.get(f"/subjects/{key('hx')}")
    app.app.state.platform.close()  # type: ignore[attr-defined]
    assert codes == [200, 200, 200]
    assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
    assert over.json()["error"]["code"] == "rate-limited"
    assert page.status_code == 429 and "text/html" in page.headers["content-type"]


def _apply_package(node: Node, seq: int) -> None:
    """What applying package ``seq`` leaves in the channel state (the channel of package 3 moves on)."""
    from sqlalchemy import insert, update

    from nodekit.models import ChannelPackageRow, ChannelRow

    with node.transaction() as s:
        channel = s.execute(update(ChannelRow).values(last_seq=seq).returning(ChannelRow.id)).scalar_one()
        s.execute(
            insert(ChannelPackageRow).values(
                channel_id=channel, seq=seq, digest="2" * 64, type="delta", status="applied", created=0, size=1,
                counts="{}", file="q.cgp", recorded_at=NOW + timedelta(minutes=5),
            )
        )  # fmt: skip


def test_a_search_is_recomputed_when_a_package_is_applied_or_the_day_turns(
    home: Node, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import public_node.search as search

    ran: list[str] = []
    real = search.search_page

    def counted(*args: Any, **kwargs: Any) -> Any:
        ran.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(search, "search_page", counted)
    app = create_app(home.config.home, clock=clock)
    with TestClient(app, client=("203.0.113.10", 50000)) as c:
        first = c.get("/api/v1/search", params={"q": "华兴"}).json()
        assert c.get("/api/v1/search", params={"q": " 华 兴 "}).json()["items"] == first["items"]  # same normal form
        assert ran == ["华兴"]
        _apply_package(home, 4)  # a package applied: a new data generation
        c.get("/api/v1/search", params={"q": "华兴"})
        assert ran == ["华兴", "华兴"]
        clock.now += timedelta(days=1)  # fail-safe expiry is read by day
        c.get("/api/v1/search", params={"q": "华兴"})
        assert ran == ["华兴", "华兴", "华兴"]
    app.app.state.platform.close()  # type: ignore[attr-defined]
    assert app_module.SEARCH_CACHE_ENTRIES >= 1
