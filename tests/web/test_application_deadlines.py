"""Deadlines across the gap (issue 17, FORMAT.md §10.6 ``application-status``): what the platform files is
acknowledged by the internal node with its received time and due date; the filer's page shows them, and
the auditor's console lists the open ones past their due date until a decision comes back."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from internal_node import applications as apps
from internal_node.appmodels import Application, BindingRequest
from public_node.models import ApplicationStatus
from public_node.web import accounts
from tests.integration.public_support import COMPANY_USCC
from tests.nodes import Clock, Home
from tests.web.auth_support import admin_login, csrf, log_in, make_admin, sign_up
from tests.web.test_applications_web import _file, _to_internal, _to_public, gap

pytestmark = pytest.mark.db
__all__ = ["gap"]  # the fixture, shared with the filing tests
_ID = re.compile(r"/applications/([0-9a-f]{32})")
_ROW = re.compile(r"<tr><td><code>([0-9a-f]{32})</code></td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>"
                  r"<td>([0-9]+)</td></tr>")  # fmt: skip


def _auditor(client: TestClient, clock: Clock, name: str) -> TestClient:
    """A fresh auditor logged in with TOTP at the clock's time (a new one each time: a TOTP step is used once)."""
    c = TestClient(client.app, client=("203.0.113.30", 50002))
    secret = pyotp.random_base32()
    make_admin(c, name, accounts.ROLE_AUDITOR, secret=secret)
    assert admin_login(c, name, secret, clock.now).status_code == 303
    return c


def _overdue(auditor: TestClient) -> dict[str, tuple[str, str, str, int]]:
    page = auditor.get("/audit/overdue")
    assert page.status_code == 200
    return {m[0]: (m[1], m[2], m[3], int(m[4])) for m in _ROW.findall(page.text)}


def _alarm_count(auditor: TestClient) -> int:
    page = auditor.get("/audit/alarms").text
    m = re.search(r"逾期未办结的申请：(\d+) 件", page)
    assert m, "the alarms view counts the overdue applications"
    return int(m.group(1))


def test_the_due_date_crosses_and_the_auditor_sees_what_is_overdue(gap: tuple[Home, Home, Clock, TestClient]) -> None:
    internal, public, clock, client = gap
    assert sign_up(client, "wangwu").status_code == 303
    assert log_in(client, "wangwu").status_code == 303
    r = client.post("/applications/bind", data={
        "csrf_token": csrf(client, "/applications/bind"), "category": "legal", "identifier": COMPANY_USCC[0],
        "name": "昆明示例建筑工程有限公司", "legal_rep": "王建国", "contact": "13812345678",
    }, follow_redirects=False)  # fmt: skip
    binding = _ID.search(r.headers["location"]).group(1)  # type: ignore[union-attr]
    r = _file(client, {"type": "complaint", "category": "department", "target": "昆明市某区市场监督管理局",
                       "statement": "窗口工作人员多次推诿。"})  # fmt: skip
    complaint = _ID.search(r.headers["location"]).group(1)  # type: ignore[union-attr]
    assert "受理日期" not in client.get(f"/applications/{complaint}").text, "not acknowledged yet"

    _to_internal(internal, public)  # the internal node takes both in, with their deadlines
    with internal.node.sessions() as s:
        due = {b.id: b.due for b in s.scalars(select(BindingRequest))}
        due |= {a.id: a.due for a in s.scalars(select(Application))}
    _to_public(internal, public)  # its next export acknowledges them
    with public.node.sessions() as s:
        stored = {a.id: (a.type, a.due, a.received) for a in s.scalars(select(ApplicationStatus))}
    assert {k: v[:2] for k, v in stored.items()} == {binding: ("binding", due[binding]),
                                                      complaint: ("complaint", due[complaint])}  # fmt: skip
    assert stored[complaint][2] == clock.now
    page = client.get(f"/applications/{complaint}").text
    assert re.search(r'id="app-received">2026-11-26<', page)
    assert f'id="app-due">{due[complaint].isoformat()}<' in page
    assert "信用管理部门已受理" in page
    api = client.get(f"/api/v1/applications/{complaint}").json()
    assert (api["received"][:19], api["due"]) == ("2026-11-26T08:00:00", due[complaint].isoformat())

    # nothing is overdue yet; the console says so
    auditor = _auditor(client, clock, "auditor_early")
    assert _overdue(auditor) == {} and _alarm_count(auditor) == 0

    # the binding is decided in time; the complaint is not
    with internal.node.transaction() as s:
        apps.decide(s, binding, "approved", "代码与法定代表人一致。", actor="审核员甲", now=clock())
    _to_public(internal, public)
    clock.advance(days=40)
    late = (clock.now.date() - due[complaint]).days
    auditor = _auditor(client, clock, "auditor_late")
    listed = _overdue(auditor)
    assert listed == {complaint: ("投诉举报", "2026-11-26 16:00", due[complaint].isoformat(), late)}
    assert late > 0 and _alarm_count(auditor) == 1
    assert "逾期天数（自然日）" in auditor.get("/audit/overdue").text

    # the office extends the deadline (the due date changes): the next export acknowledges it again
    extended = clock.now.date() + timedelta(days=5)
    with internal.node.transaction() as s:
        row = s.get(Application, complaint)
        assert row is not None
        row.due = extended
    _to_public(internal, public)
    assert log_in(client, "wangwu").status_code == 303  # 40 days on: the filer's session has ended
    assert f'id="app-due">{extended.isoformat()}<' in client.get(f"/applications/{complaint}").text
    assert _overdue(auditor) == {} and _alarm_count(auditor) == 0
    clock.advance(days=6)
    auditor = _auditor(client, clock, "auditor_later")
    assert list(_overdue(auditor)) == [complaint]

    # decided at last: it leaves the list
    with internal.node.transaction() as s:
        apps.decide(s, complaint, "answered", "已转区市场监管局核查。", actor="审核员丙", now=clock())
    _to_public(internal, public)
    assert _overdue(auditor) == {} and _alarm_count(auditor) == 0
    with internal.node.sessions() as s:
        assert {r.acknowledged_due for r in s.scalars(select(Application))} == {extended}, "acknowledged once each"
