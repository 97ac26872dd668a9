"""Helpers of the accounts tests: read a form's CSRF token, sign up, log in (with TOTP), make admins."""

from __future__ import annotations

import re
from datetime import datetime

import pyotp
from starlette.testclient import TestClient

from public_node.web import accounts
from public_node.web.account_pages import solve_pow
from public_node.web.app import Platform

PASSWORD = "correct horse battery staple 7"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_NONCE = re.compile(r'name="nonce" value="([0-9a-f]+)"')


def platform_of(client: TestClient) -> Platform:
    return client.app.app.state.platform  # type: ignore[attr-defined,no-any-return]


def csrf(client: TestClient, path: str = "/login") -> str:
    r = client.get(path)
    m = _CSRF.search(r.text)
    assert m, f"no CSRF field on {path}"
    return m.group(1)


def sign_up(client: TestClient, username: str, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    platform_of(client)
    with platform_of(client).web_transaction() as s:
        accounts.set_setting(s, "signup_difficulty", 8)
    r = client.get("/register")
    token = _CSRF.search(r.text).group(1)  # type: ignore[union-attr]
    nonce = _NONCE.search(r.text).group(1)  # type: ignore[union-attr]
    data = {"csrf_token": token, "username": username, "password": password, "nonce": nonce, "pow": solve_pow(nonce, 8)}
    data.update(extra)
    return client.post("/register", data=data, follow_redirects=False)


def log_in(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(
        "/login", data={"csrf_token": csrf(client), "username": username, "password": password}, follow_redirects=False
    )


def make_admin(
    client: TestClient, username: str, role: str, *, secret: str | None = None, now: datetime | None = None
) -> int:
    """An administrator as ``public-node admin create`` makes one (optionally already enrolled in TOTP)."""
    p = platform_of(client)
    with p.web_transaction() as s:
        a = accounts.create_account(s, username, PASSWORD, role=role, now=now or p.clock())
        if secret:
            a.totp_secret = secret
            a.totp_last_step = 1
        return a.id


def totp_code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def admin_login(client: TestClient, username: str, secret: str, at: datetime):  # type: ignore[no-untyped-def]
    r = log_in(client, username)
    assert r.status_code == 303 and r.headers["location"] == "/login/totp", r.text
    return client.post(
        "/login/totp",
        data={"csrf_token": csrf(client, "/login/totp"), "code": totp_code(secret, at)},
        follow_redirects=False,
    )
