"""Who is asking: the session cookie resolved to an account (``current_account``), role checks
(``require_role``), CSRF on every form, and rendering a page with both (``page``).

The account/session API other parts of the platform build on (applications, issue 17):

- ``Depends(current_account)``: the logged-in :class:`~public_node.web.authmodels.Account` (401 otherwise);
- ``Depends(require_role(ROLE_USER))`` and the like: the account, 403 for any other role;
- ``Depends(csrf_checked)`` on every POST route; ``page(request, "x.html", ...)`` puts ``csrf`` and
  ``account`` in the template (forms include ``{{ csrf_field() }}``);
- ``audit(request, event, ...)``: an entry in the web audit log, in the caller's transaction;
- ``Depends(caller_known)`` on every router whose routes audit: the visitor and the address before any
  transaction, so that ``audit`` never opens a second connection inside one.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from public_node.web import accounts
from public_node.web.app import Platform, WebError, platform
from public_node.web.authmodels import Account, WebSession
from public_node.web.labels import N_
from transfer.log import EventCode

SESSION_COOKIE = "cg_session"
CSRF_COOKIE = "cg_csrf"
CSRF_FIELD = "csrf_token"


@dataclass
class Visitor:
    """The request's caller: an account with a live session, or nobody; and the CSRF token its forms carry."""

    account: Account | None
    session: WebSession | None
    csrf: str
    set_csrf_cookie: bool


def secure_cookies(request: Request) -> bool:
    """Cookies are ``Secure`` behind TLS (the request came over https, or ``[web] hsts`` says TLS is in front)."""
    return request.url.scheme == "https" or platform(request).web.hsts


@contextmanager
def web_transaction(request: Request) -> Iterator[Session]:
    """One transaction on the web database (accounts, sessions, audit log commit together)."""
    with platform(request).web_transaction() as s:
        yield s


def visitor(request: Request) -> Visitor:
    """The caller of ``request`` (computed once per request)."""
    found: Visitor | None = getattr(request.state, "visitor", None)
    if found is not None:
        return found
    p = platform(request)
    token = request.cookies.get(SESSION_COOKIE)
    result: Visitor | None = None
    if token:
        with p.web_transaction() as s:
            live = accounts.load_session(s, token, p.clock())
            if live is not None:
                row, account = live
                s.expunge(row)
                s.expunge(account)
                result = Visitor(account=account, session=row, csrf=row.csrf, set_csrf_cookie=False)
    if result is None:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        fresh = not (20 <= len(cookie) <= 64 and cookie.replace("-", "").replace("_", "").isalnum())
        result = Visitor(None, None, secrets.token_urlsafe(32) if fresh else cookie, fresh)
    request.state.visitor = result
    return result


def caller_known(request: Request) -> None:
    """A dependency of every router whose routes audit (listed after the rate limit): the visitor and the
    client's address worked out before the route opens a transaction. ``audit`` writes inside its
    caller's write transaction and must not go back to the web database for who the caller is: that is
    a second connection beside the first, whose write lock (the session's ``last_seen_at``) would wait
    on the first's on SQLite, and which takes a second pooled connection per busy worker on PostgreSQL."""
    visitor(request)
    platform(request).client(request)


def current_account(request: Request) -> Account:
    """The logged-in account (both factors done); 401 otherwise."""
    v = visitor(request)
    if v.account is None or v.session is None or v.session.stage != accounts.STAGE_FULL:
        raise WebError(401, "login-required", N_("Please log in first."))
    return v.account


def require_role(*roles: str) -> Callable[[Request], Account]:
    """A dependency: the logged-in account if its role is one of ``roles``; 403 for any other role."""

    def check(request: Request) -> Account:
        account = current_account(request)
        if account.must_change_password:  # an initial or reset password, printed on the host
            raise WebError(
                403, "password-change-required", N_("Change the password you were given first (My account).")
            )
        if account.role not in roles:
            p = platform(request)
            with p.web_transaction() as s:
                audit(
                    request, s, EventCode.ADMIN_ACTION, result="refused", reason="wrong-role",
                    subject={"action": "page", "path": request.url.path[:100], "role": account.role},
                )  # fmt: skip
            raise WebError(403, "forbidden", N_("Your role does not allow this page."))
        return account

    return check


def same_origin(request: Request) -> bool:
    """Whether a request's ``Origin`` (when it sends one) names this site's host. The host, not the
    scheme: behind the TLS proxy of docs/OPERATIONS.md the browser says https:// while the app is
    reached over http://, and a page of another site always differs in its host."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    host = request.headers.get("host") or request.url.netloc
    try:
        return urlsplit(origin).netloc.lower() == host.lower()
    except ValueError:
        return False


async def csrf_checked(request: Request) -> None:
    """Refuse a form posted without the CSRF token of its session (or, before login, of its cookie),
    or from another origin."""
    if not same_origin(request):
        _refuse_csrf(request, "cross-origin")
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    v = visitor(request)
    expected = v.csrf if not v.set_csrf_cookie else None
    if not isinstance(sent, str) or expected is None or not hmac.compare_digest(sent.encode(), expected.encode()):
        _refuse_csrf(request, "bad-csrf")


def _refuse_csrf(request: Request, reason: str) -> None:
    p = platform(request)
    with p.web_transaction() as s:
        audit(request, s, EventCode.ADMIN_ACTION, result="refused", reason=reason,
              subject={"action": "form", "path": request.url.path[:100]})  # fmt: skip
    raise WebError(
        403, reason, N_("This form has expired or did not come from this site: reload the page and try again.")
    )


def actor_of(request: Request) -> str:
    """Who an audit entry names: the account of the request's session as ``caller_known`` (or a login
    check) found it, never looked up here, inside the caller's transaction; otherwise the address. A
    route that never needs a session (the read API, whose caller is its token) is audited by address."""
    v: Visitor | None = getattr(request.state, "visitor", None)
    if v is not None and v.account is not None:
        return f"account:{v.account.id}"
    return f"address:{platform(request).client(request)}"


def audit(
    request: Request,
    s: Session,
    event: EventCode,
    *,
    result: str = "ok",
    reason: str = "",
    subject: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """One entry in the web audit log, in ``s``'s transaction, with the client's address."""
    p = platform(request)
    full = {"address": p.client(request), **(subject or {})}
    p.audit(s, event, actor=actor or actor_of(request), result=result, reason=reason, subject=full)


def page(request: Request, name: str, status: int = 200, *, private: bool = True, **context: Any) -> HTMLResponse:
    """A page with the caller's ``account`` and ``csrf`` token in its context (and the CSRF cookie set
    for a visitor who has none)."""
    p: Platform = platform(request)
    v = visitor(request)
    response = p.render(name, status=status, account=v.account, csrf=v.csrf, csrf_name=CSRF_FIELD, **context)
    if private or v.account is not None:
        response.headers["Cache-Control"] = "no-store"
    if v.set_csrf_cookie:
        set_cookie(request, response, CSRF_COOKIE, v.csrf)
    return response


def set_cookie(request: Request, response: HTMLResponse | RedirectResponse, name: str, value: str) -> None:
    response.set_cookie(
        name, value, httponly=True, samesite="lax", secure=secure_cookies(request), path="/"
    )  # session cookies (no Max-Age): the server decides when a session ends


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
