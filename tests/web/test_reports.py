"""Credit reports: issued with a verification code (96 random bits) stored with only the subject key,
the package sequence, the issue time and the records' kind, key, version and digest; verifying says
"genuine, unchanged", or "genuine, changed since" by kind and date without withdrawn content; an
unknown or malformed code is not genuine; verification is rate-limited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from nodekit.runtime import Node
from public_node import store
from public_node.web.app import create_app
from public_node.web.models import REPORT_RECORD_TABLE, REPORT_TABLE
from public_node.web.reports import CODE_BYTES, normalise_code
from tests.unit.public_node.data import key, row, upsert, withdraw
from tests.web.auth_support import csrf
from tests.web.conftest import Clock
from tests.web.support import HX_USCC, TODAY, configure

pytestmark = pytest.mark.db


def _issue(client: TestClient) -> str:
    r = client.post(f"/subjects/{key('hx')}/report", data={"csrf_token": csrf(client, f"/subjects/{key('hx')}")})
    assert r.status_code == 200
    m = re.search(r'id="verification-code">([A-Z2-7-]+)<', r.text)
    assert m is not None
    assert "信用报告" in r.text and "出具时间" in r.text and "2026-11-26 16:00" in r.text
    return m.group(1)


def test_a_report_needs_the_form_s_csrf_token(client: TestClient) -> None:
    r = client.post(f"/subjects/{key('hx')}/report")
    assert r.status_code == 403
    assert client.post("/reports/verify", data={"code": "AAAA"}).status_code == 403


def test_a_report_verifies_unchanged(client: TestClient) -> None:
    code = _issue(client)
    assert CODE_BYTES * 8 >= 80 and len(code.replace("-", "")) == 20
    body = client.get(f"/api/v1/reports/{code}").json()
    assert body["genuine"] and body["unchanged"] and body["package_seq"] == 3
    assert body["subject_name"] == "昆明华兴科技有限公司" and body["changes"] == []
    page = client.post(
        "/reports/verify", data={"code": code.lower().replace("-", " "), "csrf_token": csrf(client, "/reports/verify")}
    ).text
    assert "报告真实，内容未变化。" in page


def test_the_store_keeps_no_content(client: TestClient, home: Node) -> None:
    code = _issue(client)
    engine = client.app.app.state.platform.web_engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        reports = conn.execute(select(REPORT_TABLE)).all()
        records = conn.execute(select(REPORT_RECORD_TABLE)).all()
    assert len(reports) == 1 and (reports[0].subject_key, reports[0].package_seq) == (key("hx"), 3)
    assert set(reports[0]._mapping) == {"id", "code_hash", "subject_key", "package_seq", "issued_at"}
    assert code.replace("-", "") not in str(reports)  # only its hash
    assert {r.kind for r in records} == {"subject", "licence", "penalty", "list_entry", "commitment"}
    dump = str([tuple(r) for r in reports]) + str([tuple(r) for r in records])
    assert "华兴" not in dump and "罚款" not in dump


def test_changes_since_are_listed_by_kind_without_withdrawn_content(client: TestClient, home: Node) -> None:
    code = _issue(client)
    with home.transaction() as s:
        store.apply_changes(
            s,
            [
                withdraw("penalty", "p1", 2, reason="repaired"),
                upsert(
                    "licence",
                    "l1",
                    2,
                    row(
                        "hx",
                        "昆明华兴科技有限公司",
                        uscc=HX_USCC,
                        doc_no="昆市监许〔2026〕1号",
                        decision_date="2026-02-01",
                    ),
                ),
                upsert(
                    "commitment",
                    "c2",
                    1,
                    row(
                        "hx",
                        "昆明华兴科技有限公司",
                        uscc=HX_USCC,
                        doc_no="53010020261101000001",
                        commitment_date="2026-11-01",
                    ),
                ),
            ],
            today=TODAY,
        )
    body = client.get(f"/api/v1/reports/{code}").json()
    assert body["genuine"] and not body["unchanged"]
    assert sorted((c["kind"], c["change"], c["record_date"]) for c in body["changes"]) == [
        ("commitment", "added", "2026-11-01"),
        ("licence", "updated", "2026-02-01"),
        ("penalty", "withdrawn", None),
    ]
    html = client.get("/reports/verify", params={"code": code}).text
    assert "报告真实，出具后信息有变化。" in html and "一条记录已不再公示" in html
    assert "昆市监罚〔2024〕12号" not in html and "1.5" not in html  # the withdrawn penalty's content


@pytest.mark.parametrize("code", ["AAAA-AAAA-AAAA-AAAA-AAAA", "not a code", "", "<script>", "A" * 64])
def test_unknown_codes_are_not_genuine(client: TestClient, code: str) -> None:
    if code:
        r = client.get(f"/api/v1/reports/{code}")
        assert r.status_code == 200 and r.json()["genuine"] is False
    html = client.post("/reports/verify", data={"code": code, "csrf_token": csrf(client, "/reports/verify")}).text
    assert ("核验未通过" in html) == bool(code) and "<script>" not in html.split("<main")[1]


def test_codes_tolerate_case_spaces_and_lookalikes() -> None:
    assert normalise_code("abcd-ef23 4567 ijkl mnop") == "ABCDEF234567IJKLMNOP"
    assert normalise_code("ABCD-EF23-4567-1JKL-MN0P") == "ABCDEF234567IJKLMNOP"
    assert normalise_code("ABCD") is None


def test_verification_is_rate_limited(home: Node, clock: Clock) -> None:
    configure(home, report_rate_limit="3/minute")
    app = create_app(home.config.home, clock=clock)
    with TestClient(app) as c:
        codes = [c.get("/api/v1/reports/AAAA-AAAA-AAAA-AAAA-AAAA").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_each_report_gets_its_own_code(client: TestClient) -> None:
    assert len({_issue(client) for _ in range(5)}) == 5
