"""The filing pages end to end through the real medium (issue 17): a person registers, binds the account
to a company, files a repair application with a PDF, the credit office decides it on the internal node,
and the person's page shows the decision while the record is gone; and every refusal on the way."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from internal_node import applications as apps
from internal_node.export import export
from internal_node.returns import import_returns
from nodekit import trust_store
from public_node.cli import send_returns
from public_node.importer import import_packages
from public_node.models import PublishedRecord
from public_node.web.app import create_app
from public_node.web.appmodels import WebApplication, WebAttachment
from public_node.web.config import load_web_config
from public_node.web.db import upgrade_web_database, web_engine
from tests.integration.public_support import COMPANY_USCC, ingest_rows, penalty
from tests.nodes import Clock, Home, trusted_pair
from tests.unit.public_node.test_uploads import make_pdf
from tests.vectors.format2 import tiny_png
from tests.web.auth_support import csrf, log_in, platform_of, sign_up

pytestmark = pytest.mark.db
_ID = re.compile(r"/applications/([0-9a-f]{32})")


@pytest.fixture
def gap(tmp_path: Path, database_factory: Any) -> Iterator[tuple[Home, Home, Clock, TestClient]]:
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
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
    engine.dispose()
    app = create_app(public.node.config.home, clock=clock)
    with TestClient(app, client=("203.0.113.9", 50000)) as client:
        yield internal, public, clock, client
    app.app.state.platform.close()  # type: ignore[attr-defined]


def _to_public(internal: Home, public: Home) -> None:
    export(internal.node, internal.identity)
    assert [o.result for o in import_packages(public.node, public.identity)] == ["applied"]


def _to_internal(internal: Home, public: Home) -> None:
    send_returns(public.node, public.identity)
    assert [o.result for o in import_returns(internal.node, internal.identity)] == ["applied"]


def _records(public: Home) -> dict[str, str]:
    with public.node.sessions() as s:
        return {
            r.key: r.subject_key for r in s.scalars(select(PublishedRecord).where(PublishedRecord.kind == "penalty"))
        }


def _file(client: TestClient, data: dict[str, str], files: list[tuple[str, bytes]] = ()) -> Any:  # type: ignore[assignment]
    token = csrf(client, f"/applications/new?type={data['type']}")
    return client.post(
        "/applications/new", data={"csrf_token": token, **data},
        files=[("files", (n, d, "application/octet-stream")) for n, d in files], follow_redirects=False,
    )  # fmt: skip


def test_bind_file_repair_with_a_pdf_decided_across_the_gap(gap: tuple[Home, Home, Clock, TestClient]) -> None:
    internal, public, clock, client = gap
    assert sign_up(client, "zhangsan").status_code == 303
    assert log_in(client, "zhangsan").status_code == 303
    r = client.post("/applications/bind", data={
        "csrf_token": csrf(client, "/applications/bind"), "category": "legal", "identifier": COMPANY_USCC[0].lower(),
        "name": "昆明示例建筑工程有限公司", "legal_rep": "王建国", "contact": "13812345678",
    }, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    binding = _ID.search(r.headers["location"]).group(1)  # type: ignore[union-attr]
    assert "待报送" in client.get(f"/applications/{binding}").text

    _to_internal(internal, public)
    assert "已报送" in client.get(f"/applications/{binding}").text
    with internal.node.transaction() as s:
        apps.decide(s, binding, "approved", "代码与法定代表人一致。", actor="审核员甲", now=clock())
    _to_public(internal, public)
    assert "通过" in client.get(f"/applications/{binding}").text

    records = _records(public)
    with public.node.sessions() as s:
        from public_node.models import ApplicationDecision

        subject = s.get(ApplicationDecision, binding).subject_key  # type: ignore[union-attr]
    mine = next(k for k, v in records.items() if v == subject)
    theirs = next(k for k, v in records.items() if v != subject)

    # another subject's record: refused, nothing kept
    r = _file(client, {"type": "objection", "table": "penalty", "key": theirs, "category": "inaccurate",
                       "statement": "不是我们的"})  # fmt: skip
    assert r.status_code == 403
    # a script named .pdf: refused
    r = _file(client, {"type": "repair", "table": "penalty", "key": mine, "category": "repair", "statement": "x"},
              [("证明.pdf", b"#!/bin/sh\necho pwned\n")])  # fmt: skip
    assert r.status_code == 400 and "文件内容与其类型不符" in r.text
    files = [("照片.png", tiny_png())]
    if shutil.which("pdftoppm"):
        files.append(("缴款凭证.pdf", make_pdf()))
    r = _file(client, {"type": "repair", "table": "penalty", "key": mine, "category": "repair",
                       "statement": "已缴清罚款并完成整改。", "contact": "13812345678"}, files)  # fmt: skip
    assert r.status_code == 303, r.text
    repair = _ID.search(r.headers["location"]).group(1)  # type: ignore[union-attr]
    with platform_of(client).web_transaction() as s:
        row = s.get(WebApplication, repair)
        assert row is not None and row.contact == "138****5678", "only the masked hint is kept for the wire"
        kept = list(s.scalars(select(WebAttachment).where(WebAttachment.application_id == repair)))
        assert kept and all(a.media_type in ("image/png", "image/jpeg") for a in kept), "disarmed images only"
        assert all(b"%PDF" not in a.data for a in kept)
    # the same filing again: merged into the open one
    r = _file(client, {"type": "repair", "table": "penalty", "key": mine, "category": "repair", "statement": "再次"})
    assert r.headers["location"] == f"/applications/{repair}?merged=1"
    subject_page = client.get(f"/subjects/{subject}").text
    assert "信用修复审核中" in subject_page

    _to_internal(internal, public)
    with internal.node.transaction() as s:
        apps.decide(s, repair, "approved", "符合信用修复条件，提前终止公示。", actor="审核员乙", now=clock())
    _to_public(internal, public)
    page = client.get(f"/applications/{repair}").text
    assert "已办结" in page and "提前终止公示" in page
    assert mine not in _records(public), "the repair ended the publication early"


def test_complaints_any_account_limits_and_privacy(gap: tuple[Home, Home, Clock, TestClient]) -> None:
    _internal, _public, _clock, client = gap
    sign_up(client, "lisi")
    log_in(client, "lisi")
    first = _file(client, {"type": "complaint", "category": "department", "target": "某局", "statement": "办事拖延"})
    assert first.status_code == 303, "any logged-in account may complain"
    complaint = _ID.search(first.headers["location"]).group(1)  # type: ignore[union-attr]
    for n in range(9):
        assert _file(client, {"type": "complaint", "category": "other", "target": f"对象{n}",
                              "statement": "情况说明"}).status_code == 303  # fmt: skip
    r = _file(client, {"type": "complaint", "category": "other", "target": "第十一件", "statement": "情况"})
    assert r.status_code == 429, "ten filings a day per account"

    client.post("/logout", data={"csrf_token": csrf(client, "/account")})
    sign_up(client, "wangwu")
    log_in(client, "wangwu")
    assert client.get(f"/applications/{complaint}").status_code == 404, "another account's application is unknown"
    client.cookies.clear()
    assert client.get("/applications").status_code == 401, "logged in only"
