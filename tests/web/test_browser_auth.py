"""Accounts in real headless Chromium against ``public-node serve``: sign up (the page's own
challenge script solves the proof of work), log in, the slow-down after failed logins, an
administrator enrolling TOTP from the page and logging in with it, each role refused the others'
pages, a form whose CSRF token was removed refused, and the auditor's console over a real transfer
log. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy.orm import Session

from nodekit.events import record_event
from public_node.web import accounts
from public_node.web.config import load_web_config
from public_node.web.db import upgrade_web_database, web_engine
from tests.helpers import run_cli
from tests.web.server import Server
from tests.web.support import published_home
from tests.web.test_browser import ARGS, CHROMIUM, Watch, axe_violations, shot, sync_api
from transfer.log import EventCode

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("browser-auth")
    counter = iter(range(100))

    def sqlite(label: str) -> str:
        return f"sqlite:///{tmp / f'{label}{next(counter)}.db'}"

    node = published_home(tmp, sqlite)
    now = datetime.now(UTC)
    with node.transaction() as s:  # a real transfer log for the auditor's console
        for seq in (1, 2, 3):
            record_event(s, EventCode.PACKAGE_APPLIED, at=now, actor=f"package:{seq}", result="applied",
                         subject={"channel": "int->pub", "seq": seq}, counts={"records": 10 * seq})  # fmt: skip
        record_event(s, EventCode.PACKAGE_QUARANTINED, at=now, actor="service:watch", result="quarantined",
                     reason="bad-signature", subject={"file": "x.cgp"})  # fmt: skip
    home = node.config.home
    config = node.config
    node.close()
    engine = web_engine(load_web_config(config).web_database_url)
    upgrade_web_database(engine)
    with Session(engine) as s, s.begin():
        accounts.set_setting(s, "signup_difficulty", 8)  # keeps the page's proof of work quick in CI
    engine.dispose()
    passwords = {}
    for name, role in (("auditor_li", "auditor"), ("sys_wang", "sysadmin")):
        r = run_cli("public-node", "--home", str(home), "admin", "create", name, "--role", role, "--json")
        assert r.code == 0, r.err
        passwords[name] = r.json()["password"]  # type: ignore[index]
    server = Server(home, workers=2)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield {"server": server, "browser": browser, "passwords": passwords}
        browser.close()
    assert server.stop() == 0


@pytest.fixture
def page(env: dict[str, Any]) -> Iterator[Any]:
    context = env["browser"].new_context(base_url=env["server"].url, locale="zh-CN")  # CSP enforced
    p = context.new_page()
    p.watch = Watch(p)
    yield p
    context.close()


def _login(page: Any, username: str, password: str) -> Any:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form.account button")
    return page


def test_sign_up_log_in_and_the_slow_down(page: Any) -> None:
    page.goto("/register")
    page.fill("#username", "zhang_san")
    page.fill("#password", "一个足够长的口令 2026")
    page.click("#register-submit")
    page.wait_for_url("**/login?registered=1")
    _login(page, "zhang_san", "一个足够长的口令 2026")
    assert page.url.endswith("/account") and page.inner_text("#me") == "zhang_san"
    shot(page, "account")
    assert axe_violations(page) == []
    page.goto("/register")
    assert axe_violations(page) == []
    other = page.context.browser.new_context(base_url=page.url.split("/account")[0], locale="zh-CN")
    p2 = other.new_page()
    for _ in range(4):
        _login(p2, "zhang_san", "wrong password 000")
        assert "账号名或密码错误" in p2.inner_text("main")
    _login(p2, "zhang_san", "一个足够长的口令 2026")  # right password, but the pair must wait now
    assert "失败次数过多" in p2.inner_text("main")
    shot(p2, "login-slowed-down")
    other.close()
    assert page.watch.events == []


def test_an_administrator_enrols_totp_and_logs_in_with_it(page: Any, env: dict[str, Any]) -> None:
    _login(page, "auditor_li", env["passwords"]["auditor_li"])
    assert page.url.endswith("/login/totp")
    assert page.locator(".qr svg").count() == 1
    shot(page, "totp-enrol")
    assert axe_violations(page) == []
    secret = page.inner_text("#totp-secret")
    used = pyotp.TOTP(secret).now()
    page.fill("#code", used)
    with page.expect_navigation():
        page.click("form.account button")
    codes = page.locator("ul.codes code").all_inner_texts()
    assert len(codes) == accounts.RECOVERY_CODES
    page.click("main a")
    page.wait_for_load_state()
    assert page.url.endswith("/account"), (
        page.url,
        page.inner_text("main")[:300],
    )  # the printed password must be changed first
    assert page.goto("/audit").status == 403
    page.goto("/account")
    page.fill("#current", env["passwords"]["auditor_li"])
    page.fill("#new", "审计员的新口令 li 2026")
    with page.expect_navigation():
        page.click("form[action='/account/password'] button")
    _login(page, "auditor_li", "审计员的新口令 li 2026")
    second = pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30))  # the next step: this one is spent
    page.fill("#code", second)
    with page.expect_navigation():
        page.click("form.account button")
    page.wait_for_url("**/audit")
    assert "package.applied" in page.inner_text("#log")
    shot(page, "audit-console")
    assert axe_violations(page) == []
    page.goto("/audit/alarms")
    assert "bad-signature" in page.inner_text("#log")
    page.goto("/audit/web")
    assert "网站审计日志校验通过" in page.inner_text("#chain-status")
    shot(page, "audit-web-log")
    assert axe_violations(page) == []
    page.goto("/audit/packages")
    shot(page, "audit-packages")
    assert axe_violations(page) == []
    response = page.goto("/admin/users")  # the auditor is refused the system administrator's pages
    assert response.status == 403
    # logging in again with the code just used (a replay) is refused
    again = page.context.browser.new_context(base_url=env["server"].url, locale="zh-CN").new_page()
    _login(again, "auditor_li", "审计员的新口令 li 2026")
    assert again.locator(".qr svg").count() == 0  # enrolled: no second enrolment
    again.fill("#code", second)
    with again.expect_navigation():
        again.click("form.account button")
    assert "验证码无效或已被使用" in again.inner_text("main")
    assert page.watch.events == [] or all("403" in e for e in page.watch.events)


def test_a_form_without_its_csrf_token_is_refused(page: Any, env: dict[str, Any]) -> None:
    page.goto("/login")
    page.fill("#username", "sys_wang")
    page.fill("#password", env["passwords"]["sys_wang"])
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    with page.expect_navigation():
        page.click("form.account button")
    assert "表单已过期或并非来自本站" in page.inner_text("main")
    shot(page, "csrf-refused")
    assert not re.search(r"/login/totp$", page.url)
