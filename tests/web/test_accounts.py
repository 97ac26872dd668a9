"""Accounts over HTTP, on SQLite and PostgreSQL: sign-up (challenge, password rules, names that carry
SQL or markup), login and server-side sessions (cookie flags, rotation, fixation, forged cookies,
idle and absolute expiry), CSRF on every form, the slow-down after failed logins (per account and
address, never for good), password change, one-time reset, and deletion."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from public_node.web import accounts
from public_node.web.authmodels import Account, WebAuditEntry, WebSession
from tests.web.auth_support import PASSWORD, csrf, log_in, platform_of, sign_up
from tests.web.conftest import Clock

pytestmark = pytest.mark.db


def _count(client: TestClient, model: type) -> int:
    with platform_of(client).web_transaction() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _events(client: TestClient) -> list[tuple[str, str, str]]:
    with platform_of(client).web_transaction() as s:
        return [(e.event, e.result, e.reason) for e in s.scalars(select(WebAuditEntry).order_by(WebAuditEntry.index))]


def test_sign_up_then_log_in_gives_a_server_side_session_with_safe_cookie_flags(client: TestClient) -> None:
    assert sign_up(client, "alice").headers["location"] == "/login?registered=1"
    r = log_in(client, "alice")
    assert r.status_code == 303 and r.headers["location"] == "/account"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("cg_session=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    with platform_of(client).web_transaction() as s:
        stored = s.scalars(select(WebSession.token_hash)).all()
        hashed = s.scalars(select(Account.password_hash)).one()
    assert stored == [accounts.digest(token)]  # the database holds only the token's hash
    assert hashed.startswith("$argon2id$")
    page = client.get("/account")
    assert page.status_code == 200 and 'id="me">alice<' in page.text
    assert ("login.success", "ok", "") in _events(client)


def test_cookies_are_secure_behind_tls(home, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    from public_node.web.app import create_app

    app = create_app(home.config.home, clock=clock)
    with TestClient(app, base_url="https://testserver") as c:
        sign_up(c, "alice")
        r = log_in(c, "alice")
        assert "Secure" in r.headers["set-cookie"]
    app.app.state.platform.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("bob", "short"),  # under 12 characters
        ("bob", "password1234"),  # on the shipped list of common passwords
        ("bob", "aaaaaaaaaaaaaaaa"),  # one character repeated
        ("bob", "bob-is-great-2026"),  # holds the account name
        ("bob'; DROP TABLE account;--", PASSWORD),  # SQL in the name
        ("<script>x</script>", PASSWORD),  # markup in the name
        ("Bob", PASSWORD),  # upper case: names are one spelling only
    ],
)
def test_sign_up_refuses_weak_passwords_and_hostile_names(client: TestClient, username: str, password: str) -> None:
    r = sign_up(client, username, password)
    assert r.status_code == 400
    assert "<script>x</script>" not in r.text
    assert _count(client, Account) == 0
    assert _events(client)[-1][:2] == ("admin.action", "refused")


def test_sign_up_needs_the_challenge_solved_and_once_only(client: TestClient) -> None:
    r = client.get("/register")
    token = csrf(client, "/register")
    nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', client.get("/register").text).group(1)  # type: ignore[union-attr]
    data = {"csrf_token": token, "username": "carol", "password": PASSWORD, "nonce": nonce, "pow": "0"}
    with platform_of(client).web_transaction() as s:
        difficulty = accounts.settings(s)["signup_difficulty"]
    from public_node.web.account_pages import pow_ok, solve_pow

    if pow_ok(nonce, "0", difficulty):  # pragma: no cover - one chance in 2**16
        pytest.skip("the zero solution happens to solve this nonce")
    assert client.post("/register", data=data).status_code == 400
    data["pow"] = solve_pow(nonce, difficulty)
    assert client.post("/register", data=data).status_code == 400  # the challenge was spent by the failure
    assert _count(client, Account) == 0
    assert r.status_code == 200


def test_sign_up_is_limited_per_address(client: TestClient) -> None:
    with platform_of(client).web_transaction() as s:
        accounts.set_setting(s, "signup_per_hour", 2)
    assert sign_up(client, "user_one").status_code == 303
    assert sign_up(client, "user_two").status_code == 303
    r = sign_up(client, "user_three")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert _count(client, Account) == 2


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(client: TestClient) -> None:
    sign_up(client, "alice")
    assert log_in(client, "alice").status_code == 303
    before = _count(client, Account)
    r = client.post("/account/delete", data={"current": PASSWORD})
    assert r.status_code == 403
    r = client.post("/account/delete", data={"current": PASSWORD, "csrf_token": "forged" * 8})
    assert r.status_code == 403
    r = client.post(
        "/account/delete",
        data={"current": PASSWORD, "csrf_token": csrf(client, "/account")},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert _count(client, Account) == before
    assert [e[2] for e in _events(client)[-3:]] == ["bad-csrf", "bad-csrf", "cross-origin"]
    # the login form too: no token, no login
    r = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 403


def test_session_fixation_forged_cookie_and_rotation(client: TestClient) -> None:
    sign_up(client, "alice")
    client.cookies.set("cg_session", "attacker-chosen-session-id-0123456789")
    assert client.get("/account").status_code == 401  # a forged cookie is nobody
    r = log_in(client, "alice")
    new = r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert new != "attacker-chosen-session-id-0123456789"
    assert _count(client, WebSession) == 1
    client = TestClient(client.app, client=("203.0.113.7", 50000))  # one cookie jar, as a browser has
    r = log_in(client, "alice")
    first = r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    r = log_in(client, "alice")
    second = r.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert second != first
    with platform_of(client).web_transaction() as s:  # the session logged in over was ended
        assert s.get(WebSession, accounts.digest(first)) is None
    fresh = TestClient(client.app, cookies={"cg_session": first})
    assert fresh.get("/account").status_code == 401


def test_sessions_expire_when_idle_and_at_the_absolute_limit(client: TestClient, clock: Clock) -> None:
    sign_up(client, "alice")
    log_in(client, "alice")
    start = clock.now
    clock.now = start + timedelta(minutes=29)
    assert client.get("/account").status_code == 200
    clock.now = start + timedelta(minutes=29 + 31)  # 31 idle minutes
    assert client.get("/account").status_code == 401
    log_in(client, "alice")
    t = clock.now
    for step in range(1, 26):  # busy every 29 minutes, for more than 12 hours
        clock.now = t + timedelta(minutes=29 * step)
        if clock.now - t < timedelta(hours=12):
            assert client.get("/account").status_code == 200
        else:
            assert client.get("/account").status_code == 401
            break
    else:  # pragma: no cover
        pytest.fail("the session outlived the absolute limit")


def test_failed_logins_slow_down_per_account_and_address_but_never_for_good(client: TestClient, clock: Clock) -> None:
    sign_up(client, "alice")
    for _ in range(3):  # the free failures
        assert log_in(client, "alice", "wrong password 123").status_code == 401
    assert log_in(client, "alice", "wrong password 123").status_code == 401  # 4th: a delay starts
    r = log_in(client, "alice")  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["retry-after"]) == 2
    assert ("login.failure", "throttled", "slow-down") in _events(client)
    clock.now += timedelta(seconds=2)
    assert log_in(client, "alice", "wrong password 123").status_code == 401  # 5th: 4 seconds
    r = log_in(client, "alice")
    assert r.status_code == 429 and int(r.headers["retry-after"]) == 4
    # another address is not slowed by this one's guessing
    other = TestClient(client.app, client=("198.51.100.9", 40000))
    assert log_in(other, "alice").status_code == 303
    # growing delays, capped: a hundred failures still leave the account reachable after the cap
    for _ in range(30):
        clock.now += timedelta(seconds=901)
        log_in(client, "alice", "wrong password 123")
    r = log_in(client, "alice")
    assert r.status_code == 429 and int(r.headers["retry-after"]) <= 900
    clock.now += timedelta(seconds=901)
    assert log_in(client, "alice").status_code == 303


def test_unknown_accounts_fail_like_wrong_passwords(client: TestClient) -> None:
    sign_up(client, "alice")
    a = log_in(client, "nobody_here")
    b = log_in(client, "alice", "wrong password 123")
    assert a.status_code == b.status_code == 401

    def scrub(text: str) -> str:
        return re.sub(r'value="[^"]*"', 'value=""', text)

    assert scrub(a.text) == scrub(b.text)  # the same page: nothing tells a missing account from a bad password
    assert [e[2] for e in _events(client)[-2:]] == ["unknown-account", "bad-password"]


def test_password_change_ends_every_session(client: TestClient) -> None:
    sign_up(client, "alice")
    log_in(client, "alice")
    other = TestClient(client.app, client=("198.51.100.9", 40000))
    log_in(other, "alice")
    token = csrf(client, "/account")
    r = client.post(
        "/account/password",
        data={"csrf_token": token, "current": PASSWORD, "new": "a new long passphrase 42"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert other.get("/account").status_code == 401
    assert log_in(client, "alice", "a new long passphrase 42").status_code == 303


def test_a_person_deletes_their_account(client: TestClient) -> None:
    sign_up(client, "alice", contact="alice@example.cn")
    log_in(client, "alice")
    r = client.post(
        "/account/delete", data={"csrf_token": csrf(client, "/account"), "current": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303
    assert _count(client, Account) == 0 and _count(client, WebSession) == 0
    with platform_of(client).web_transaction() as s:
        subjects = s.scalars(select(WebAuditEntry.subject)).all()
    assert not any("alice" in x for x in subjects)  # the log names accounts by number only


def test_contact_details_are_erased_after_the_retention_period(client: TestClient, clock: Clock) -> None:
    sign_up(client, "alice", contact="alice@example.cn")
    p = platform_of(client)
    with p.web_transaction() as s:
        assert accounts.purge(s, clock.now, contact_retention=timedelta(days=3 * 365)).contacts == 0
    with p.web_transaction() as s:
        assert (
            accounts.purge(
                s, clock.now + timedelta(days=3 * 365 + 1), contact_retention=timedelta(days=3 * 365)
            ).contacts
            == 1
        )
        assert s.scalars(select(Account.contact)).one() is None


def test_an_oversized_login_body_is_refused(client: TestClient) -> None:
    r = client.post("/login", data={"csrf_token": csrf(client), "username": "a", "password": "x" * 20000})
    assert r.status_code == 413
    assert _count(client, WebSession) == 0


def test_logout_ends_the_session_on_the_server(client: TestClient) -> None:
    sign_up(client, "alice")
    token = log_in(client, "alice").headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert (
        client.post("/logout", data={"csrf_token": csrf(client, "/account")}, follow_redirects=False).status_code == 303
    )
    assert TestClient(client.app, cookies={"cg_session": token}).get("/account").status_code == 401
    assert _count(client, WebSession) == 0


def test_an_audit_entry_reads_the_proxy_list_without_waiting_on_its_own_transaction(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit entry of a failed login records the client's address inside the login's write
    transaction. When the per-process proxy list was due for a refresh just then (every PROXIES_TTL
    seconds: under load, often), reading it opened a second BEGIN IMMEDIATE on SQLite and waited the
    whole busy timeout (30 s) on the first one's lock: a login that hung, then a 500."""
    from public_node.web import app as web_app

    sign_up(client, "carol")
    monkeypatch.setattr(web_app, "PROXIES_TTL", 0.0)  # every read of the list is a refresh
    assert log_in(client, "carol", "wrong password 123").status_code == 401
    assert log_in(client, "carol").status_code == 303


def test_a_form_through_the_tls_proxy_is_same_origin_and_another_site_is_not(client: TestClient) -> None:
    """Behind the TLS proxy of docs/OPERATIONS.md the browser's Origin says https:// while the app is
    reached over http://: the host decides, so every form worked in tests and failed in production."""
    sign_up(client, "dora")
    data = {"csrf_token": csrf(client), "username": "dora", "password": PASSWORD}
    r = client.post("/login", data=data, headers={"origin": "https://testserver"}, follow_redirects=False)
    assert r.status_code == 303
    data["csrf_token"] = csrf(client)
    r = client.post("/login", data=data, headers={"origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403
