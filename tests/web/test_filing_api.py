"""The filing API (issue 17): a logged-in person binds and files an objection through /api/v1 with the
session's CSRF token in a header; the credit office upholds it on the internal node and the API shows the
decision while the record is withdrawn. Refused: no CSRF header, another origin, an institution's token,
an unbound subject's record, bad base64, and another account's filing."""

from __future__ import annotations

import base64
from typing import Any

from starlette.testclient import TestClient

from internal_node import applications as apps
from public_node.models import ApplicationDecision
from public_node.web import accounts
from tests.integration.public_support import COMPANY_USCC
from tests.nodes import Clock, Home
from tests.vectors.format2 import tiny_png
from tests.web.auth_support import csrf, log_in, platform_of, sign_up
from tests.web.test_applications_web import _records, _to_internal, _to_public, gap  # noqa: F401

BIND = {"category": "legal", "identifier": COMPANY_USCC[0], "name": "昆明示例建筑工程有限公司",
        "legal_rep": "王建国", "contact": "13812345678"}  # fmt: skip


def _post(client: TestClient, path: str, body: dict[str, Any], token: str | None, **headers: str) -> Any:
    if token is not None:
        headers["X-CSRF-Token"] = token
    return client.post(path, json=body, headers=headers)


def test_an_objection_filed_through_the_api_is_upheld_across_the_gap(
    gap: tuple[Home, Home, Clock, TestClient],  # noqa: F811
) -> None:
    internal, public, clock, client = gap
    assert client.post("/api/v1/bindings", json=BIND).status_code == 401
    assert sign_up(client, "lisi").status_code == 303
    assert log_in(client, "lisi").status_code == 303
    token = csrf(client, "/applications/bind")

    assert _post(client, "/api/v1/bindings", BIND, None).json()["error"]["code"] == "bad-csrf"
    assert _post(client, "/api/v1/bindings", BIND, "x" * 32).status_code == 403
    r = _post(client, "/api/v1/bindings", BIND, token, Origin="https://evil.example")
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross-origin"
    r = _post(client, "/api/v1/bindings", {**BIND, "identifier": "123"}, token)
    assert r.status_code == 400 and "格式不正确" in r.json()["error"]["message"]
    r = _post(client, "/api/v1/bindings", BIND, token)
    assert r.status_code == 200, r.text
    binding = r.json()["id"]
    assert client.get(f"/api/v1/applications/{binding}").json()["sent"] is False

    _to_internal(internal, public)
    with internal.node.transaction() as s:
        apps.decide(s, binding, "approved", "代码与法定代表人一致。", actor="审核员甲", now=clock())
    _to_public(internal, public)
    assert client.get(f"/api/v1/applications/{binding}").json()["decision"] == "approved"
    with public.node.sessions() as s:
        subject = s.get(ApplicationDecision, binding).subject_key  # type: ignore[union-attr]
    records = _records(public)
    mine = next(k for k, v in records.items() if v == subject)
    theirs = next(k for k, v in records.items() if v != subject)

    objection = {"type": "objection", "table": "penalty", "key": mine, "category": "inaccurate",
                 "statement": "处罚决定已被撤销，记录有误。", "contact": "13812345678"}  # fmt: skip
    r = _post(client, "/api/v1/applications", {**objection, "key": theirs}, token)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not-bound"
    bad = {**objection, "attachments": [{"name": "a.png", "data": "%%%"}]}
    assert _post(client, "/api/v1/applications", bad, token).status_code == 400
    with platform_of(client).web_transaction() as s:
        _row, secret = accounts.issue_token(s, "某银行", ["search"], clock())
    r = client.post("/api/v1/applications", json=objection, headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 403, "an institution's token does not file"

    png = {"name": "撤销决定.png", "data": base64.b64encode(tiny_png()).decode()}
    r = _post(client, "/api/v1/applications", {**objection, "attachments": [png]}, token)
    assert r.status_code == 200, r.text
    ident = r.json()["id"]
    assert r.json()["merged"] is False
    again = _post(client, "/api/v1/applications", objection, token).json()
    assert again == {"id": ident, "merged": True}
    assert "异议处理中" in client.get(f"/subjects/{subject}").text

    _to_internal(internal, public)
    with internal.node.transaction() as s:
        apps.decide(s, ident, "upheld", "经核实，处罚决定已撤销。", actor="审核员乙", now=clock())
    _to_public(internal, public)
    out = client.get(f"/api/v1/applications/{ident}").json()
    assert (out["type"], out["decision"], out["sent"]) == ("objection", "upheld", True)
    assert "已撤销" in out["reason"]
    assert mine not in _records(public), "the upheld objection withdrew the record"

    assert sign_up(client, "wangwu").status_code == 303
    assert log_in(client, "wangwu").status_code == 303
    assert client.get(f"/api/v1/applications/{ident}").status_code == 404, "another account's filing is unknown"


def test_the_filing_api_takes_a_body_with_attachments(client: TestClient) -> None:
    """The API carries attachments as base64 in its JSON: the guard's 16 KiB default body let an
    API filing carry about 12 KB of attachments, so a scanned page was refused as too large (413)
    before anyone looked at who sent it. Its body limit is the form's, times 4/3."""
    body = {"type": "complaint", "statement": "x", "attachments": [{"name": "a.png", "data": "A" * 1_000_000}]}
    r = client.post("/api/v1/applications", json=body)
    assert r.status_code == 401, r.status_code  # the size is fine: not logged in is what is wrong
