"""The security administrator's token scopes and trusted-proxy list over HTTP, on SQLite and
PostgreSQL: only the security administrator changes them (三员分立), the system administrator issues
tokens only within the allowed scopes, a withdrawn scope is refused to tokens already issued, a proxy
removed from the list is no longer believed for the address rate limits count, and every change (and
refusal) is an ``admin.action`` in the web audit log (docs/adr/0012)."""

from __future__ import annotations

import json
import re

import pyotp
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from nodekit.runtime import Node
from public_node.web import accounts
from public_node.web.app import create_app
from public_node.web.authmodels import ApiToken, WebAuditEntry
from tests.web.auth_support import admin_login, csrf, make_admin, platform_of
from tests.web.conftest import Clock
from tests.web.support import configure

pytestmark = pytest.mark.db
SECRET = pyotp.random_base32()
ADMIN_ADDRESS = "203.0.113.20"


def _as(app: object, role: str, clock: Clock) -> TestClient:
    c = TestClient(app, client=(ADMIN_ADDRESS, 50001))  # type: ignore[arg-type]
    make_admin(c, role + "_one", role, secret=SECRET)
    r = admin_login(c, role + "_one", SECRET, clock.now)
    assert r.status_code == 303, r.text
    return c


def _actions(client: TestClient) -> list[tuple[str, str, dict[str, object]]]:
    with platform_of(client).web_transaction() as s:
        rows = s.scalars(
            select(WebAuditEntry).where(WebAuditEntry.event == "admin.action").order_by(WebAuditEntry.index)
        )
        return [(e.result, e.reason, json.loads(e.subject)) for e in rows]


def _issue(sysadmin: TestClient, *scopes: str):  # type: ignore[no-untyped-def]
    t = csrf(sysadmin, "/admin/tokens")
    return sysadmin.post("/admin/tokens", data={"csrf_token": t, "institution": "昆明某银行", "scope": list(scopes)})


def test_the_security_administrator_limits_token_scopes_and_the_system_administrator_stays_within_them(
    client: TestClient, clock: Clock
) -> None:
    sysadmin = _as(client.app, accounts.ROLE_SYSADMIN, clock)
    secadmin = _as(client.app, accounts.ROLE_SECADMIN, clock)
    r = _issue(sysadmin, "search", "lists")
    assert r.status_code == 200
    secret = re.search(r'id="shown-once">(cgt_[A-Za-z0-9_-]+)<', r.text).group(1)  # type: ignore[union-attr]
    api = TestClient(client.app, client=("192.0.2.50", 1))
    auth = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/lists/red", headers=auth).status_code == 200

    page = secadmin.get("/admin/security")
    assert page.status_code == 200 and 'name="scope" value="lists" checked' in page.text
    t = csrf(secadmin, "/admin/security")
    r = secadmin.post(
        "/admin/security/scopes", data={"csrf_token": t, "scope": ["search", "freshness"]}, follow_redirects=False
    )
    assert r.status_code == 303
    with platform_of(client).web_transaction() as s:
        assert accounts.allowed_scopes(s) == ("search", "freshness")
    assert 'name="scope" value="lists" checked' not in secadmin.get("/admin/security").text

    # the system administrator is offered, and can issue, only the allowed scopes
    tokens_page = sysadmin.get("/admin/tokens").text
    assert 'value="freshness"' in tokens_page and 'value="lists"' not in tokens_page
    r = _issue(sysadmin, "search", "lists")
    assert r.status_code == 403 and "cgt_" not in r.text
    assert _issue(sysadmin, "freshness").status_code == 200
    with platform_of(client).web_transaction() as s:
        issued = [row.scopes for row in s.scalars(select(ApiToken).order_by(ApiToken.id))]
    assert issued == ["lists search", "freshness"]

    # a withdrawn scope is refused to the token already holding it; an allowed one still works
    r = api.get("/api/v1/lists/red", headers=auth)
    assert r.status_code == 403 and r.json()["error"]["code"] == "token-scope"
    assert api.get("/api/v1/search", params={"q": "华兴"}, headers=auth).status_code == 200

    actions = _actions(client)
    change = [a for a in actions if a[2].get("action") == "scopes.change"]
    assert len(change) == 1 and change[0][0] == "ok"
    assert change[0][2]["before"] == list(accounts.TOKEN_SCOPES) and change[0][2]["after"] == ["search", "freshness"]
    refused = [a for a in actions if a[2].get("action") == "token.issue" and a[0] == "refused"]
    assert len(refused) == 1 and refused[0][1] == "scope-not-allowed"


def test_the_system_administrator_and_the_auditor_cannot_change_scopes_or_proxies(
    client: TestClient, clock: Clock
) -> None:
    for role in (accounts.ROLE_SYSADMIN, accounts.ROLE_AUDITOR):
        other = _as(client.app, role, clock)
        t = csrf(other, "/account")
        assert other.get("/admin/security").status_code == 403
        r = other.post("/admin/security/scopes", data={"csrf_token": t, "scope": ["search"]})
        assert r.status_code == 403, role
        r = other.post("/admin/security/proxies", data={"csrf_token": t, "proxies": "0.0.0.0/0"})
        assert r.status_code == 403, role
    with platform_of(client).web_transaction() as s:
        assert accounts.allowed_scopes(s) == accounts.TOKEN_SCOPES
        assert accounts.trusted_proxies(s) is None
    actions = _actions(client)
    assert not [a for a in actions if a[0] == "ok" and a[2].get("action") in ("scopes.change", "proxies.change")]
    assert len([a for a in actions if a[1] == "wrong-role"]) == 6


def test_bad_scopes_and_proxies_are_refused_and_change_nothing(client: TestClient, clock: Clock) -> None:
    secadmin = _as(client.app, accounts.ROLE_SECADMIN, clock)
    t = csrf(secadmin, "/admin/security")
    assert secadmin.post("/admin/security/scopes", data={"csrf_token": t, "scope": ["admin"]}).status_code == 400
    r = secadmin.post("/admin/security/proxies", data={"csrf_token": t, "proxies": "10.0.0.1 <script>"})
    assert r.status_code == 400 and "<script>" not in r.text
    assert secadmin.post("/admin/security/proxies", data={"proxies": "0.0.0.0/0"}).status_code == 403  # no CSRF
    with platform_of(client).web_transaction() as s:
        assert accounts.allowed_scopes(s) == accounts.TOKEN_SCOPES
        assert accounts.trusted_proxies(s) is None


def test_a_proxy_removed_from_the_list_is_no_longer_believed(home: Node, clock: Clock) -> None:
    configure(home, rate_limit="2/minute", trusted_proxies=["10.0.0.0/8"], rate_limit_exempt=[ADMIN_ADDRESS])
    app = create_app(home.config.home, clock=clock)
    with TestClient(app, client=("10.1.1.1", 1)) as proxy:
        secadmin = _as(app, accounts.ROLE_SECADMIN, clock)
        page = secadmin.get("/admin/security").text
        assert "10.0.0.0/8" in page  # node.toml's list is the initial one

        def status(client_address: str) -> int:
            return proxy.get("/api/v1/freshness", headers={"X-Forwarded-For": client_address}).status_code

        # node.toml's list: each forwarded client has its own limit
        assert [status("198.51.100.1"), status("198.51.100.2"), status("198.51.100.3")] == [200, 200, 200]

        t = csrf(secadmin, "/admin/security")
        r = secadmin.post(
            "/admin/security/proxies", data={"csrf_token": t, "proxies": "192.0.2.0/24\n2001:db8::1"},
            follow_redirects=False,
        )  # fmt: skip
        assert r.status_code == 303
        # the web database is now authoritative: 10.1.1.1 is counted itself, whatever it forwards
        assert [status("198.51.100.4"), status("198.51.100.5"), status("198.51.100.6")] == [200, 200, 429]

        # and a proxy added to the list is believed again
        t = csrf(secadmin, "/admin/security")
        r = secadmin.post(
            "/admin/security/proxies", data={"csrf_token": t, "proxies": "10.1.1.1"}, follow_redirects=False
        )
        assert r.status_code == 303
        assert status("198.51.100.7") == 200

    with platform_of(secadmin).web_transaction() as s:
        assert [str(n) for n in accounts.trusted_proxies(s) or ()] == ["10.1.1.1/32"]
    changes = [a[2] for a in _actions(secadmin) if a[2].get("action") == "proxies.change"]
    assert [(c["before"], c["after"]) for c in changes] == [
        (["10.0.0.0/8"], ["192.0.2.0/24", "2001:db8::1/128"]),
        (["192.0.2.0/24", "2001:db8::1/128"], ["10.1.1.1/32"]),
    ]
