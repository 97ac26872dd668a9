"""Pages of people's own accounts: sign-up (self-hosted proof-of-work challenge, per-address limit),
login with the slow-down per (account, address), the administrators' second factor (TOTP, enrolled
with a QR code, recovery codes), logout, password change, one-time reset, and account deletion."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from limits import parse
from markupsafe import Markup
from sqlalchemy import delete

from public_node.web import accounts
from public_node.web.accounts import AccountProblem
from public_node.web.app import WebError, platform
from public_node.web.authmodels import Account, SignupChallenge
from public_node.web.labels import N_
from public_node.web.pages import rate_limited
from public_node.web.security import (
    SESSION_COOKIE,
    audit,
    caller_known,
    csrf_checked,
    current_account,
    page,
    redirect,
    set_cookie,
    visitor,
)
from transfer.log import EventCode

router = APIRouter(include_in_schema=False, dependencies=[Depends(rate_limited), Depends(caller_known)])
Field = Annotated[str, Form(max_length=256)]
Optional = Annotated[str, Form(max_length=256)]
CHALLENGE_TTL = timedelta(minutes=10)


def _throttled(request: Request, wait: int) -> Response:
    response = page(request, "login.html", status=429, error=N_("Too many failed attempts: please wait before trying again."),
                    wait=wait)  # fmt: skip
    response.headers["Retry-After"] = str(wait)
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return page(request, "login.html")


@router.post("/login", dependencies=[Depends(csrf_checked)])
def login(request: Request, username: Field, password: Field) -> Response:
    """Check the password; a person is in, an administrator goes on to the second factor."""
    p = platform(request)
    now = p.clock()
    address = p.client(request)
    name = username.strip().lower()[:64]
    with p.web_transaction() as s:
        wait = accounts.throttle_wait(s, name, address, now)
        if wait:
            audit(request, s, EventCode.LOGIN_FAILURE, result="throttled", reason="slow-down", subject={"wait": wait})
    if wait:
        return _throttled(request, wait)
    with p.web_transaction() as s:
        account = accounts.find_account(s, name) if accounts.USERNAME.fullmatch(name) else None
        if account is None:
            accounts.burn_time(password)
            ok, reason = False, "unknown-account"
        elif not accounts.check_secret(account.password_hash, password):
            ok, reason = False, "bad-password"
        elif account.disabled:
            ok, reason = False, "disabled"
        else:
            ok, reason = True, ""
        if not ok:
            delay = accounts.throttle_failure(s, name, address, now)
            audit(request, s, EventCode.LOGIN_FAILURE, result="failure", reason=reason,
                  subject={"account": account.id if account else None, "delay": delay})  # fmt: skip
    if not ok:
        return page(request, "login.html", status=401, error=N_("Wrong account name or password."), username=name)
    assert account is not None
    with p.web_transaction() as s:
        accounts.end_session(s, request.cookies.get(SESSION_COOKIE))  # rotation: nothing carried over
        account = s.get(Account, account.id)
        assert account is not None
        admin = account.role in accounts.ADMIN_ROLES
        stage = accounts.STAGE_TOTP if admin else accounts.STAGE_FULL
        token = accounts.start_session(s, account, stage=stage, now=now, address=address)
        accounts.throttle_clear(s, name, address)
        if not admin:
            account.last_login_at = now
            audit(request, s, EventCode.LOGIN_SUCCESS, actor=f"account:{account.id}", subject={"factor": "password"})
    response = redirect("/login/totp" if admin else "/account")
    set_cookie(request, response, SESSION_COOKIE, token)
    return response


def _pending(request: Request) -> Account:
    v = visitor(request)
    if v.account is None or v.session is None or v.session.stage != accounts.STAGE_TOTP:
        raise WebError(401, "login-required", N_("Please log in first."))
    return v.account


def _qr(uri: str) -> Markup:
    svg = segno.make(uri, error="m").svg_inline(scale=5, title="TOTP")
    return Markup(svg)  # noqa: S704 - segno's own SVG of our own URI, no caller text in it unescaped


@router.get("/login/totp")
def totp_form(request: Request) -> Response:
    """The second factor: enrolment (QR code) the first time, the code afterwards."""
    account = _pending(request)
    p = platform(request)
    enrol = None
    if account.totp_last_step == 0:
        with p.web_transaction() as s:
            row = s.get(Account, account.id)
            assert row is not None
            if row.totp_secret is None:
                row.totp_secret = accounts.new_totp_secret()
            secret = row.totp_secret
        uri = accounts.totp_uri(secret, account.username)
        enrol = {"secret": secret, "qr": _qr(uri)}
    return page(request, "totp.html", enrol=enrol)


@router.post("/login/totp", dependencies=[Depends(csrf_checked)])
def totp(request: Request, code: Optional = "", recovery: Optional = "") -> Response:
    """Check the TOTP code (each time step counts once) or a recovery code; rotate to a full session."""
    pending = _pending(request)
    p = platform(request)
    now = p.clock()
    address = p.client(request)
    with p.web_transaction() as s:
        wait = accounts.throttle_wait(s, pending.username, address, now)
        if wait:
            audit(request, s, EventCode.LOGIN_FAILURE, result="throttled", reason="slow-down", subject={"wait": wait})
    if wait:
        return _throttled(request, wait)
    codes: list[str] = []
    with p.web_transaction() as s:
        account = s.get(Account, pending.id)
        assert account is not None and account.totp_secret is not None
        enrolling = account.totp_last_step == 0
        step = accounts.totp_step(account.totp_secret, code.strip(), now, account.totp_last_step) if code else None
        used_recovery = (
            step is None and not enrolling and bool(recovery) and accounts.use_recovery_code(s, account, recovery, now)
        )
        if step is None and not used_recovery:
            reused = bool(code) and accounts.totp_step(account.totp_secret, code.strip(), now, -1) is not None
            reason = "totp-reused" if reused else ("bad-recovery-code" if recovery and not code else "bad-totp")
            delay = accounts.throttle_failure(s, account.username, address, now)
            audit(request, s, EventCode.LOGIN_FAILURE, actor=f"account:{account.id}", result="failure", reason=reason,
                  subject={"account": account.id, "delay": delay})  # fmt: skip
            failed = True
        else:
            failed = False
            if step is not None:
                account.totp_last_step = step
            if enrolling:
                codes = accounts.new_recovery_codes(s, account)
            accounts.end_session(s, request.cookies.get(SESSION_COOKIE))
            token = accounts.start_session(s, account, stage=accounts.STAGE_FULL, now=now, address=address)
            accounts.throttle_clear(s, account.username, address)
            account.last_login_at = now
            audit(request, s, EventCode.LOGIN_SUCCESS, actor=f"account:{account.id}",
                  subject={"factor": "recovery-code" if used_recovery else "totp", "enrolled": enrolling})  # fmt: skip
    if failed:
        return page(
            request, "totp.html", status=401, error=N_("The code is not valid, or was already used."), enrol=None
        )
    request.state.visitor = None
    home = "/account" if pending.must_change_password else _home_of(pending.role)
    response = page(request, "recovery.html", codes=codes, home=home) if codes else redirect(home)
    set_cookie(request, response, SESSION_COOKIE, token)
    return response


def _home_of(role: str) -> str:
    return {"sysadmin": "/admin/users", "secadmin": "/admin/security", "auditor": "/audit"}.get(role, "/account")


@router.post("/logout", dependencies=[Depends(csrf_checked)])
def logout(request: Request) -> Response:
    p = platform(request)
    v = visitor(request)
    with p.web_transaction() as s:
        accounts.end_session(s, request.cookies.get(SESSION_COOKIE))
        if v.account is not None:
            audit(request, s, EventCode.ADMIN_ACTION, subject={"action": "logout"})
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- sign-up -------------------------------------------------------------------------------------


def pow_ok(nonce: str, solution: str, difficulty: int) -> bool:
    """Whether SHA-256(nonce ":" solution) starts with ``difficulty`` zero bits (static/pow.js finds one)."""
    if not (solution.isascii() and solution.isdigit() and len(solution) <= 12):
        return False
    value = int.from_bytes(hashlib.sha256(f"{nonce}:{solution}".encode()).digest(), "big")
    return value >> (256 - difficulty) == 0


def solve_pow(nonce: str, difficulty: int) -> str:
    """Find a solution (tests and scripted clients; the browser runs static/pow.js)."""
    n = 0
    while not pow_ok(nonce, str(n), difficulty):
        n += 1
    return str(n)


@router.get("/register")
def register_form(request: Request) -> Response:
    """The sign-up form with a fresh challenge."""
    p = platform(request)
    now = p.clock()
    with p.web_transaction() as s:
        s.execute(delete(SignupChallenge).where(SignupChallenge.expires_at < now))
        difficulty = accounts.settings(s)["signup_difficulty"]
        nonce = secrets.token_hex(16)
        s.add(SignupChallenge(nonce=nonce, difficulty=difficulty, expires_at=now + CHALLENGE_TTL))
    return page(request, "register.html", nonce=nonce, difficulty=difficulty)


@router.post("/register", dependencies=[Depends(csrf_checked)])
def register(
    request: Request, username: Field, password: Field, nonce: Annotated[str, Form(max_length=64)],
    pow: Annotated[str, Form(max_length=16)], contact: Optional = "",
) -> Response:  # fmt: skip
    """Create a person's account once the challenge is solved, within the address's hourly limit."""
    p = platform(request)
    now = p.clock()
    address = p.client(request)
    with p.web_transaction() as s:
        challenge = s.get(SignupChallenge, nonce)
        if challenge is not None:
            s.delete(challenge)  # usable once, solved or not
        limit = accounts.settings(s)["signup_per_hour"]
    if challenge is None or challenge.expires_at < now or not pow_ok(nonce, pow, challenge.difficulty):
        raise WebError(400, "bad-challenge", N_("The sign-up check failed: reload the page and try again."))
    verdict = p.limiter.hit(parse(f"{limit}/hour"), "signup", address)
    if not verdict.allowed:
        raise WebError(
            429, "rate-limited", N_("Too many requests: please wait a moment."), retry_after=verdict.retry_after
        )
    name = username.strip()
    try:
        with p.web_transaction() as s:
            account = accounts.create_account(
                s, name, password, role=accounts.ROLE_USER, now=now, contact=contact.strip()[:255]
            )
            audit(request, s, EventCode.ADMIN_ACTION, actor=f"account:{account.id}", subject={"action": "account.register", "account": account.id})  # fmt: skip
    except AccountProblem as exc:
        with p.web_transaction() as s:
            audit(
                request,
                s,
                EventCode.ADMIN_ACTION,
                result="refused",
                reason=exc.code,
                subject={"action": "account.register"},
            )
        return register_form_with(request, exc.message)
    return redirect("/login?registered=1")


def register_form_with(request: Request, error: str) -> Response:
    """The sign-up form again, with ``error`` and a new challenge (the old one is spent)."""
    p = platform(request)
    now = p.clock()
    with p.web_transaction() as s:
        difficulty = accounts.settings(s)["signup_difficulty"]
        nonce = secrets.token_hex(16)
        s.add(SignupChallenge(nonce=nonce, difficulty=difficulty, expires_at=now + CHALLENGE_TTL))
    return page(request, "register.html", status=400, error=error, nonce=nonce, difficulty=difficulty)


# -- one's own account ---------------------------------------------------------------------------


@router.get("/account")
def account_page(request: Request, account: Annotated[Account, Depends(current_account)]) -> Response:
    return page(request, "account.html", me=account)


@router.post("/account/password", dependencies=[Depends(csrf_checked)])
def change_password(
    request: Request, account: Annotated[Account, Depends(current_account)], current: Field, new: Field
) -> Response:
    p = platform(request)
    if not accounts.check_secret(account.password_hash, current):
        return page(request, "account.html", status=400, me=account, error=N_("The current password is wrong."))
    try:
        with p.web_transaction() as s:
            row = s.get(Account, account.id)
            assert row is not None
            accounts.set_password(s, row, new)  # ends every session of the account
            audit(request, s, EventCode.ADMIN_ACTION, subject={"action": "account.password", "account": account.id})
    except AccountProblem as exc:
        return page(request, "account.html", status=400, me=account, error=exc.message)
    response = redirect("/login?changed=1")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/account/delete", dependencies=[Depends(csrf_checked)])
def delete_own(request: Request, account: Annotated[Account, Depends(current_account)], current: Field) -> Response:
    """A person deletes their account and its data (PIPL Art. 47); administrators are removed on the host."""
    p = platform(request)
    if account.role != accounts.ROLE_USER:
        raise WebError(403, "forbidden", N_("Your role does not allow this page."))
    if not accounts.check_secret(account.password_hash, current):
        return page(request, "account.html", status=400, me=account, error=N_("The current password is wrong."))
    with p.web_transaction() as s:
        row = s.get(Account, account.id)
        assert row is not None
        accounts.delete_account(s, row)
        audit(request, s, EventCode.ADMIN_ACTION, subject={"action": "account.delete", "account": account.id})
    response = redirect("/?deleted=1")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/reset")
def reset_form(request: Request) -> Response:
    return page(request, "reset.html")


@router.post("/reset", dependencies=[Depends(csrf_checked)])
def reset(request: Request, token: Annotated[str, Form(max_length=128)], new: Field) -> Response:
    """Set a new password with the one-time token the system administrator gave."""
    p = platform(request)
    now = p.clock()
    try:
        with p.web_transaction() as s:
            account = accounts.use_reset(s, token.strip(), new, now)
            audit(request, s, EventCode.ADMIN_ACTION, actor=f"account:{account.id}",
                  subject={"action": "account.reset-used", "account": account.id})  # fmt: skip
    except AccountProblem as exc:
        with p.web_transaction() as s:
            audit(
                request,
                s,
                EventCode.ADMIN_ACTION,
                result="refused",
                reason=exc.code,
                subject={"action": "account.reset-used"},
            )
        return page(request, "reset.html", status=400, error=exc.message)
    return redirect("/login?reset=1")
