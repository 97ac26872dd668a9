"""A repair application in real headless Chromium against ``public-node serve``, through the real medium
(issue 17): a person signs up, binds the account to a company, files a repair application with a PDF
on the company's record, the credit office decides it on the internal node, and the person's page shows
the decision while the record has left the subject's page. Screenshots go to test-artifacts/.

Both nodes' databases and the platform's web database are on the engine under test (``--db``): SQLite in
``make test-sqlite``, PostgreSQL in ``make test-pg`` — one run each of the repair, objection and
complaint paths there."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from internal_node import applications as apps
from internal_node.appmodels import BindingRequest
from internal_node.export import export
from internal_node.returns import import_returns
from nodekit import trust_store
from nodekit.home import load_config
from nodekit.runtime import Node
from public_node import SPEC as PUBLIC
from public_node.cli import send_returns
from public_node.importer import import_packages
from public_node.models import ApplicationDecision, PublishedRecord
from public_node.web import accounts
from public_node.web.config import load_web_config
from public_node.web.db import upgrade_web_database, web_engine
from tests.helpers import run_cli
from tests.integration.public_support import COMPANY_USCC, ingest_rows, penalty
from tests.nodes import Clock, Home, trusted_pair
from tests.unit.public_node.test_uploads import make_pdf
from tests.web.server import Server
from tests.web.support import configure
from tests.web.test_browser import ARGS, CHROMIUM, Watch, shot, sync_api

pytestmark = [pytest.mark.browser, pytest.mark.db]
PASSWORD = "一个足够长的口令 2026"


def _to_public(internal: Home, public: Home) -> None:
    export(internal.node, internal.identity)
    assert [o.result for o in import_packages(public.node, public.identity)] == ["applied"]


def _to_internal(internal: Home, public: Home) -> None:
    send_returns(public.node, public.identity)
    assert [o.result for o in import_returns(internal.node, internal.identity)] == ["applied"]


@pytest.fixture
def env(tmp_path: Path, database_factory: Callable[[str], str]) -> Iterator[dict[str, Any]]:
    clock = Clock(datetime.now(UTC).replace(microsecond=0))  # the server reads the real clock
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory, clock)
    # the platform's accounts and filings on the same engine; the node reads its node.toml again
    configure(public.node, web_database_url=database_factory("web"))
    public.node.close()
    public = Home(Node(load_config(public.node.config.home, "public"), PUBLIC, clock=clock), public.identity)
    for card_of, to in ((internal, public), (public, internal)):
        card = card_of.identity.card(reads=2)
        with to.node.transaction() as s:
            trust_store.trust_card(s, card, card.key_id, clock(), own_role=to.node.config.role)
    today = clock().date()
    assert ingest_rows(
        internal.node, "penalty", [penalty(1, today), penalty(2, today, uscc=1)], tmp_path / "d"
    ).accepted
    _to_public(internal, public)
    engine = web_engine(load_web_config(public.node.config).web_database_url)
    upgrade_web_database(engine)
    with Session(engine) as s, s.begin():
        accounts.set_setting(s, "signup_difficulty", 8)
    engine.dispose()
    server = Server(public.node.config.home, workers=2)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(base_url=server.url, locale="zh-CN")
        page = context.new_page()
        page.watch = Watch(page)
        yield {"internal": internal, "public": public, "clock": clock, "page": page, "tmp": tmp_path}
        context.close()
        browser.close()
    assert server.stop() == 0


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed")
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_a_repair_filed_in_the_browser_is_decided_across_the_gap(env: dict[str, Any]) -> None:
    internal, public, clock, page = env["internal"], env["public"], env["clock"], env["page"]
    page.goto("/register")
    page.fill("#username", "zhang_san")
    page.fill("#password", PASSWORD)
    page.click("#register-submit")
    page.wait_for_url("**/login?registered=1")
    page.fill("#username", "zhang_san")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form.account button")

    page.goto("/applications/bind")
    page.fill("#identifier", COMPANY_USCC[0])
    page.fill("#name", "昆明示例建筑工程有限公司")
    page.fill("#legal_rep", "王建国")
    page.fill("#contact", "13812345678")
    with page.expect_navigation():
        page.click("form.account button")
    binding = re.search(r"/applications/([0-9a-f]{32})", page.url).group(1)  # type: ignore[union-attr]
    assert "待报送" in page.inner_text("#app-state")
    shot(page, "apply-binding-filed")

    _to_internal(internal, public)
    with internal.node.transaction() as s:
        apps.decide(s, binding, "approved", "代码与法定代表人一致。", actor="审核员甲", now=clock())
    _to_public(internal, public)
    with public.node.sessions() as s:
        subject = s.get(ApplicationDecision, binding).subject_key  # type: ignore[union-attr]
        mine = s.scalars(select(PublishedRecord.key).where(
            PublishedRecord.kind == "penalty", PublishedRecord.subject_key == subject)).one()  # fmt: skip
    page.reload()
    assert page.inner_text("#app-decision") == "通过"
    with internal.node.sessions() as s:
        due = s.get(BindingRequest, binding).due  # type: ignore[union-attr]
    assert page.inner_text("#app-due") == due.isoformat(), "the credit office's deadline, acknowledged"
    assert (
        page.inner_text("#app-received") == clock().astimezone(ZoneInfo(public.node.config.timezone)).date().isoformat()
    )

    page.goto(f"/subjects/{subject}")
    with page.expect_navigation():
        page.click(f"a[href*='type=repair'][href*='{mine}']")
    page.select_option("#category", "repair")
    page.fill("#statement", "已缴清罚款并完成整改，申请提前结束公示。")
    page.fill("#contact", "13812345678")
    pdf = env["tmp"] / "缴款凭证.pdf"
    pdf.write_bytes(make_pdf())
    page.set_input_files("#files", str(pdf))
    with page.expect_navigation():
        page.click("form.account button")
    repair = re.search(r"/applications/([0-9a-f]{32})", page.url).group(1)  # type: ignore[union-attr]
    assert "缴款凭证.png" in page.inner_text("main"), "the PDF crossed as an image"
    page.goto(f"/subjects/{subject}")
    assert "信用修复审核中" in page.inner_text("main")
    shot(page, "apply-repair-marked")

    _to_internal(internal, public)
    with internal.node.transaction() as s:
        apps.decide(s, repair, "approved", "符合信用修复条件，提前终止公示。", actor="审核员乙", now=clock())
    _to_public(internal, public)
    page.goto(f"/applications/{repair}")
    assert page.inner_text("#app-decision") == "通过"
    assert "提前终止公示" in page.inner_text("#app-reason")
    shot(page, "apply-repair-decided")
    page.goto(f"/subjects/{subject}")
    assert mine not in page.content(), "the record's publication ended early"
    assert page.watch.events == []


def _sign_up_and_bind(env: dict[str, Any], username: str) -> tuple[str, str]:
    """In Chromium: sign up, log in, ask to bind the first company; the office approves it across the gap.
    Returns the bound subject's key and its published penalty's key."""
    internal, public, clock, page = env["internal"], env["public"], env["clock"], env["page"]
    page.goto("/register")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#register-submit")
    page.wait_for_url("**/login?registered=1")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("form.account button")
    page.goto("/applications/bind")
    page.fill("#identifier", COMPANY_USCC[0])
    page.fill("#name", "昆明示例建筑工程有限公司")
    page.fill("#legal_rep", "王建国")
    page.fill("#contact", "13812345678")
    with page.expect_navigation():
        page.click("form.account button")
    binding = re.search(r"/applications/([0-9a-f]{32})", page.url).group(1)  # type: ignore[union-attr]
    _to_internal(internal, public)
    with internal.node.transaction() as s:
        apps.decide(s, binding, "approved", "代码与法定代表人一致。", actor="审核员甲", now=clock())
    _to_public(internal, public)
    with public.node.sessions() as s:
        subject = s.get(ApplicationDecision, binding).subject_key  # type: ignore[union-attr]
        mine = s.scalars(select(PublishedRecord.key).where(
            PublishedRecord.kind == "penalty", PublishedRecord.subject_key == subject)).one()  # fmt: skip
    return subject, mine


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed")
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) is not installed")
def test_an_objection_and_a_complaint_filed_in_the_browser_are_decided_across_the_gap(env: dict[str, Any]) -> None:
    """The objection's full path (issue 17, Done when): filed with a PDF in Chromium → public-node export →
    internal-node import → `internal-node applications decide --upheld` → internal-node export →
    public-node import → the record is withdrawn in Chromium and the filer's page shows the decision. The
    complaint, in the same browser session: filed, answered, the answer shown."""
    internal, public, page = env["internal"], env["public"], env["page"]
    subject, mine = _sign_up_and_bind(env, "li_si")

    page.goto(f"/subjects/{subject}")
    with page.expect_navigation():
        page.click(f"a[href*='type=objection'][href*='{mine}']")
    page.select_option("#category", "inaccurate")
    page.fill("#statement", "该处罚决定已被复议机关撤销，记录有误。")
    page.fill("#contact", "13812345678")
    pdf = env["tmp"] / "复议决定书.pdf"
    pdf.write_bytes(make_pdf())
    page.set_input_files("#files", str(pdf))
    with page.expect_navigation():
        page.click("form.account button")
    objection = re.search(r"/applications/([0-9a-f]{32})", page.url).group(1)  # type: ignore[union-attr]
    assert "复议决定书.png" in page.inner_text("main"), "the PDF crossed as an image"
    page.goto(f"/subjects/{subject}")
    assert "异议处理中" in page.inner_text("main")

    page.goto("/applications/new?type=complaint")
    page.select_option("#category", "department")
    page.fill("#target", "昆明市某区市场监督管理局")
    page.fill("#statement", "窗口工作人员多次推诿，未按时限办理。")
    with page.expect_navigation():
        page.click("form.account button")
    complaint = re.search(r"/applications/([0-9a-f]{32})", page.url).group(1)  # type: ignore[union-attr]
    assert "待报送" in page.inner_text("#app-state")

    home = ("--home", str(internal.node.config.home))
    assert run_cli("public-node", "--home", str(public.node.config.home), "export").code == 0
    assert run_cli("internal-node", *home, "import").code == 0
    listed = run_cli("internal-node", *home, "applications", "list")
    assert objection[:12] in listed.out and complaint[:12] in listed.out, listed.out + listed.err
    decided = run_cli("internal-node", *home, "applications", "decide", objection, "--upheld",
                      "--reason", "经核实，处罚决定已撤销，记录予以撤下。", "--operator", "审核员乙")  # fmt: skip
    assert decided.code == 0, decided.err
    answered = run_cli("internal-node", *home, "applications", "decide", complaint, "--decision", "answered",
                       "--reason", "已转区市场监管局核查，相关人员已批评教育。", "--operator", "审核员丙")  # fmt: skip
    assert answered.code == 0, answered.err
    assert run_cli("internal-node", *home, "export").code == 0
    assert run_cli("public-node", "--home", str(public.node.config.home), "import").code == 0

    page.goto(f"/applications/{objection}")
    assert page.inner_text("#app-decision") == "异议成立"
    assert "记录予以撤下" in page.inner_text("#app-reason")
    shot(page, "apply-objection-decided")
    page.goto(f"/subjects/{subject}")
    assert mine not in page.content(), "the upheld objection withdrew the record"
    assert "异议处理中" not in page.inner_text("main")
    page.goto(f"/applications/{complaint}")
    assert page.inner_text("#app-decision") == "已答复"
    assert "批评教育" in page.inner_text("#app-reason")
    shot(page, "apply-complaint-answered")
    assert page.watch.events == []
