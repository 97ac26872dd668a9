"""The administrators' pages, one role each (三员分立): the system administrator manages people's
accounts and API tokens, the security administrator the security settings, and the auditor reads the
web audit log, the transfer log and its alarms (read-only, paginated). Administrator accounts
themselves are managed only on the host (``public-node admin``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from nodekit.models import LogCheckpointRow, TransferLogRow
from public_node.web import accounts
from public_node.web import audit as weblog
from public_node.web.accounts import AccountProblem
from public_node.web.app import WebError, platform
from public_node.web.authmodels import Account, ApiToken, WebAuditCheckpoint, WebAuditEntry
from public_node.web.deadlines import overdue_count
from public_node.web.labels import N_
from public_node.web.pages import rate_limited
from public_node.web.security import audit, caller_known, csrf_checked, page, redirect, require_role
from transfer.errors import LogVerificationError
from transfer.log import EventCode

router = APIRouter(include_in_schema=False, dependencies=[Depends(rate_limited), Depends(caller_known)])
PAGE = 50
Sysadmin = Annotated[Account, Depends(require_role(accounts.ROLE_SYSADMIN))]
Secadmin = Annotated[Account, Depends(require_role(accounts.ROLE_SECADMIN))]
Auditor = Annotated[Account, Depends(require_role(accounts.ROLE_AUDITOR))]
ALARM_EVENTS = ("package.quarantined", "package.rejected", "package.pending-gap", "alarm.replay",
                "alarm.equivocation", "alarm.fork", "alarm.overdue", "alarm.junk", "alarm.clock")  # fmt: skip


# -- system administrator: people's accounts and API tokens ----------------------------------------


@router.get("/admin/users")
def users(request: Request, me: Sysadmin, after: Annotated[int, Query(ge=0)] = 0) -> Response:
    p = platform(request)
    with p.web_transaction() as s:
        rows = s.scalars(
            select(Account)
            .where(Account.role == accounts.ROLE_USER, Account.id > after)
            .order_by(Account.id)
            .limit(PAGE)
        ).all()
    return page(request, "admin_users.html", rows=rows, next_after=rows[-1].id if len(rows) == PAGE else None,
                )  # fmt: skip


def _person(s: Session, account_id: int) -> Account:
    row = s.get(Account, account_id)
    if row is None or row.role != accounts.ROLE_USER:  # administrators: on the host only
        raise WebError(403, "forbidden", N_("Administrators are managed only on the host (public-node admin)."))
    return row


@router.post("/admin/users/{account_id}/disable", dependencies=[Depends(csrf_checked)])
def disable(
    request: Request, me: Sysadmin, account_id: int, enable: Annotated[str, Form(max_length=8)] = ""
) -> Response:
    p = platform(request)
    with p.web_transaction() as s:
        row = _person(s, account_id)
        row.disabled = enable != "1"
        if row.disabled:
            accounts.end_sessions(s, row.id)
        audit(request, s, EventCode.ADMIN_ACTION,
              subject={"action": "account.disable" if row.disabled else "account.enable", "account": row.id})  # fmt: skip
    return redirect("/admin/users")


@router.post("/admin/users/{account_id}/reset", dependencies=[Depends(csrf_checked)])
def issue_reset(request: Request, me: Sysadmin, account_id: int) -> Response:
    """Issue a one-time reset token for a person (shown here once; no mail server)."""
    p = platform(request)
    with p.web_transaction() as s:
        row = _person(s, account_id)
        token = accounts.issue_reset(s, row, p.clock())
        audit(request, s, EventCode.ADMIN_ACTION, subject={"action": "account.reset-issued", "account": row.id})
    return page(request, "admin_shown_once.html", title=N_("Password reset token"), secret=token, back="/admin/users")


@router.get("/admin/tokens")
def tokens(request: Request, me: Sysadmin) -> Response:
    p = platform(request)
    with p.web_transaction() as s:
        rows = s.scalars(select(ApiToken).order_by(ApiToken.id.desc()).limit(200)).all()
        allowed = accounts.allowed_scopes(s)
    return page(request, "admin_tokens.html", rows=rows, scopes=allowed)


@router.post("/admin/tokens", dependencies=[Depends(csrf_checked)])
async def issue_token(request: Request, me: Sysadmin) -> Response:
    form = await request.form()
    institution = str(form.get("institution", ""))[:200]
    scopes = [str(x) for x in form.getlist("scope")][:20]
    p = platform(request)
    try:
        with p.web_transaction() as s:
            row, secret = accounts.issue_token(s, institution, scopes, p.clock())
            audit(request, s, EventCode.ADMIN_ACTION,
                  subject={"action": "token.issue", "token": row.id, "scopes": row.scopes})  # fmt: skip
    except AccountProblem as exc:
        if exc.code == "scope-not-allowed":
            with p.web_transaction() as s:
                audit(request, s, EventCode.ADMIN_ACTION, result="refused", reason="scope-not-allowed",
                      subject={"action": "token.issue", "scopes": " ".join(sorted(set(scopes)))[:200]})  # fmt: skip
            raise WebError(403, exc.code, exc.message) from None
        raise WebError(400, "bad-request", exc.message) from None
    return page(request, "admin_shown_once.html", title=N_("API token"), secret=secret, back="/admin/tokens")


@router.post("/admin/tokens/{token_id}/revoke", dependencies=[Depends(csrf_checked)])
def revoke(request: Request, me: Sysadmin, token_id: int) -> Response:
    p = platform(request)
    try:
        with p.web_transaction() as s:
            row = accounts.revoke_token(s, token_id, p.clock())
            audit(request, s, EventCode.ADMIN_ACTION, subject={"action": "token.revoke", "token": row.id})
    except AccountProblem as exc:
        raise WebError(404, exc.code, exc.message) from None
    return redirect("/admin/tokens")


# -- security administrator: the settings ----------------------------------------------------------


@router.get("/admin/security")
def security(request: Request, me: Secadmin) -> Response:
    p = platform(request)
    with p.web_transaction() as s:
        values = accounts.settings(s)
        allowed = accounts.allowed_scopes(s)
        saved = accounts.trusted_proxies(s)
    proxies = p.web.trusted_proxies if saved is None else saved
    return page(request, "admin_security.html", values=values, scopes=accounts.TOKEN_SCOPES, allowed=allowed,
                proxies=" ".join(str(n) for n in proxies), proxies_from_file=saved is None)  # fmt: skip


@router.post("/admin/security/scopes", dependencies=[Depends(csrf_checked)])
async def save_scopes(request: Request, me: Secadmin) -> Response:
    """Which scopes the system administrator may put on institution tokens (and tokens may use)."""
    form = await request.form()
    wanted = [str(x) for x in form.getlist("scope")][:20]
    p = platform(request)
    try:
        with p.web_transaction() as s:
            before = accounts.allowed_scopes(s)
            after = accounts.set_allowed_scopes(s, wanted)
            if after != before:
                audit(request, s, EventCode.ADMIN_ACTION,
                      subject={"action": "scopes.change", "before": list(before), "after": list(after)})  # fmt: skip
    except AccountProblem as exc:
        raise WebError(400, "bad-request", exc.message) from None
    return redirect("/admin/security")


@router.post("/admin/security/proxies", dependencies=[Depends(csrf_checked)])
async def save_proxies(request: Request, me: Secadmin) -> Response:
    """The trusted-proxy list: from now on the web database's, not node.toml's."""
    form = await request.form()
    p = platform(request)
    try:
        networks = accounts.parse_networks(str(form.get("proxies", ""))[:4000])
        with p.web_transaction() as s:
            saved = accounts.trusted_proxies(s)
            before = p.web.trusted_proxies if saved is None else saved
            if saved is None or networks != before:
                accounts.set_trusted_proxies(s, networks)
                audit(request, s, EventCode.ADMIN_ACTION, subject={
                    "action": "proxies.change", "before": [str(n) for n in before], "after": [str(n) for n in networks],
                })  # fmt: skip
    except AccountProblem as exc:
        raise WebError(400, "bad-request", exc.message) from None
    finally:
        p.forget_proxies()
    return redirect("/admin/security")


@router.post("/admin/security", dependencies=[Depends(csrf_checked)])
async def save_security(request: Request, me: Secadmin) -> Response:
    form = await request.form()
    p = platform(request)
    changed: dict[str, int] = {}
    with p.web_transaction() as s:
        current = accounts.settings(s)
        for key in accounts.SETTINGS:
            raw = str(form.get(key, current[key]))
            if not raw.isdigit() or not 0 <= int(raw) <= 10**7:
                raise WebError(400, "bad-request", N_("Each setting must be a whole number."))
            if int(raw) != current[key]:
                accounts.set_setting(s, key, int(raw))
                changed[key] = int(raw)
        if changed:
            audit(request, s, EventCode.ADMIN_ACTION, subject={"action": "settings.change", "settings": changed})
    return redirect("/admin/security")


# -- auditor: the console --------------------------------------------------------------------------


def _entry_view(row: Any) -> dict[str, Any]:
    return {
        "index": row.index, "at": row.at, "actor": row.actor, "event": row.event, "result": row.result,
        "reason": row.reason, "subject": _compact(row.subject),
    }  # fmt: skip


def _compact(text: str) -> str:
    try:
        return orjson.dumps(orjson.loads(text)).decode()[:300]
    except orjson.JSONDecodeError:
        return text[:300]


def _day(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        raise WebError(400, "bad-request", N_("The request is not valid.")) from None


def _filtered(stmt: Select[Any], model: Any, event: str, since: str, until: str, before: int | None) -> Select[Any]:
    if event:
        stmt = stmt.where(model.event == event)
    start, end = _day(since), _day(until)
    if start:
        stmt = stmt.where(model.at >= start)
    if end:
        stmt = stmt.where(model.at < end)
    if before is not None:
        stmt = stmt.where(model.index < before)
    return stmt.order_by(model.index.desc()).limit(PAGE)


Text = Annotated[str, Query(max_length=64)]


@router.get("/audit")
def console(
    request: Request, me: Auditor, event: Text = "", since: Text = "", until: Text = "", channel: Text = "",
    seq: Annotated[int | None, Query(ge=0)] = None, before: Annotated[int | None, Query(ge=0)] = None,
) -> Response:  # fmt: skip
    """The transfer log with filters (time, event, channel, sequence), its last checkpoint."""
    p = platform(request)
    with p.read() as s:
        stmt = _filtered(select(TransferLogRow), TransferLogRow, event, since, until, before)
        if channel:
            stmt = stmt.where(TransferLogRow.subject.contains(f'"channel":"{channel}"'))
        if seq is not None:
            stmt = stmt.where(TransferLogRow.subject.contains(f'"seq":{seq},'))
        rows = [_entry_view(r) for r in s.scalars(stmt)]
        size = s.scalar(select(func.count()).select_from(TransferLogRow)) or 0
        last = s.scalars(select(LogCheckpointRow).order_by(LogCheckpointRow.size.desc()).limit(1)).first()
    return page(request, "audit.html", view="transfer", rows=rows, size=size, last=last,
                filters={"event": event, "since": since, "until": until, "channel": channel, "seq": seq},
                next_before=rows[-1]["index"] if len(rows) == PAGE else None)  # fmt: skip


@router.get("/audit/alarms")
def alarms(request: Request, me: Auditor, before: Annotated[int | None, Query(ge=0)] = None) -> Response:
    """Quarantines, rejections, gaps, equivocations, overdue packages and the other alarms, and how many
    applications are past their due date."""
    p = platform(request)
    with p.read() as s:
        stmt = select(TransferLogRow).where(TransferLogRow.event.in_(ALARM_EVENTS))
        if before is not None:
            stmt = stmt.where(TransferLogRow.index < before)
        rows = [_entry_view(r) for r in s.scalars(stmt.order_by(TransferLogRow.index.desc()).limit(PAGE))]
        late = overdue_count(s, p.today())
    return page(request, "audit.html", view="alarms", rows=rows, size=None, last=None, filters={}, overdue=late,
                next_before=rows[-1]["index"] if len(rows) == PAGE else None)  # fmt: skip


@router.get("/audit/web")
def web_log(
    request: Request, me: Auditor, event: Text = "", since: Text = "", until: Text = "",
    before: Annotated[int | None, Query(ge=0)] = None,
) -> Response:  # fmt: skip
    """The web audit log and whether it verifies."""
    p = platform(request)
    with p.web_transaction() as s:
        rows = [
            _entry_view(r)
            for r in s.scalars(_filtered(select(WebAuditEntry), WebAuditEntry, event, since, until, before))
        ]
        last = s.scalars(select(WebAuditCheckpoint).order_by(WebAuditCheckpoint.size.desc()).limit(1)).first()
    try:
        verified = weblog.verify(p.web_read_engine, p.config.home, p.config.name)
        chain, problem = "ok", ""
        size = verified.size
    except LogVerificationError as exc:
        chain, problem, size = "broken", str(exc)[:300], None
    return page(request, "audit.html", view="web", rows=rows, size=size, last=last, chain=chain, problem=problem,
                filters={"event": event, "since": since, "until": until},
                next_before=rows[-1]["index"] if len(rows) == PAGE else None)  # fmt: skip
