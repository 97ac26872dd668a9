"""Administrators over HTTP, on SQLite and PostgreSQL: TOTP enrolment with a QR code and recovery
codes, a code used twice refused, the three separated roles (三员分立) each refused the others'
pages, administrators out of the web system administrator's reach, API tokens (hashed, scoped,
revocable, logged), the admin-issued one-time reset, and the web audit log that verifies."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from public_node.web import accounts
from public_node.web import audit as weblog
from public_node.web.authmodels import Account, ApiToken, WebAuditEntry
from tests.web.auth_support import PASSWORD, admin_login, csrf, log_in, make_admin, platform_of, sign_up, totp_code
from tests.web.conftest import Clock
from transfer.errors import LogVerificationError

pytestmark = pytest.mark.db
SECRET = pyotp.random_base32()


def _events(client: TestClient) -> list[tuple[str, str, str]]:
    with platform_of(client).web_transaction() as s:
        return [(e.event, e.result, e.reason) for e in s.scalars(select(WebAuditEntry).order_by(WebAuditEntry.index))]


def _as(client: TestClient, role: str, clock: Clock, name: str | None = None) -> TestClient:
    c = TestClient(client.app, client=("203.0.113.20", 50001))
    make_admin(c, name or role + "_one", role, secret=SECRET)
    r = admin_login(c, name or role + "_one", SECRET, clock.now)
    assert r.status_code == 303, r.text
    return c


def test_an_administrator_enrols_totp_with_a_qr_code_and_gets_recovery_codes(client: TestClient, clock: Clock) -> None:
    make_admin(client, "sys_admin", accounts.ROLE_SYSADMIN)
    r = log_in(client, "sys_admin")
    assert r.headers["location"] == "/login/totp"
    assert client.get("/admin/users").status_code == 401  # the password alone is not a login
    page = client.get("/login/totp")
    assert "<svg" in page.text and 'id="totp-secret"' in page.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)  # type: ignore[union-attr]
    token = csrf(client, "/login/totp")
    r = client.post("/login/totp", data={"csrf_token": token, "code": "000000"}, follow_redirects=False)
    assert r.status_code == 401
    r = client.post(
        "/login/totp", data={"csrf_token": token, "code": totp_code(secret, clock.now)}, follow_redirects=False
    )
    assert r.status_code == 200 and r.text.count("<li><code>") == accounts.RECOVERY_CODES
    codes = re.findall(r"<li><code>([0-9a-f-]+)</code>", r.text)
    assert client.get("/admin/users").status_code == 200
    with platform_of(client).web_transaction() as s:
        stored = [c.code_hash for c in s.scalars(select(accounts.RecoveryCode))]
    assert all(h.startswith("$argon2id$") for h in stored) and not set(codes) & set(stored)
    # a recovery code logs in once, instead of the authenticator
    other = TestClient(client.app, client=("203.0.113.8", 50000))
    log_in(other, "sys_admin")
    t = csrf(other, "/login/totp")
    assert (
        other.post("/login/totp", data={"csrf_token": t, "recovery": codes[0]}, follow_redirects=False).status_code
        == 303
    )
    third = TestClient(client.app, client=("203.0.113.8", 50000))
    log_in(third, "sys_admin")
    t = csrf(third, "/login/totp")
    assert (
        third.post("/login/totp", data={"csrf_token": t, "recovery": codes[0]}, follow_redirects=False).status_code
        == 401
    )


def test_a_totp_code_used_twice_is_refused(client: TestClient, clock: Clock) -> None:
    make_admin(client, "auditor_one", accounts.ROLE_AUDITOR, secret=SECRET)
    assert admin_login(client, "auditor_one", SECRET, clock.now).status_code == 303
    replay = TestClient(client.app, client=("203.0.113.9", 50000))
    log_in(replay, "auditor_one")
    r = replay.post(
        "/login/totp", data={"csrf_token": csrf(replay, "/login/totp"), "code": totp_code(SECRET, clock.now)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 401
    assert replay.get("/audit").status_code == 401
    assert ("login.failure", "failure", "totp-reused") in _events(client)
    clock.now += timedelta(seconds=30)  # the next step's code is good
    r = replay.post(
        "/login/totp", data={"csrf_token": csrf(replay, "/login/totp"), "code": totp_code(SECRET, clock.now)},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303


PAGES = {
    accounts.ROLE_SYSADMIN: ["/admin/users", "/admin/tokens"],
    accounts.ROLE_SECADMIN: ["/admin/security"],
    accounts.ROLE_AUDITOR: ["/audit", "/audit/alarms", "/audit/web", "/audit/packages", "/audit/overdue"],
}


@pytest.mark.parametrize("role", [*accounts.ADMIN_ROLES, accounts.ROLE_USER])
def test_each_role_is_refused_the_other_roles_pages(client: TestClient, clock: Clock, role: str) -> None:
    if role == accounts.ROLE_USER:
        sign_up(client, "person")
        log_in(client, "person")
        c = client
    else:
        c = _as(client, role, clock)
    for owner, paths in PAGES.items():
        for path in paths:
            assert c.get(path).status_code == (200 if owner == role else 403), (role, path)
    anonymous = TestClient(client.app)
    assert all(anonymous.get(p).status_code == 401 for ps in PAGES.values() for p in ps)
    assert ("admin.action", "refused", "wrong-role") in _events(client) or role == "none"


def test_no_one_grants_themselves_a_role_and_the_sysadmin_cannot_touch_administrators(
    client: TestClient, clock: Clock
) -> None:
    sysadmin = _as(client, accounts.ROLE_SYSADMIN, clock, "sys_admin_one")
    auditor_id = make_admin(client, "the_auditor", accounts.ROLE_AUDITOR)
    t = csrf(sysadmin, "/admin/users")
    assert sysadmin.post(f"/admin/users/{auditor_id}/reset", data={"csrf_token": t}).status_code == 403
    assert sysadmin.post(f"/admin/users/{auditor_id}/disable", data={"csrf_token": t}).status_code == 403
    r = sysadmin.post("/admin/security", data={"csrf_token": t, "login_delay_cap": "0"})
    assert r.status_code == 403
    with platform_of(client).web_transaction() as s:
        assert not s.get(Account, auditor_id).disabled  # type: ignore[union-attr]
        assert accounts.settings(s)["login_delay_cap"] == accounts.SETTINGS["login_delay_cap"]
    me = accounts_id(client, "sys_admin_one")
    for path in (f"/admin/users/{me}/role", f"/admin/users/{auditor_id}/role"):  # no page grants roles at all
        assert sysadmin.post(path, data={"csrf_token": t, "role": "auditor"}).status_code in (404, 405)
    with platform_of(client).web_transaction() as s:
        assert s.get(Account, me).role == accounts.ROLE_SYSADMIN  # type: ignore[union-attr]


def accounts_id(client: TestClient, name: str) -> int:
    with platform_of(client).web_transaction() as s:
        return accounts.find_account(s, name).id  # type: ignore[union-attr]


def test_the_security_administrator_changes_settings_and_it_is_logged(client: TestClient, clock: Clock) -> None:
    secadmin = _as(client, accounts.ROLE_SECADMIN, clock)
    t = csrf(secadmin, "/admin/security")
    r = secadmin.post("/admin/security", data={"csrf_token": t, "login_free_failures": "5"}, follow_redirects=False)
    assert r.status_code == 303
    with platform_of(client).web_transaction() as s:
        assert accounts.settings(s)["login_free_failures"] == 5
        last = s.scalars(select(WebAuditEntry).order_by(WebAuditEntry.index.desc())).first()
    assert last is not None and '"settings.change"' in last.subject


def test_api_tokens_are_hashed_scoped_revocable_and_logged(client: TestClient, clock: Clock) -> None:
    sysadmin = _as(client, accounts.ROLE_SYSADMIN, clock)
    t = csrf(sysadmin, "/admin/tokens")
    r = sysadmin.post(
        "/admin/tokens", data={"csrf_token": t, "institution": "昆明某银行", "scope": ["search", "freshness"]}
    )
    assert r.status_code == 200
    secret = re.search(r'id="shown-once">(cgt_[A-Za-z0-9_-]+)<', r.text).group(1)  # type: ignore[union-attr]
    with platform_of(client).web_transaction() as s:
        row = s.scalars(select(ApiToken)).one()
    assert row.token_hash == accounts.digest(secret) and secret not in row.token_hash
    api = TestClient(client.app, client=("192.0.2.50", 1))
    auth = {"Authorization": f"Bearer {secret}"}
    assert api.get("/api/v1/search", params={"q": "华兴"}, headers=auth).status_code == 200
    r = api.get("/api/v1/lists/red", headers=auth)
    assert r.status_code == 403 and r.json()["error"]["code"] == "token-scope"
    forged = {"Authorization": "Bearer cgt_" + "A" * 43}
    r = api.get("/api/v1/search", params={"q": "华兴"}, headers=forged)
    assert r.status_code == 401 and r.json()["error"]["code"] == "bad-token"
    assert (
        sysadmin.post(f"/admin/tokens/{row.id}/revoke", data={"csrf_token": t}, follow_redirects=False).status_code
        == 303
    )
    r = api.get("/api/v1/search", params={"q": "华兴"}, headers=auth)
    assert r.status_code == 401 and r.json()["error"]["code"] == "revoked-token"
    reasons = [e[2] for e in _events(client) if e[0] == "login.failure"]
    assert reasons == ["token-scope", "bad-token", "revoked-token"]
    actions = [e for e in _events(client) if e[0] == "admin.action" and e[1] == "ok"]
    assert len(actions) >= 2


def test_a_token_has_its_own_rate_limit(client: TestClient, clock: Clock) -> None:
    p = platform_of(client)
    with p.web_transaction() as s:
        _row, secret = accounts.issue_token(s, "银行", ["freshness"], clock.now)
        accounts.set_setting(s, "token_per_minute", 3)
    auth = {"Authorization": f"Bearer {secret}"}
    codes = [client.get("/api/v1/freshness", headers=auth).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_the_system_administrator_issues_a_one_time_reset_token(client: TestClient, clock: Clock) -> None:
    sign_up(client, "alice")
    sysadmin = _as(client, accounts.ROLE_SYSADMIN, clock)
    with platform_of(client).web_transaction() as s:
        alice = accounts.find_account(s, "alice").id  # type: ignore[union-attr]
    r = sysadmin.post(f"/admin/users/{alice}/reset", data={"csrf_token": csrf(sysadmin, "/admin/users")})
    token = re.search(r'id="shown-once">([A-Za-z0-9_-]+)<', r.text).group(1)  # type: ignore[union-attr]
    person = TestClient(client.app, client=("198.51.100.3", 1))
    data = {"csrf_token": csrf(person, "/reset"), "token": token, "new": "my brand new passphrase"}
    assert person.post("/reset", data=data, follow_redirects=False).status_code == 303
    assert person.post("/reset", data=data, follow_redirects=False).status_code == 400  # once only
    assert log_in(person, "alice", "my brand new passphrase").status_code == 303
    assert log_in(person, "alice", PASSWORD).status_code == 401
    actions = [e for e in _events(client) if e[0] == "admin.action"]
    assert ("admin.action", "ok", "") in actions


def test_the_web_audit_log_verifies_and_an_edit_is_found(client: TestClient, clock: Clock) -> None:
    sign_up(client, "alice")
    log_in(client, "alice", "wrong password 123")
    log_in(client, "alice")
    p = platform_of(client)
    result = weblog.verify(p.web_engine, p.config.home, p.config.name)
    assert result.size == len(_events(client)) >= 3 and result.covered == result.size
    node_keys = {f.stem for f in (p.config.keys_dir).glob("*")} if p.config.keys_dir.exists() else set()
    assert not set(weblog.public_keys(p.config.home)) & node_keys  # its own key, never the node's
    with p.web_transaction() as s:
        s.execute(update(WebAuditEntry).where(WebAuditEntry.index == 1).values(result="ok", reason=""))
    with pytest.raises(LogVerificationError) as err:
        weblog.verify(p.web_engine, p.config.home, p.config.name)
    assert err.value.index == 1


def test_the_auditor_console_shows_the_web_audit_log_verified(client: TestClient, clock: Clock) -> None:
    auditor = _as(client, accounts.ROLE_AUDITOR, clock)
    page = auditor.get("/audit/web")
    assert page.status_code == 200 and 'class="verdict ok"' in page.text
    assert "login.success" in page.text
    assert auditor.get("/audit", params={"event": "package.applied"}).status_code == 200
    assert auditor.get("/audit", params={"since": "not a date"}).status_code == 400


def test_the_auditor_downloads_an_evidence_bundle_the_standalone_verifier_accepts(
    client: TestClient,
    clock: Clock,
    home,
    tmp_path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    import io
    import subprocess
    import sys
    import zipfile

    import keys.identity_store
    import keys.keyfile
    from keys.keyfile import TEST_PROFILE
    from nodekit.events import record_event
    from nodekit.identity_ops import init_identity
    from transfer.log import EventCode

    init_identity(home, name="pub", passphrase=None, now=clock.now, profile=TEST_PROFILE)
    with home.transaction() as s:
        for seq in (1, 2):
            record_event(s, EventCode.PACKAGE_RECEIVED, at=clock.now, actor="service:watch",
                         subject={"channel": "int->pub", "seq": seq})  # fmt: skip
            record_event(s, EventCode.PACKAGE_APPLIED, at=clock.now, actor=f"package:{seq}", result="applied",
                         subject={"channel": "int->pub", "seq": seq}, counts={"records": 7})  # fmt: skip

    def no_key_file(*_a: object, **_k: object) -> None:
        raise AssertionError("the web process opened a key file")

    monkeypatch.setattr(keys.keyfile, "open_key_file", no_key_file)
    monkeypatch.setattr(keys.identity_store, "open_key_file", no_key_file, raising=False)
    auditor = _as(client, accounts.ROLE_AUDITOR, clock)
    page = auditor.get("/audit/packages")
    assert page.status_code == 200 and '<svg class="chart"' in page.text and "<script" not in page.text
    assert page.text.count("<td>int-&gt;pub</td>") == 2 and "<td>14</td>" in page.text  # two packages, 14 records
    r = auditor.get("/audit/evidence")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        zf.extractall(tmp_path)
    out = subprocess.run([sys.executable, str(tmp_path / "evidence" / "verify_log.py"), str(tmp_path / "evidence")],
                         capture_output=True, text=True)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert _events(client)[-1] == ("admin.action", "ok", "")


def test_an_administrator_changes_the_printed_password_before_any_console_page(
    client: TestClient, clock: Clock
) -> None:
    c = _as(client, accounts.ROLE_AUDITOR, clock)
    with platform_of(client).web_transaction() as s:
        s.execute(update(Account).values(must_change_password=True))  # as `public-node admin create` leaves it
    r = c.get("/audit")
    assert r.status_code == 403
    data = {"csrf_token": csrf(c, "/account"), "current": PASSWORD, "new": "a fresh auditor passphrase"}
    assert c.post("/account/password", data=data, follow_redirects=False).status_code == 303
    clock.now += timedelta(seconds=30)
    log_in(c, "auditor_one", "a fresh auditor passphrase")
    r = c.post("/login/totp", data={"csrf_token": csrf(c, "/login/totp"), "code": totp_code(SECRET, clock.now)},
               follow_redirects=False)  # fmt: skip
    assert r.headers["location"] == "/audit" and c.get("/audit").status_code == 200
