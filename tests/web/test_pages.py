"""The pages as HTML: security headers on every response, every published string escaped (names
carrying markup are text), highlighting that escapes first, the search tolerances, and freshness."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from nodekit.runtime import Node
from public_node.web.app import create_app
from public_node.web.guard import CSP
from public_node.web.render import highlight
from tests.unit.public_node.data import key
from tests.web.conftest import Clock
from tests.web.support import configure

pytestmark = pytest.mark.db

PAGES = [
    "/",
    "/search?q=华兴",
    f"/subjects/{key('hx')}",
    "/lists/red",
    "/lists/dishonest",
    "/gov",
    "/documents",
    "/reports/verify",
]


@pytest.mark.parametrize("url", [*PAGES, "/api/v1/freshness", "/static/site.css", "/nowhere", "/search?q=%FF"])
def test_security_headers_on_every_response(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.headers["content-security-policy"] == CSP
    assert "unsafe-inline" not in CSP and "frame-ancestors 'none'" in CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in r.headers  # only when configured behind TLS


@pytest.mark.parametrize("url", PAGES)
def test_pages_are_self_contained(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 200
    html = r.text
    assert re.search(r"""(src|href)=["']?(https?:)?//""", html) is None
    assert "<script" not in html.lower() and "style=" not in html


def test_markup_in_published_names_is_text(client: TestClient) -> None:
    for url in ("/search?q=测试有限公司", f"/subjects/{key('xs')}", f"/subjects/{key('xi')}", "/search?q=script"):
        html = client.get(url).text
        assert "<script>window" not in html and "<img src=x" not in html
    html = client.get(f"/subjects/{key('xs')}").text
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;昆明脚本测试有限公司" in html
    html = client.get(f"/subjects/{key('hx')}").text
    assert "罚款&lt;b&gt;1.5&lt;/b&gt;万元&#34;" in html


def test_highlight_escapes_first_then_marks() -> None:
    assert str(highlight("<b>华兴</b>", "华兴")) == "&lt;b&gt;<mark>华兴</mark>&lt;/b&gt;"
    assert str(highlight("华　兴（昆明）", "华兴")) == "<mark>华　兴</mark>（昆明）"
    assert str(highlight("ＡＢＣ科技", "abc")) == "<mark>ＡＢＣ</mark>科技"
    assert str(highlight("<mark>", "mark")) == "&lt;<mark>mark</mark>&gt;"
    assert str(highlight("a<b", "<")) == "a&lt;b"


def test_home_shows_counts_and_freshness(client: TestClient) -> None:
    html = client.get("/").text
    assert "更新时间：2026-11-26 16:00（数据包 3）" in html
    assert '<html lang="zh-CN">' in html


def test_search_page_highlights_and_pages(client: TestClient) -> None:
    html = client.get("/search", params={"q": "华兴"}).text
    assert "昆明<mark>华兴</mark>科技有限公司" in html
    html = client.get("/search", params={"q": "守信企业"}).text
    nxt = re.search(r'href="(/search\?q=[^"]+&amp;cursor=[^"]+)"', html)
    assert nxt is not None
    second = client.get(nxt.group(1).replace("&amp;", "&"))
    assert second.status_code == 200 and "守信企业</mark>2" in second.text


def test_subject_page_shows_records_with_source_and_dates(client: TestClient) -> None:
    html = client.get(f"/subjects/{key('hx')}").text
    for text in (
        "行政许可",
        "行政处罚",
        "名单信息",
        "信用承诺",
        "数据来源单位",
        "昆明市市场监督管理局",
        "2024-06-01",
        "一般",
    ):
        assert text in html
    assert client.get("/subjects/91530100MA6K3XQ51A").text == html


def test_documents_download_as_attachments(client: TestClient) -> None:
    r = client.get(f"/documents/{key('doc1')}")
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-type"] == "application/pdf"
    assert "sandbox" in r.headers["content-security-policy"]


def test_hsts_when_configured(home: Node, clock: Clock) -> None:
    configure(home, hsts=True)
    app = create_app(home.config.home, clock=clock)
    with TestClient(app) as c:
        for url in ("/", "/nowhere", "/search?q=%FF"):
            assert c.get(url).headers["strict-transport-security"].startswith("max-age=")


def test_government_credit_pages(client: TestClient) -> None:
    html = client.get("/gov").text
    assert "昆明市示例管理局" in html and "昆明市另一管理局" in html
    dept = re.search(r'href="(/gov/[0-9a-f]{32})"', html)
    assert dept is not None
    page = client.get(dept.group(1)).text
    assert "服务承诺事项" in page and "未履行" in page
    assert client.get(f"/gov/{'0' * 32}").status_code == 404


def test_a_departments_subject_page_shows_its_newest_records_and_links_the_rest(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A city bureau has thousands of government-credit records: its subject page shows the newest
    (here 2 of 3) with their number and a link to its paginated government-credit page, instead of
    reading and rendering them all on every visit."""
    from public_node.web import pages

    monkeypatch.setattr(pages, "GOV_ON_SUBJECT_PAGE", 2)
    html = client.get(f"/subjects/{key('gov1')}").text
    assert html.count('class="record"') == 2, "the newest two"
    assert "服务承诺事项2" in html and "服务承诺事项1" in html and "服务承诺事项0" not in html
    assert "(3)" in html and f'href="/gov/{key("gov1")}"' in html and "查看全部 3 条记录" in html
    monkeypatch.setattr(pages, "GOV_ON_SUBJECT_PAGE", 3)
    html = client.get(f"/subjects/{key('gov1')}").text
    assert html.count('class="record"') == 3 and "查看全部" not in html
    api = client.get(f"/api/v1/subjects/{key('gov1')}").json()
    assert len(api["records"]["gov_credit"]) == 3, "the API still carries every record"
