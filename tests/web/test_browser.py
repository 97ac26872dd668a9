"""The platform in real headless Chromium (Debian's ``chromium``, driven by Playwright through
``executable_path``; no browser download): home, a 2-character search, a subject page, a list page, a
report whose verification code is checked back, the API through ``fetch``, and subjects whose names
carry ``<script>`` and ``<img onerror>`` shown as text with no script run. axe-core (vendored, see
tests/web/vendor/README) reports no violations on each page. Screenshots go to test-artifacts/.

Skipped when chromium is absent, except under CI=true, where that is a failure (.ci/run installs it).
Refresh the README's screenshot with ``CREDGAP_UPDATE_SCREENSHOT=1 .venv/bin/pytest
tests/web/test_browser.py::test_subject_page``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.public_node.data import key
from tests.web.server import Server
from tests.web.support import published_home

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not CHROMIUM.exists():
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium for the browser tests", pytrace=False)
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI installs it", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is a development dependency ([dev])")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("browser")
    counter = iter(range(100))

    def sqlite(label: str) -> str:
        return f"sqlite:///{tmp / f'{label}{next(counter)}.db'}"

    node = published_home(tmp, sqlite)
    node.close()
    s = Server(node.config.home, workers=2)
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


class Watch:
    """Dialogs, console errors and page errors seen on a page (none may happen)."""

    def __init__(self, page: Any) -> None:
        self.events: list[str] = []
        page.on("dialog", lambda d: (self.events.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda e: self.events.append(f"pageerror: {e}"))
        page.on("console", lambda m: self.events.append(f"console {m.type}: {m.text}") if m.type == "error" else None)


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    # bypass_csp lets the test inject axe-core; it also shows that escaping alone keeps markup inert
    context = browser.new_context(base_url=server.url, bypass_csp=True, locale="zh-CN")
    p = context.new_page()
    p.watch = Watch(p)
    yield p
    context.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Any) -> list[Any]:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    return list(
        page.evaluate(
            """async () => {
                const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']});
                return r.violations.map(v => ({id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))}));
            }"""
        )
    )


def visit(page: Any, url: str, name: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200
    shot(page, name)
    assert axe_violations(page) == []
    assert page.watch.events == []


def test_home(page: Any) -> None:
    visit(page, "/", "home")
    assert "信用信息查询" in page.inner_text("h1")
    assert "数据包 3" in page.inner_text("main")


def test_two_character_search(page: Any) -> None:
    page.goto("/")
    page.fill("#q", "华兴")
    page.keyboard.press("Enter")  # keyboard use: the form submits from the search box
    page.wait_for_url("**/search?q=*")
    visit(page, page.url, "search")
    assert page.locator("ol.results li").count() == 2
    assert page.locator("ol.results mark").first.inner_text() == "华兴"


def test_subject_page(page: Any) -> None:
    visit(page, f"/subjects/{key('hx')}", "subject")
    text = page.inner_text("main")
    for expected in ("昆明华兴科技有限公司", "行政处罚", "昆明市市场监督管理局", "2024-06-01"):
        assert expected in text
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    shot(page, "subject-phone")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    if os.environ.get("CREDGAP_UPDATE_SCREENSHOT") == "1":
        page.set_viewport_size({"width": 1024, "height": 768})
        shutil.copy(shot(page, "subject"), ROOT / "docs" / "img" / "subject-page.png")


def test_list_page(page: Any) -> None:
    visit(page, "/lists/red", "list-red")
    assert page.locator("table.list tbody tr").count() == 20
    page.click("a[rel=next]")
    assert page.locator("table.list tbody tr").count() == 5


def test_report_and_its_verification_code(page: Any) -> None:
    page.goto(f"/subjects/{key('hx')}")
    page.click("form.inline button")
    page.wait_for_selector("#verification-code")
    shot(page, "report")
    assert axe_violations(page) == []
    code = page.inner_text("#verification-code")
    page.emulate_media(media="print")
    assert not page.is_visible("header.site")  # print CSS
    page.emulate_media(media="screen")
    page.goto("/reports/verify")
    page.fill("#code", code)
    page.click("form.search button")
    page.wait_for_selector(".verdict")
    shot(page, "verify")
    assert "报告真实，内容未变化。" in page.inner_text(".verdict")
    assert axe_violations(page) == [] and page.watch.events == []


def test_api_through_fetch(page: Any) -> None:
    page.goto("/")
    body = page.evaluate("async () => (await fetch('/api/v1/search?q=' + encodeURIComponent('华兴'))).json()")
    assert [s["name"] for s in body["items"]] == ["昆明华兴科技有限公司", "云南华兴商贸有限责任公司"]
    subject = page.evaluate(f"async () => (await fetch('/api/v1/subjects/{key('hx')}')).json()")
    assert subject["subject"]["uscc"] == "91530100MA6K3XQ51A"


@pytest.mark.parametrize("label", ["xs", "xi"])
def test_markup_in_names_runs_no_script(page: Any, label: str) -> None:
    page.goto("/search?q=" + ("脚本测试" if label == "xs" else "图片测试"))  # the name in a result list
    assert page.evaluate("window.__xss") is None
    page.goto(f"/subjects/{key(label)}")  # and as the page's heading
    assert page.evaluate("window.__xss") is None
    h1 = page.inner_text("h1")
    assert ("<script>" in h1) if label == "xs" else ("<img src=x onerror" in h1)
    assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
    assert page.watch.events == []


def test_the_pages_respect_their_own_csp(browser: Any, server: Server) -> None:
    context = browser.new_context(base_url=server.url)  # CSP enforced
    page = context.new_page()
    watch = Watch(page)
    for url in ("/", "/search?q=华兴", f"/subjects/{key('hx')}", "/lists/dishonest", "/gov", "/documents"):
        assert page.goto(url).status == 200
    context.close()
    assert watch.events == []
