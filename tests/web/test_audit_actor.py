"""An audit entry is written inside its caller's write transaction, so it must not reach the web
database again for who the caller is: the visitor and the client's address are worked out once per
request, before any route opens a transaction. Observed through the engines' events: no connection is
taken from either web engine while this thread holds a web write transaction."""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import event, select
from starlette.testclient import TestClient

from public_node.web.app import PROXIES_TTL, Platform
from public_node.web.authmodels import Account, WebAuditEntry
from tests.integration.public_support import COMPANY_USCC
from tests.web.auth_support import csrf, log_in, platform_of, sign_up

pytestmark = pytest.mark.db


class NestedConnections:
    """Every connection checked out of a web engine while the same thread is inside a web write transaction."""

    def __init__(self, p: Platform) -> None:
        self.found: list[str] = []
        self._depth = threading.local()
        event.listen(p.web_engine, "begin", self._begin)
        event.listen(p.web_engine, "commit", self._end)
        event.listen(p.web_engine, "rollback", self._end)
        for name, engine in (("web", p.web_engine), ("web-read", p.web_read_engine)):
            event.listen(engine, "checkout", self._checkout(name))

    def _begin(self, _conn: Any) -> None:
        self._depth.n = getattr(self._depth, "n", 0) + 1

    def _end(self, _conn: Any) -> None:
        self._depth.n = getattr(self._depth, "n", 0) - 1

    def _checkout(self, name: str) -> Any:
        def seen(*_args: Any) -> None:
            if getattr(self._depth, "n", 0) > 0:
                self.found.append(name)

        return seen


def _last_entry(p: Platform) -> WebAuditEntry:
    with p.web_read() as s:
        entry = s.scalars(select(WebAuditEntry).order_by(WebAuditEntry.index.desc()).limit(1)).one()
        s.expunge(entry)
    return entry


def _account_id(p: Platform, username: str) -> int:
    with p.web_read() as s:
        return s.scalars(select(Account.id).where(Account.username == username)).one()


def test_an_audited_filing_names_its_account_without_a_second_connection(client: TestClient) -> None:
    """Each request is as if it ran longer than the proxy list's TTL (a filing's attachments may take
    pdftoppm 20 s a file): the list is due again by the time the audit entry is written."""
    p = platform_of(client)
    assert sign_up(client, "lisi").status_code == 303
    assert log_in(client, "lisi").status_code == 303
    token = csrf(client, "/applications/bind")
    ticks = itertools.count(time.monotonic() + PROXIES_TTL, PROXIES_TTL)
    p.monotonic = lambda: next(ticks)
    nested = NestedConnections(p)
    body = {"category": "legal", "identifier": COMPANY_USCC[0], "name": "昆明示例建筑工程有限公司",
            "legal_rep": "王建国", "contact": "13812345678"}  # fmt: skip
    r = client.post("/api/v1/bindings", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    entry = _last_entry(p)
    subject = json.loads(entry.subject)
    assert (entry.actor, subject["action"], subject["address"]) == (f"account:{_account_id(p, 'lisi')}", "bind",
                                                                    "203.0.113.7")  # fmt: skip
    assert nested.found == []

    # a page's form: the same (the logout is audited in the transaction that ends the session)
    r = client.post("/logout", data={"csrf_token": csrf(client, "/account")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert _last_entry(p).actor == f"account:{_account_id(p, 'lisi')}"
    assert nested.found == []


def test_a_refused_api_token_beside_a_session_cookie_is_audited_without_a_second_connection(
    client: TestClient,
) -> None:
    """The read API's caller is its token: a refusal is audited under the address, and the browser's
    session cookie that came along is not looked up inside the audit's transaction (it was, and the
    entry named that session's account)."""
    p = platform_of(client)
    assert sign_up(client, "lisi").status_code == 303
    assert log_in(client, "lisi").status_code == 303
    nested = NestedConnections(p)
    r = client.get("/api/v1/search", params={"q": "华兴"}, headers={"Authorization": "Bearer forged"})
    assert r.status_code == 401, r.text
    entry = _last_entry(p)
    assert (entry.actor, entry.reason) == ("address:203.0.113.7", "bad-token")  # the token is the caller here
    assert nested.found == []
