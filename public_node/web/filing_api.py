"""The platform's JSON API for a person's own filings (issue 17): a logged-in person binds the account
to a subject, files objections, repair applications and complaints, and reads each one's state and
decision, as on the pages. The session cookie authenticates; because a cookie travels on a cross-site
request too, every POST also carries the session's CSRF token in ``X-CSRF-Token`` (the value the pages
put in their forms) and is refused from another origin. Institution API tokens do not file."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Coroutine
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from public_node.web import application_pages as ap
from public_node.web.api import ErrorOut, rate_limited
from public_node.web.app import WebError, platform
from public_node.web.appmodels import WebApplication, WebBinding
from public_node.web.authmodels import Account
from public_node.web.security import caller_known, current_account, same_origin, visitor
from public_node.web.uploads import MAX_UPLOAD
from transfer.appitems import MAX_ATTACHMENTS, MAX_TEXT

CSRF_HEADER = "x-csrf-token"


def api_csrf_checked(request: Request) -> None:
    """Refuse a POST without the session's CSRF token in ``X-CSRF-Token``, or from another origin
    (after the login check: a visitor who is not logged in is told that first)."""
    current_account(request)
    sent = request.headers.get(CSRF_HEADER)
    v = visitor(request)
    expected = v.csrf if v.session is not None else None
    if not same_origin(request):
        raise WebError(403, "cross-origin", "This request did not come from this site.")
    if sent is None or expected is None or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise WebError(403, "bad-csrf", "Send the session's CSRF token in the X-CSRF-Token header.")


_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "a field is missing or malformed, or an attachment is refused"},
    401: {"model": ErrorOut, "description": "not logged in"},
    403: {"model": ErrorOut, "description": "no CSRF token, another origin, or the account is not bound"},
    404: {"model": ErrorOut, "description": "no such record or application"},
    429: {"model": ErrorOut, "description": "the daily filing limit or the rate limit is reached"},
}


class FilingRoute(APIRoute):
    """A route of the filing API whose checks of the caller run before its body is read: FastAPI reads
    and parses a route's body before it solves any dependency, so as dependencies the address's rate
    limit, the login and the CSRF header would come after a worker had read an anonymous client's body
    of several MiB (the attachments' bound). Each route runs ``rate_limited`` and ``caller_known``, and a
    POST ``api_csrf_checked`` (the login first), here, before the handler FastAPI made for it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        post = "POST" in (self.methods or ())

        async def checked_first(request: Request) -> Response:
            await rate_limited(request)
            await run_in_threadpool(_caller_checked, request, post)  # a session's touch writes: off the loop
            return await handler(request)

        return checked_first


def _caller_checked(request: Request, post: bool) -> None:
    caller_known(request)
    if post:
        api_csrf_checked(request)


router = APIRouter(prefix="/api/v1", tags=["filing"], responses=_ERRORS, route_class=FilingRoute)
Me = Annotated[Account, Depends(current_account)]


class BindingIn(BaseModel):
    category: str = Field(description="legal (a company: its credit code) or natural (a person: ID number)")
    identifier: str = Field(max_length=400)
    name: str = Field(max_length=400)
    contact: str = Field(max_length=400)
    legal_rep: str = Field("", max_length=400, description="the legal representative (legal only)")


class AttachmentIn(BaseModel):
    name: str = Field(max_length=255)
    data: str = Field(description="the file's bytes, base64 (PDF, JPEG or PNG; disarmed before keeping)")


class ApplicationIn(BaseModel):
    type: str = Field(description="objection, repair or complaint")
    category: str = Field(max_length=64)
    statement: str = Field(max_length=MAX_TEXT)
    table: str = Field("", max_length=16, description="the record's table (objection/repair; optional for complaints)")
    key: str = Field("", max_length=32, description="the record's key")
    target: str = Field("", max_length=400, description="a complaint's department or subject")
    contact: str = Field("", max_length=400)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class FiledOut(BaseModel):
    id: str
    merged: bool = Field(description="merged into the account's open filing on the same record")


class ApplicationOut(BaseModel):
    id: str
    type: str = Field(description="binding, objection, repair or complaint")
    filed_at: datetime
    sent: bool = Field(description="carried to the internal node by a return package")
    decision: str | None = Field(
        description="approved, refused, upheld, partially-upheld, rejected, not-accepted, answered"
    )
    reason: str | None
    decided: str | None = Field(description="when it was decided (UTC, as the internal node sent it)")
    received: datetime | None = Field(
        default=None, description="when the credit office received it (its acknowledgement), once acknowledged"
    )
    due: date | None = Field(default=None, description="the last day of its deadline (受理回执), once acknowledged")


def _refused(status: int, message: str) -> WebError:
    code = {400: "bad-request", 403: "not-bound", 404: "not-found", 429: "daily-limit"}.get(status, "refused")
    return WebError(status, code, message)


@router.post("/bindings", response_model=FiledOut)
def api_bind(request: Request, body: BindingIn, account: Me) -> FiledOut:
    """Ask to bind the account to a subject; the credit office decides it against the full data."""
    status, out = ap.file_binding(request, account, body.category, body.identifier, body.name, body.contact,
                                  body.legal_rep)  # fmt: skip
    if status != 200:
        raise _refused(status, out)
    return FiledOut(id=out, merged=False)


@router.post("/applications", response_model=FiledOut)
def api_apply(request: Request, body: ApplicationIn, account: Me) -> FiledOut:
    """File an objection or a repair application on the bound subject's record, or a complaint."""
    uploads: list[tuple[str, bytes]] = []
    for a in body.attachments:
        try:
            data = base64.b64decode(a.data, validate=True)
        except (binascii.Error, ValueError):
            raise WebError(400, "bad-request", "An attachment is not valid base64.") from None
        uploads.append((a.name, data[: MAX_UPLOAD + 1]))
    filed = ap.file_application(request, account, body.type, body.table, body.key, body.category, body.statement,
                                body.target, body.contact, uploads)  # fmt: skip
    if filed.status != 200:
        raise _refused(filed.status, filed.message)
    return FiledOut(id=filed.id, merged=filed.merged)


@router.get("/applications/{ident}", response_model=ApplicationOut)
def api_application(request: Request, ident: str, account: Me) -> ApplicationOut:
    """One of the account's own filings: whether it has crossed, and the decision once it is back."""
    if not ap._KEY.fullmatch(ident):
        raise WebError(404, "not-found", "No such application.")
    with platform(request).web_transaction() as s:
        b, a = s.get(WebBinding, ident), s.get(WebApplication, ident)
        row: WebBinding | WebApplication | None = b if b is not None and b.account_id == account.id else None
        row = row or (a if a is not None and a.account_id == account.id else None)
        if row is None:  # another account's filing is as unknown as a missing one
            raise WebError(404, "not-found", "No such application.")
        typ = "binding" if isinstance(row, WebBinding) else row.type
        filed_at, sent = row.filed_at, row.sent_seq is not None
    d = ap._decisions(request, [ident]).get(ident)
    k = ap._acknowledged(request, [ident]).get(ident)
    return ApplicationOut(id=ident, type=typ, filed_at=filed_at, sent=sent, decision=d.decision if d else None,
                          reason=d.reason if d else None, decided=d.decided if d else None,
                          received=k.received if k else None, due=k.due if k else None)  # fmt: skip
