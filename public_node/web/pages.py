"""The platform's pages (zh-CN, no login): home, search, subject, credit report and its verification,
the red and serious-dishonesty lists, government credit per department, and published documents."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from public_node.documents import documents_of_subject, documents_page, get_document
from public_node.queries import (
    find_subject_key,
    freshness,
    gov_departments,
    gov_records,
    list_keyset,
    subject_page,
    subject_summary,
)
from public_node.search import MAX_QUERY_CHARS, normalise
from public_node.views import LIST_TYPES
from public_node.web import security
from public_node.web.app import WebError, platform
from public_node.web.reports import issue_report, verify_report

PAGE = 20
GOV_ON_SUBJECT_PAGE = 20  # a department's newest government-credit records; the rest on /gov/<key>
MAX_Q = 256  # characters of a search box; the search itself takes MAX_QUERY_CHARS letters or digits
_KEY = re.compile(r"[0-9a-f]{32}")


async def rate_limited(request: Request) -> None:
    """Every page counts against the client's address limit."""
    await platform(request).count(request)


router = APIRouter(dependencies=[Depends(rate_limited)], include_in_schema=False)


def _anonymous(request: Request) -> bool:
    """No session cookie: the page reads only (a logged-in page touches its session, a write)."""
    return security.SESSION_COOKIE not in request.cookies


Cursor = Annotated[str | None, Query(max_length=1024)]


def check_query(q: str) -> str:
    """A search text the platform accepts (not too long; the guard already refused control characters
    and invalid UTF-8)."""
    if len(q) > MAX_Q or len(normalise(q)) > MAX_QUERY_CHARS:
        raise WebError(400, "query-too-long", "The search text is too long.")
    return q


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    """Search box, record counts and the data's freshness."""
    p = platform(request)
    with p.reads() as s:
        fresh = freshness(s)
        counts = p.counts(s, fresh.package_seq)
    return p.render("home.html", fresh=fresh, counts=counts)


@router.get("/search", response_class=HTMLResponse)
async def search(request: Request, q: Annotated[str, Query(max_length=MAX_Q)] = "", cursor: Cursor = None) -> Response:
    """Subjects by name or credit code (ranked, highlighted), and records by decision number."""
    return await platform(request).call_search(_page_search, request, q, cursor, inline=_anonymous(request))


def _page_search(request: Request, q: str, cursor: str | None, *, cached_only: bool = False) -> Response | None:
    p = platform(request)
    q = check_query(q)
    scope = "search:" + normalise(q)
    after = p.open_cursor(scope, cursor)
    today = p.today()
    with p.reads() as s:
        found = p.search(s, q, today=today, limit=PAGE, after=after, cached_only=cached_only)
    if found is None:
        return None
    page, by_doc = found
    return p.render("search.html", q=q, page=page, by_doc=by_doc, next_cursor=p.next_cursor(scope, page.after))


@router.get("/subjects/{ident}", response_class=HTMLResponse)
async def subject(request: Request, ident: str) -> Response:
    """A subject with everything published about it, exactly as published."""
    return await platform(request).call(_page_subject, request, ident, inline=_anonymous(request))


def _page_subject(request: Request, ident: str) -> Response:
    p = platform(request)
    today = p.today()
    with p.reads() as s:
        key = find_subject_key(s, ident[:64], today=today)
        page = subject_page(s, key, today=today, gov_limit=GOV_ON_SUBJECT_PAGE) if key else None
        docs = documents_of_subject(s, key, today=today) if key else []
        fresh = freshness(s)
    if page is None:
        raise WebError(404, "not-found", "Nothing is published about this subject.")
    from public_node.web.application_pages import record_marks  # (it imports this module's rate limit)

    keys = [r.key for records in page.records.values() for r in records]
    marks = record_marks(request, keys)
    return security.page(request, "subject.html", private=marks != {}, page=page, docs=docs, fresh=fresh,
                         marks=marks)  # fmt: skip


@router.post("/subjects/{ident}/report", response_class=HTMLResponse, dependencies=[Depends(security.csrf_checked)])
def report(request: Request, ident: str) -> Response:
    """Issue a printable credit report with a verification code."""
    p = platform(request)
    p.limit(request, "report")
    today = p.today()
    with p.read() as s:
        key = find_subject_key(s, ident[:64], today=today)
        issued = issue_report(s, p.web_engine, key, today=today, now=p.clock()) if key else None
    if issued is None:
        raise WebError(404, "not-found", "Nothing is published about this subject.")
    return p.render("report.html", r=issued, page=issued.page)


@router.get("/reports/verify", response_class=HTMLResponse)
def verify(request: Request, code: Annotated[str, Query(max_length=64)] = "") -> Response:
    """Check a report's verification code."""
    p = platform(request)
    result = None
    if code:
        p.limit(request, "report")
        with p.read() as s:
            result = verify_report(s, p.web_engine, code, today=p.today())
    return security.page(request, "verify.html", private=False, code=code, result=result)


@router.post("/reports/verify", response_class=HTMLResponse, dependencies=[Depends(security.csrf_checked)])
def verify_form(request: Request, code: Annotated[str, Form(max_length=64)]) -> Response:
    """The verification form, posted (the code stays out of addresses and logs)."""
    p = platform(request)
    p.limit(request, "report")
    with p.read() as s:
        result = verify_report(s, p.web_engine, code, today=p.today())
    return security.page(request, "verify.html", code=code, result=result)


@router.get("/lists/{list_type}", response_class=HTMLResponse)
def list_page(request: Request, list_type: str, cursor: Cursor = None) -> Response:
    """The red list (守信激励) or the serious-dishonesty list (严重失信主体名单), newest first."""
    if list_type not in LIST_TYPES:
        raise WebError(404, "not-found", "Nothing is published at this address.")
    p = platform(request)
    scope = "list:" + list_type
    after = p.open_cursor(scope, cursor)
    with p.reads() as s:
        page = list_keyset(s, list_type, today=p.today(), limit=PAGE, after=after)
    return p.render("list.html", list_type=list_type, page=page, next_cursor=p.next_cursor(scope, page.after))


@router.get("/gov", response_class=HTMLResponse)
def gov_index(request: Request, cursor: Cursor = None) -> Response:
    """Departments with government-credit records (政务诚信)."""
    p = platform(request)
    after = p.open_cursor("gov", cursor)
    with p.reads() as s:
        page = gov_departments(s, today=p.today(), limit=50, after=after)
    return p.render("gov_index.html", page=page, next_cursor=p.next_cursor("gov", page.after))


@router.get("/gov/{subject_key}", response_class=HTMLResponse)
def gov_department(request: Request, subject_key: str, cursor: Cursor = None) -> Response:
    """One department's government-credit records: commitments, time limits, defaults."""
    if not _KEY.fullmatch(subject_key):
        raise WebError(404, "not-found", "Nothing is published at this address.")
    p = platform(request)
    scope = "gov:" + subject_key
    after = p.open_cursor(scope, cursor)
    today = p.today()
    with p.reads() as s:
        page = gov_records(s, subject_key, today=today, limit=PAGE, after=after)
        dept = subject_summary(s, subject_key, today=today)
    if dept is None or (not page.items and after is None):
        raise WebError(404, "not-found", "Nothing is published at this address.")
    return p.render("gov_department.html", dept=dept, page=page, next_cursor=p.next_cursor(scope, page.after))


@router.get("/documents", response_class=HTMLResponse)
def documents(request: Request, cursor: Cursor = None) -> Response:
    """Published notices and documents."""
    p = platform(request)
    after = p.open_cursor("docs", cursor)
    with p.reads() as s:
        page = documents_page(s, today=p.today(), limit=PAGE, after=after)
    return p.render("documents.html", page=page, next_cursor=p.next_cursor("docs", page.after))


@router.get("/documents/{key}")
def download(request: Request, key: str) -> Response:
    """A document's bytes, as an attachment of its declared (and checked) type, never inline."""
    return document_response(request, key)


def document_response(request: Request, key: str) -> Response:
    """The download response of a document (shared by the page and the API)."""
    if not _KEY.fullmatch(key):
        raise WebError(404, "not-found", "Nothing is published at this address.")
    p = platform(request)
    with p.reads() as s:
        found = get_document(s, key, today=p.today())
    if found is None:
        raise WebError(404, "not-found", "Nothing is published at this address.")
    info, data = found
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", info.name) or "document"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(info.name, safe='')}"
    headers = {
        "Content-Disposition": disposition,
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return Response(data, media_type=info.media_type, headers=headers)
