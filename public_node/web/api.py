"""The JSON API for institutions, ``/api/v1/…``: the same queries as the pages, stable field names,
cursor pagination (``next_cursor``), anonymous use limited per client address. Its OpenAPI
description is served at ``/openapi.json`` and committed as ``docs/openapi.json``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from public_node.documents import documents_of_subject, documents_page
from public_node.queries import (
    find_subject_key,
    freshness,
    gov_departments,
    gov_records,
    list_keyset,
    subject_page,
)
from public_node.search import normalise
from public_node.views import DocumentInfo, RecordView, SubjectSummary
from public_node.web.app import WebError, platform
from public_node.web.pages import MAX_Q, check_query, document_response
from public_node.web.reports import verify_report


async def rate_limited(request: Request) -> None:
    """Every API call counts against the client's address limit (429 with Retry-After over it); a call
    with ``Authorization: Bearer <token>`` is then checked against the token (401 forged or revoked,
    403 out of scope) and counted against the token's own limit."""
    header = request.headers.get("authorization")
    if header is None:
        await platform(request).count(request)
    else:
        await run_in_threadpool(token_checked, request, header)


def token_checked(request: Request, header: str) -> None:
    """Check an institution's API token against the endpoint's scope (``accounts.TOKEN_SCOPES``)."""
    from limits import parse

    from public_node.web import accounts
    from public_node.web.security import audit
    from transfer.log import EventCode

    p = platform(request)
    scheme, _, secret = header.partition(" ")
    scope = request.url.path.removeprefix(router.prefix + "/").split("/", 1)[0]
    with p.web_read() as s:  # every token request: a read, never the write lock
        row = accounts.find_token(s, secret.strip()) if scheme.lower() == "bearer" else None
        per_minute = accounts.settings(s)["token_per_minute"]
        allowed = accounts.allowed_scopes(s)
    reason = (
        "bad-token" if row is None
        else "revoked-token" if row.revoked_at is not None
        else "token-scope" if scope not in row.scopes.split() or scope not in allowed  # withdrawn scopes too
        else ""
    )  # fmt: skip
    if reason:
        p.limit(request)  # refusals count against the address (429 first), so guessing tokens is bounded
        with p.web_transaction() as s:
            audit(request, s, EventCode.LOGIN_FAILURE, actor=f"token:{row.id}" if row else None, result="refused",
                  reason=reason, subject={"token": row.id if row else None, "scope": scope[:32]})  # fmt: skip
    if reason in ("bad-token", "revoked-token"):
        raise WebError(401, reason, "The API token is not valid.")
    if reason:
        raise WebError(403, reason, "The API token does not cover this endpoint.")
    assert row is not None
    verdict = p.limiter.hit(parse(f"{per_minute}/minute"), "token", f"token:{row.id}")
    if not verdict.allowed:
        raise WebError(429, "rate-limited", "Too many requests: please wait a moment.", retry_after=verdict.retry_after)


class ErrorDetail(BaseModel):
    code: str = Field(description="stable reason code, e.g. bad-cursor, expired-cursor, rate-limited, not-found")
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "bad request (query, cursor, parameters)"},
    401: {"model": ErrorOut, "description": "the API token is forged or revoked"},
    403: {"model": ErrorOut, "description": "the API token does not cover this endpoint"},
    404: {"model": ErrorOut, "description": "nothing published there"},
    429: {"model": ErrorOut, "description": "rate limit reached; see the Retry-After header"},
}

router = APIRouter(prefix="/api/v1", tags=["v1"], dependencies=[Depends(rate_limited)], responses=_ERRORS)

Cursor = Annotated[str | None, Query(max_length=1024, description="next_cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=100)]


class SubjectOut(BaseModel):
    subject_key: str
    name: str
    category: str
    uscc: str | None


class RecordOut(BaseModel):
    kind: str = Field(description="licence, penalty, list_entry, commitment, gov_credit or subject")
    key: str
    version: int
    subject_key: str
    subject_name: str
    doc_no: str | None
    publish_until: date | None
    fields: dict[str, str | int | float | bool | None] = Field(description="the published row, as published")


class DocumentOut(BaseModel):
    key: str
    version: int
    name: str
    title: str
    media_type: str
    sha256: str
    size: int
    subject_key: str | None
    publish_until: date | None
    download_url: str


class SearchOut(BaseModel):
    query: str
    total: int | None = Field(description="number of matching subjects; on the first page only")
    items: list[SubjectOut]
    records: list[RecordOut] = Field(description="records whose document number is the query (first page only)")
    next_cursor: str | None


class SubjectDetailOut(BaseModel):
    subject: SubjectOut
    profile: RecordOut | None
    records: dict[str, list[RecordOut]]
    documents: list[DocumentOut]
    package_seq: int


class RecordsOut(BaseModel):
    total: int | None = Field(description="on the first page only")
    items: list[RecordOut]
    next_cursor: str | None


class DepartmentsOut(BaseModel):
    items: list[SubjectOut]
    next_cursor: str | None


class DocumentsOut(BaseModel):
    items: list[DocumentOut]
    next_cursor: str | None


class FreshnessOut(BaseModel):
    package_seq: int = Field(description="sequence number of the last package applied from the internal node")
    applied_at: str | None = Field(description="when it was applied here, ISO 8601 UTC")
    records: dict[str, int] = Field(description="records published today, per kind")


class ChangeOut(BaseModel):
    kind: str
    change: str = Field(description="withdrawn, updated or added")
    record_date: str | None


class VerificationOut(BaseModel):
    genuine: bool
    unchanged: bool
    issued_at: str | None
    package_seq: int | None
    subject_key: str | None
    subject_name: str | None
    changes: list[ChangeOut]


def _subject(s: SubjectSummary) -> SubjectOut:
    return SubjectOut(subject_key=s.subject_key, name=s.name, category=s.category, uscc=s.uscc)


def _record(v: RecordView) -> RecordOut:
    return RecordOut(
        kind=v.kind,
        key=v.key,
        version=v.version,
        subject_key=v.subject_key,
        subject_name=v.subject_name,
        doc_no=v.doc_no,
        publish_until=v.publish_until,
        fields=v.row,
    )


def _document(d: DocumentInfo) -> DocumentOut:
    return DocumentOut(
        key=d.key,
        version=d.version,
        name=d.name,
        title=d.title,
        media_type=d.media_type,
        sha256=d.sha256,
        size=d.size,
        subject_key=d.subject_key,
        publish_until=d.publish_until,
        download_url=f"/api/v1/documents/{d.key}/content",
    )


@router.get("/search", response_model=SearchOut)
async def api_search(
    request: Request, q: Annotated[str, Query(max_length=MAX_Q)], cursor: Cursor = None, limit: Limit = 20
) -> SearchOut:
    """Subjects by name (2 Chinese characters are enough) or credit code, ranked; and records by
    decision number."""
    return await platform(request).call_search(_read_search, request, q, cursor, limit)


def _read_search(
    request: Request, q: str, cursor: str | None, limit: int, *, cached_only: bool = False
) -> SearchOut | None:
    p = platform(request)
    q = check_query(q)
    scope = "search:" + normalise(q)
    after = p.open_cursor(scope, cursor)
    today = p.today()
    with p.reads() as s:
        found = p.search(s, q, today=today, limit=limit, after=after, cached_only=cached_only)
    if found is None:
        return None
    page, by_doc = found
    return SearchOut(
        query=q,
        total=page.total,
        items=[_subject(x) for x in page.items],
        records=[_record(r) for r in by_doc],
        next_cursor=p.next_cursor(scope, page.after),
    )


@router.get("/subjects/{ident}", response_model=SubjectDetailOut)
async def api_subject(
    request: Request, ident: Annotated[str, Path(max_length=64, description="credit code or subject key")]
) -> SubjectDetailOut:
    """A subject by unified social credit code or subject key, with every published record."""
    return await platform(request).call(_read_subject, request, ident)


def _read_subject(request: Request, ident: str) -> SubjectDetailOut:
    p = platform(request)
    today = p.today()
    with p.reads() as s:
        key = find_subject_key(s, ident, today=today)
        page = subject_page(s, key, today=today) if key else None
        docs = documents_of_subject(s, key, today=today) if key else []
        fresh = freshness(s)
    if page is None:
        raise WebError(404, "not-found", "Nothing is published about this subject.")
    return SubjectDetailOut(
        subject=_subject(page.subject),
        profile=_record(page.profile) if page.profile else None,
        records={k: [_record(r) for r in v] for k, v in page.records.items()},
        documents=[_document(d) for d in docs],
        package_seq=fresh.package_seq,
    )


@router.get("/lists/{list_type}", response_model=RecordsOut)
def api_list(
    request: Request,
    list_type: Annotated[str, Path(pattern="^(red|dishonest)$")],
    cursor: Cursor = None,
    limit: Limit = 20,
) -> RecordsOut:
    """The red list (``red``) or the serious-dishonesty list (``dishonest``), newest first."""
    p = platform(request)
    scope = "list:" + list_type
    after = p.open_cursor(scope, cursor)
    with p.reads() as s:
        page = list_keyset(s, list_type, today=p.today(), limit=limit, after=after)
    return RecordsOut(
        total=page.total, items=[_record(r) for r in page.items], next_cursor=p.next_cursor(scope, page.after)
    )


@router.get("/gov", response_model=DepartmentsOut)
def api_gov(request: Request, cursor: Cursor = None, limit: Limit = 50) -> DepartmentsOut:
    """Departments with government-credit records, by name."""
    p = platform(request)
    after = p.open_cursor("gov", cursor)
    with p.reads() as s:
        page = gov_departments(s, today=p.today(), limit=limit, after=after)
    items = [SubjectOut(subject_key=d.subject_key, name=d.name, category="government", uscc=d.uscc) for d in page.items]
    return DepartmentsOut(items=items, next_cursor=p.next_cursor("gov", page.after))


@router.get("/gov/{subject_key}", response_model=RecordsOut)
def api_gov_department(
    request: Request,
    subject_key: Annotated[str, Path(pattern="^[0-9a-f]{32}$")],
    cursor: Cursor = None,
    limit: Limit = 20,
) -> RecordsOut:
    """One department's government-credit records, newest first."""
    p = platform(request)
    scope = "gov:" + subject_key
    after = p.open_cursor(scope, cursor)
    with p.reads() as s:
        page = gov_records(s, subject_key, today=p.today(), limit=limit, after=after)
    return RecordsOut(
        total=page.total, items=[_record(r) for r in page.items], next_cursor=p.next_cursor(scope, page.after)
    )


@router.get("/documents", response_model=DocumentsOut)
def api_documents(request: Request, cursor: Cursor = None, limit: Limit = 20) -> DocumentsOut:
    """Published notices and documents (metadata; ``download_url`` serves the bytes)."""
    p = platform(request)
    after = p.open_cursor("docs", cursor)
    with p.reads() as s:
        page = documents_page(s, today=p.today(), limit=limit, after=after)
    return DocumentsOut(items=[_document(d) for d in page.items], next_cursor=p.next_cursor("docs", page.after))


@router.get(
    "/documents/{key}/content",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the document, as an attachment"}},
)
def api_document_content(request: Request, key: Annotated[str, Path(pattern="^[0-9a-f]{32}$")]) -> Response:
    """A document's bytes, as an attachment of its declared type."""
    return document_response(request, key)


@router.get("/freshness", response_model=FreshnessOut)
def api_freshness(request: Request) -> FreshnessOut:
    """How current the published data is: the last package applied and the records per kind."""
    p = platform(request)
    with p.reads() as s:
        fresh = freshness(s)
        counts = p.counts(s, fresh.package_seq)
    applied = fresh.applied_at.isoformat(timespec="seconds") if fresh.applied_at else None
    return FreshnessOut(package_seq=fresh.package_seq, applied_at=applied, records=counts)


@router.get("/reports/{code}", response_model=VerificationOut)
def api_verify(request: Request, code: Annotated[str, Path(max_length=64)]) -> VerificationOut:
    """Verify a credit report's code: genuine or not, and what changed since it was issued."""
    p = platform(request)
    p.limit(request, "report")
    with p.read() as s:
        v = verify_report(s, p.web_engine, code, today=p.today())
    return VerificationOut(
        genuine=v.genuine,
        unchanged=v.unchanged,
        issued_at=v.issued_at.isoformat(timespec="seconds") if v.issued_at else None,
        package_seq=v.package_seq,
        subject_key=v.subject_key,
        subject_name=v.subject_name,
        changes=[ChangeOut(kind=c.kind, change=c.change, record_date=c.record_date) for c in v.changes],
    )
