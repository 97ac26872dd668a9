"""Every API endpoint, on SQLite and PostgreSQL: stable field names, cursor pagination through a
whole result, the rate limit (a burst gets 429 with Retry-After, counted per address in the web
database, X-Forwarded-For believed only from a trusted proxy), and the OpenAPI file kept equal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from nodekit.runtime import Node
from public_node.web.app import create_app
from tests.unit.public_node.data import key
from tests.web.conftest import Clock
from tests.web.support import HX_USCC, PDF, configure

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]


def test_search_two_characters_ranked(client: TestClient) -> None:
    r = client.get("/api/v1/search", params={"q": "华兴"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"query", "total", "items", "records", "next_cursor"}
    assert [s["name"] for s in body["items"]] == ["昆明华兴科技有限公司", "云南华兴商贸有限责任公司"]
    assert body["total"] == 2 and body["next_cursor"] is None
    assert set(body["items"][0]) == {"subject_key", "name", "category", "uscc"}


@pytest.mark.parametrize("query", ["华 兴", "华　兴", " 华兴 ", "（华兴）", "华-兴", "华兴科技有限公司"])
def test_search_tolerates_width_and_spacing(client: TestClient, query: str) -> None:
    names = [s["name"] for s in client.get("/api/v1/search", params={"q": query}).json()["items"]]
    assert names[0] == "昆明华兴科技有限公司"


@pytest.mark.parametrize(
    "code", ["９１５３０１００ＭＡ６Ｋ３ＸＱ５１Ａ", "9153 0100 MA6K 3XQ5 1A", "91530100ma6k3xq51a"]
)
def test_credit_codes_in_any_width_case_or_spacing(client: TestClient, code: str) -> None:
    body = client.get("/api/v1/search", params={"q": code}).json()
    assert [s["uscc"] for s in body["items"]] == [HX_USCC]


def test_search_by_credit_code_and_decision_number(client: TestClient) -> None:
    by_code = client.get("/api/v1/search", params={"q": HX_USCC.lower()}).json()
    assert [s["uscc"] for s in by_code["items"]] == [HX_USCC]
    by_doc = client.get("/api/v1/search", params={"q": "昆市监罚(2024)12号"}).json()
    assert [(r["kind"], r["doc_no"]) for r in by_doc["records"]] == [("penalty", "昆市监罚〔2024〕12号")]


def test_search_pages_by_cursor(client: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        params = {"q": "有限公司", "limit": 3} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/v1/search", params=params).json()
        seen += [s["subject_key"] for s in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    whole = client.get("/api/v1/search", params={"q": "有限公司", "limit": 100}).json()
    assert seen == [s["subject_key"] for s in whole["items"]]
    assert len(seen) == whole["total"] > 20


def test_subject_by_code_or_key(client: TestClient) -> None:
    by_code = client.get(f"/api/v1/subjects/{HX_USCC}").json()
    by_key = client.get(f"/api/v1/subjects/{key('hx')}").json()
    assert by_code == by_key
    assert set(by_code) == {"subject", "profile", "records", "documents", "package_seq"}
    assert list(by_code["records"]) == ["licence", "penalty", "list_entry", "commitment"]
    penalty = by_code["records"]["penalty"][0]
    assert penalty["fields"]["source_unit"] == "昆明市市场监督管理局"
    assert penalty["fields"]["decision_date"] == "2024-06-01"
    assert by_code["package_seq"] == 3
    assert client.get("/api/v1/subjects/91530100MA6K3XQ59X").status_code == 404


def test_lists_page_through_by_cursor(client: TestClient) -> None:
    first = client.get("/api/v1/lists/red", params={"limit": 10}).json()
    assert first["total"] == 25
    keys = [r["key"] for r in first["items"]]
    dates = [r["fields"]["listed_date"] for r in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get("/api/v1/lists/red", params={"limit": 10, "cursor": cursor}).json()
        assert page["total"] is None
        keys += [r["key"] for r in page["items"]]
        dates += [r["fields"]["listed_date"] for r in page["items"]]
        cursor = page["next_cursor"]
    assert len(keys) == len(set(keys)) == 25
    assert dates == sorted(dates, reverse=True)
    black = client.get("/api/v1/lists/dishonest").json()
    assert [r["doc_no"] for r in black["items"]] == ["失信〔2025〕1号"]
    assert client.get("/api/v1/lists/grey").status_code == 400


def test_government_credit(client: TestClient) -> None:
    depts = client.get("/api/v1/gov").json()
    assert sorted(d["name"] for d in depts["items"]) == ["昆明市另一管理局", "昆明市示例管理局"]
    one = depts["items"][0]["subject_key"]
    records = client.get(f"/api/v1/gov/{one}", params={"limit": 2}).json()
    assert records["total"] == 3 and len(records["items"]) == 2 and records["next_cursor"]
    rest = client.get(f"/api/v1/gov/{one}", params={"limit": 2, "cursor": records["next_cursor"]}).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None


def test_documents_and_download(client: TestClient) -> None:
    docs = client.get("/api/v1/documents").json()["items"]
    assert [d["name"] for d in docs] == ["处罚决定书.pdf"]
    r = client.get(docs[0]["download_url"])
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/api/v1/documents/{'0' * 32}/content").status_code == 404


def test_freshness(client: TestClient) -> None:
    body = client.get("/api/v1/freshness").json()
    assert body["package_seq"] == 3 and body["applied_at"] == "2026-11-26T08:00:00+00:00"
    assert body["records"]["list_entry"] == 26


def test_a_burst_gets_429_with_retry_after(home: Node, clock: Clock) -> None:
    configure(home, rate_limit="5/minute")  # the fixture's [web] section gains the key
    app = create_app(home.config.home, clock=clock)
    with TestClient(app, client=("198.51.100.1", 1)) as one, TestClient(app, client=("198.51.100.2", 1)) as two:
        codes = [one.get("/api/v1/freshness").status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        limited = one.get("/api/v1/freshness")
        assert limited.json()["error"]["code"] == "rate-limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert two.get("/api/v1/freshness").status_code == 200  # per address
        # a second app (another worker) shares the counters through the web database
        other = create_app(home.config.home, clock=clock)
        with TestClient(other, client=("198.51.100.1", 1)) as again:
            assert again.get("/api/v1/freshness").status_code == 429
        clock.now = clock.now.replace(minute=clock.now.minute + 1, second=1)
        assert one.get("/api/v1/freshness").status_code == 200  # a new window


def test_forwarded_for_is_believed_only_from_trusted_proxies(home: Node, clock: Clock) -> None:
    configure(home, rate_limit="2/minute", trusted_proxies=["10.0.0.0/8"])
    app = create_app(home.config.home, clock=clock)
    with TestClient(app, client=("10.1.1.1", 1)) as proxy, TestClient(app, client=("192.0.2.9", 1)) as direct:
        for _ in range(2):
            assert (
                proxy.get("/api/v1/freshness", headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.5"}).status_code == 200
            )
        assert proxy.get("/api/v1/freshness", headers={"X-Forwarded-For": "203.0.113.5"}).status_code == 429
        assert proxy.get("/api/v1/freshness", headers={"X-Forwarded-For": "203.0.113.6"}).status_code == 200
        # a client that is not a proxy cannot choose its address
        for spoof in ("203.0.113.10", "203.0.113.11", "203.0.113.12"):
            status = direct.get("/api/v1/freshness", headers={"X-Forwarded-For": spoof}).status_code
        assert status == 429


def test_openapi_file_equals_the_apps(client: TestClient) -> None:
    """docs/openapi.json is the app's schema; regenerate with `make openapi`."""
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert client.get("/openapi.json").json() == committed
