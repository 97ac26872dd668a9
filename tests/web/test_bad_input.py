"""The bad-input list of issue 15: SQL metacharacters, FTS query syntax, control characters, 10 kB
queries, invalid UTF-8 in the URL, tampered or expired cursors, oversized bodies. Each gets a clear
4xx or an empty result, never a 500; and every response carries the security headers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from tests.web.conftest import Clock

pytestmark = pytest.mark.db

HOSTILE = [
    "' OR 1=1 --",
    "华兴'; DROP TABLE published_record; --",
    '"华兴',
    "华*",
    "华兴 NEAR 科技",
    "华兴 OR 科技",
    "a:b",
    "^华",
    "(华兴",
    "'华兴':*",
    "华兴 & !科技",
    "\\x00",
    "%",
    "_",
    "華興",
]


@pytest.mark.parametrize("query", HOSTILE)
@pytest.mark.parametrize("path", ["/search", "/api/v1/search"])
def test_query_syntax_and_metacharacters_are_text(client: TestClient, path: str, query: str) -> None:
    r = client.get(path, params={"q": query})
    assert r.status_code == 200, r.text
    if path.startswith("/api"):
        names = [s["name"] for s in r.json()["items"]]
        assert all("华兴" in n or "华" in n for n in names)  # only ever what the text itself matches


def test_the_tables_are_still_there(client: TestClient) -> None:
    for q in HOSTILE:
        client.get("/api/v1/search", params={"q": q})
    assert client.get("/api/v1/search", params={"q": "华兴"}).json()["total"] == 2


@pytest.mark.parametrize("raw", ["q=%00", "q=%E5%8D%8E%01", "q=%7F", "q=%C2%85"])
@pytest.mark.parametrize("path", ["/search", "/api/v1/search"])
def test_control_characters_are_refused(client: TestClient, path: str, raw: str) -> None:
    r = client.get(f"{path}?{raw}")
    assert r.status_code == 400


@pytest.mark.parametrize("raw", ["q=%FF", "q=%E5%8D", "q=%C0%AF", "q=%ED%A0%80"])
@pytest.mark.parametrize("path", ["/search", "/api/v1/search", "/lists/red"])
def test_invalid_utf8_in_the_url_is_refused(client: TestClient, path: str, raw: str) -> None:
    r = client.get(f"{path}?{raw}")
    assert r.status_code == 400
    if path.startswith("/api"):
        assert r.json()["error"]["message"]
    else:
        assert "UTF-8" in r.text and "Traceback" not in r.text


def test_invalid_utf8_in_the_path_is_not_found(client: TestClient) -> None:
    assert client.get("/subjects/%FF%FE").status_code == 404
    assert client.get("/api/v1/subjects/%FF%FE").status_code == 404


@pytest.mark.parametrize("path", ["/search", "/api/v1/search"])
def test_a_10kb_query_is_refused(client: TestClient, path: str) -> None:
    r = client.get(path, params={"q": "a" * 10_240})  # 10 kB
    assert r.status_code == 414
    r = client.get(path, params={"q": "华兴" * 100})  # under the URL bound, over the search bound
    assert r.status_code == 400


def test_an_oversized_body_is_refused(client: TestClient) -> None:
    r = client.post(
        "/reports/verify",
        content=b"code=" + b"A" * 100_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413


@pytest.mark.parametrize("path", ["/api/v1/lists/red", "/lists/red"])
def test_tampered_cursors_are_refused(client: TestClient, path: str) -> None:
    cursor = client.get("/api/v1/lists/red", params={"limit": 5}).json()["next_cursor"]
    body, tag = cursor.split(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    for bad in (f"{flipped}.{tag}", f"{body}.{tag[::-1]}", "garbage", "a.b.c", "." * 2000, "é.é"):
        r = client.get(path, params={"cursor": bad, "limit": 5} if path.startswith("/api") else {"cursor": bad})
        assert r.status_code == 400, (bad, r.status_code)
    # a genuine cursor of another list or query does not carry over
    assert client.get("/api/v1/lists/dishonest", params={"cursor": cursor}).status_code == 400
    assert client.get("/api/v1/search", params={"q": "华兴", "cursor": cursor}).status_code == 400


def test_expired_cursors_are_refused(client: TestClient, clock: Clock) -> None:
    cursor = client.get("/api/v1/lists/red", params={"limit": 5}).json()["next_cursor"]
    clock.now += timedelta(minutes=59)
    assert client.get("/api/v1/lists/red", params={"cursor": cursor, "limit": 5}).status_code == 200
    clock.now += timedelta(minutes=2)
    r = client.get("/api/v1/lists/red", params={"cursor": cursor, "limit": 5})
    assert r.status_code == 400 and r.json()["error"]["code"] == "expired-cursor"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/lists/red?limit=0",
        "/api/v1/lists/red?limit=101",
        "/api/v1/lists/red?limit=abc",
        "/api/v1/gov/not-a-key",
        "/api/v1/search",
        "/api/v1/documents/zz/content",
    ],
)
def test_bad_parameters_are_4xx(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert 400 <= r.status_code < 500
    assert set(r.json()) == {"error"}


def test_errors_are_friendly_pages_with_headers_never_tracebacks(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import public_node.web.pages as pages

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("SELECT secret FROM somewhere")

    monkeypatch.setattr(pages, "freshness", boom)
    with TestClient(client.app, raise_server_exceptions=False) as c:
        r = c.get("/")
    assert r.status_code == 500
    assert "系统出现问题" in r.text and "SELECT" not in r.text and "Traceback" not in r.text
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    assert client.get("/nowhere").status_code == 404
    assert "该地址没有公示信息" in client.get("/nowhere").text
