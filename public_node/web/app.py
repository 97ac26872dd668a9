"""The platform's application: one :class:`Platform` per process (engines, cursors, limiter,
templates), the FastAPI app with the pages and the API, friendly errors, and the outer guard.

Every request reads the published database in one read transaction (``Platform.read``) and renders
only what that transaction returned, so a page is either before or after a package, never between.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from nodekit.home import HOME_ENV, load_config, resolve_home
from public_node.errors import BadQuery
from public_node.views import Keyset, RecordView, SubjectSummary
from public_node.web import audit, db
from public_node.web.config import IPNetwork, WebConfig, load_web_config
from public_node.web.cursors import CursorError, Cursors
from public_node.web.guard import Guard, Scope
from public_node.web.labels import N_
from public_node.web.ratelimit import Limiter, client_address, make_storage
from public_node.web.render import HERE, make_environment
from transfer.log import EventCode

log = logging.getLogger("credgap.web")

API_VERSION = "1"
TITLE = "credgap public credit platform"
DESCRIPTION = (
    "Read-only access to the published credit information (docs/adr/0010-public-platform.md), and a logged-in "
    "person's own filings: bindings, objections, repair applications and complaints (docs/adr/0013)."
)

Clock = Callable[[], datetime]
T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WebError(Exception):
    """A request the platform answers with an error page (or JSON error under /api): ``message`` is
    an English message id shown translated; ``code`` a stable reason for API clients."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


SEARCH_CACHE_ENTRIES = 2048  # searches kept per worker (Platform.search): ~12 MB of 20-subject pages, 40 MB at most
PROXIES_TTL = 5.0  # seconds another worker may still believe a proxy the security administrator removed


class Platform:
    """What every request of one process shares."""

    def __init__(self, home: Path, *, clock: Clock = _utcnow, epoch: Callable[[], float] | None = None) -> None:
        self.config = load_config(home, "public")
        self.web: WebConfig = load_web_config(self.config)
        self.clock = clock
        self.zone = ZoneInfo(self.config.timezone)
        self.read_engine = db.read_engine(self.web.read_database_url)
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        self.web_engine = db.web_engine(self.web.web_database_url)
        if not db.web_schema_current(self.web_engine):
            db.upgrade_web_database(self.web_engine)
        audit.ensure_key(home, self.config.name, self.clock())
        ticks = epoch or (lambda: self.clock().timestamp())
        self.cursors = Cursors(db.cursor_secret(self.web_engine), self.web.cursor_ttl, ticks)
        self.limiter = Limiter(
            make_storage(self.web.rate_limit_storage, self.web_engine, ticks), self.web.rate_limit_exempt, ticks
        )
        self.web_sessions = sessionmaker(self.web_engine, expire_on_commit=False)
        # plain reads that may run inside another web transaction of this thread (the proxy list, read
        # by an audit entry): a deferred BEGIN, which on SQLite's WAL never waits on a writer's lock
        self.web_read_engine = db.web_engine(self.web.web_database_url, immediate=False)
        self.web_reads = sessionmaker(self.web_read_engine, expire_on_commit=False)
        # Reads of a local SQLite file take tens of microseconds of CPU and never wait on a lock (WAL):
        # they run on the event loop, sparing each request two thread hand-offs. Reads from PostgreSQL
        # wait on the network, so they run in the thread pool and the loop serves other requests.
        self.inline_reads = self.read_engine.dialect.name == self.web_read_engine.dialect.name == "sqlite"
        self._signer: audit.AuditSigner | None = None
        self.templates = make_environment(self.config.timezone)
        self._counts: tuple[Any, dict[str, int]] | None = None
        self._proxies: tuple[float, tuple[IPNetwork, ...]] | None = None
        self.monotonic: Callable[[], float] = time.monotonic  # the proxy list's age (a test may advance it)
        self._searches: OrderedDict[tuple[Any, ...], tuple[Keyset[SubjectSummary], list[RecordView]]] = OrderedDict()
        self._search_lock = threading.Lock()  # reads from PostgreSQL run in the thread pool

    async def call(self, fn: Callable[..., T], /, *args: Any, inline: bool = True) -> T:
        """Run a request's synchronous read work (``inline_reads``): on the event loop, or in the pool
        (always when ``inline`` is False: work that may write, like a logged-in page's session touch, or
        that may count a large part of the database, like the home page's counts after a package or a
        list's first-page total: a second or more at 1M records, which must not stall the loop)."""
        if inline and self.inline_reads:
            return fn(*args)
        return await run_in_threadpool(fn, *args)

    async def call_search(self, fn: Callable[..., T | None], /, *args: Any, inline: bool = True) -> T:
        """Run a search route's work (``fn`` takes ``cached_only``): a search already in the cache
        (:meth:`search`) is answered on the event loop; one to compute goes to the thread pool, so a
        cold common query (tens of milliseconds at 1M records) never holds up the loop's other requests."""
        if inline and self.inline_reads:
            found = fn(*args, cached_only=True)
            if found is not None:
                return found
        result = await run_in_threadpool(fn, *args)
        assert result is not None  # computed: only cached_only answers None
        return result

    async def count(self, request: Request, bucket: str = "req") -> None:
        """:meth:`limit` for an async route or dependency: an allow-listed address is settled on the
        event loop; a counted one writes its counter from the thread pool (the write may wait on the
        web database's lock, which must never stall the loop)."""
        if self.limiter.exempts(self.client(request)):
            return
        await run_in_threadpool(self.limit, request, bucket)

    def today(self) -> date:
        """Today where the node publishes (fail-safe expiry is read in this zone)."""
        return self.clock().astimezone(self.zone).date()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One read transaction on the published database: every query of a request goes through it."""
        with self.read_sessions() as session, session.begin():
            yield session

    @contextmanager
    def reads(self) -> Iterator[Connection]:
        """:meth:`read` as a Core connection: the same one snapshot, without an ORM session to set up
        (the pages and API calls every visitor makes: subject, search, freshness)."""
        with self.read_engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def web_transaction(self) -> Iterator[Session]:
        """One transaction on the web database: an account change and its audit entry commit together."""
        with self.web_sessions() as session, session.begin():
            yield session

    @contextmanager
    def web_read(self) -> Iterator[Session]:
        """A read of the web database that never takes its write lock (deferred BEGIN): for reads on
        every request, and for reads that may run inside another web transaction of this thread."""
        with self.web_reads() as session, session.begin():
            yield session

    def audit(
        self, session: Session, event: EventCode, *, actor: str, result: str = "ok", reason: str = "",
        subject: Mapping[str, Any] | None = None,
    ) -> None:  # fmt: skip
        """Append to the web audit log (signed by the web audit key, loaded once per process)."""
        if self._signer is None:
            self._signer = audit.load_signer(self.config.home, self.config.name)
        audit.record(
            session, self._signer, event, at=self.clock(), actor=actor, result=result, reason=reason, subject=subject
        )

    def search(
        self, session: Session | Connection, q: str, *, today: date, limit: int, after: Any, cached_only: bool = False
    ) -> tuple[Keyset[SubjectSummary], list[RecordView]] | None:
        """A search's page of subjects and, on the first page, the records whose decision number it is.

        Kept per process for the data generation it was computed on (the last applied package, read
        in the caller's transaction, and today's date): a search is answered from memory until a
        package is applied or the day turns, so it is never staler than the transaction that asks.
        A common 2-character query matches thousands of subjects at 1M records and costs tens of
        milliseconds to rank and count (docs/PERFORMANCE.md); repeated, it costs one lookup.
        ``cached_only``: None instead of computing it (``call_search``)."""
        from public_node.queries import find_by_doc_no, freshness
        from public_node.search import normalise, search_page

        fresh = freshness(session)
        key = (fresh.package_seq, fresh.applied_at, fresh.channels, today, normalise(q), limit, repr(after))
        with self._search_lock:
            hit = self._searches.get(key)
            if hit is not None:
                self._searches.move_to_end(key)
                return hit
        if cached_only:
            return None
        page = search_page(session, q, today=today, limit=limit, after=after)
        by_doc = find_by_doc_no(session, q, today=today)[:limit] if q.strip() and after is None else []
        with self._search_lock:
            self._searches[key] = (page, by_doc)
            while len(self._searches) > SEARCH_CACHE_ENTRIES:
                self._searches.popitem(last=False)
        return page, by_doc

    def counts(self, session: Session | Connection, package_seq: int) -> dict[str, int]:
        """Published records per kind, recounted only when a package was applied or the day changed."""
        from public_node.queries import record_counts

        key = (package_seq, self.today())
        if self._counts is None or self._counts[0] != key:
            self._counts = (key, record_counts(session, today=self.today()))
        return self._counts[1]

    def client(self, request: Request) -> str:
        """The address a request is counted against (``trusted_proxies``), worked out once per request:
        the first call (the rate limit, before any transaction) may read the proxy list; an audit entry
        written later inside a write transaction takes the kept address and opens no second connection."""
        found: str | None = getattr(request.state, "client_address", None)
        if found is None:
            peer = request.client.host if request.client else None
            found = client_address(peer, request.headers.get("x-forwarded-for"), self.trusted_proxies())
            request.state.client_address = found
        return found

    def trusted_proxies(self) -> tuple[IPNetwork, ...]:
        """The proxies whose X-Forwarded-For is believed: the security administrator's list in the web
        database once saved, node.toml's ``[web] trusted_proxies`` until then. Read again at most every
        ``PROXIES_TTL`` seconds per process; a change made in this process applies at once."""
        now = self.monotonic()
        if self._proxies is None or now - self._proxies[0] >= PROXIES_TTL:
            from public_node.web import accounts

            with self.web_read() as s:  # never a second write lock beside the caller's
                saved = accounts.trusted_proxies(s)
            self._proxies = (now, self.web.trusted_proxies if saved is None else saved)
        return self._proxies[1]

    def forget_proxies(self) -> None:
        """Drop the cached trusted-proxy list (after the security administrator changed it)."""
        self._proxies = None

    def limit(self, request: Request, bucket: str = "req") -> None:
        """Count the request against its address's limit; raise 429 over it."""
        item = self.web.report_rate_limit if bucket == "report" else self.web.rate_limit
        verdict = self.limiter.hit(item, bucket, self.client(request))
        if not verdict.allowed:
            raise WebError(
                429, "rate-limited", "Too many requests: please wait a moment.", retry_after=verdict.retry_after
            )

    def open_cursor(self, scope: str, cursor: str | None) -> Any:
        """The position a request's cursor carries (None for the first page); 400 when it is bad."""
        if cursor is None or cursor == "":
            return None
        try:
            return self.cursors.open(scope, cursor)
        except CursorError as exc:
            message = (
                N_("This page link has expired: start again from the first page.")
                if exc.reason == "expired-cursor"
                else N_("This page link is not valid.")
            )
            raise WebError(400, exc.reason, message) from exc

    def next_cursor(self, scope: str, after: Any) -> str | None:
        return None if after is None else self.cursors.issue(scope, after)

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        """A page from the templates (autoescaped), in the default language."""
        html = self.templates.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status)

    def close(self) -> None:
        self.read_engine.dispose()
        self.web_engine.dispose()
        self.web_read_engine.dispose()


def platform(request: Request) -> Platform:
    p: Platform = request.app.state.platform
    return p


def _is_api(path: str) -> bool:
    return path.startswith("/api/")


def _error_response(
    p: Platform, path: str, status: int, code: str, message: str, retry_after: int | None = None
) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    if _is_api(path):
        body = {"error": {"code": code, "message": message}}
        return JSONResponse(body, status_code=status, headers=headers)
    response = p.render("error.html", status=status, status_code=status, message=message)
    if headers:
        response.headers.update(headers)
    return response


_STATUS_MESSAGES = {
    401: ("login-required", N_("Please log in first.")),
    403: ("forbidden", N_("Your role does not allow this page.")),
    404: ("not-found", N_("Nothing is published at this address.")),
    405: ("method-not-allowed", N_("This address does not accept that kind of request.")),
}


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(WebError)
    async def web_error(request: Request, exc: WebError) -> Response:
        return _error_response(platform(request), request.url.path, exc.status, exc.code, exc.message, exc.retry_after)

    @app.exception_handler(BadQuery)
    async def bad_query(request: Request, exc: BadQuery) -> Response:
        return _error_response(platform(request), request.url.path, 400, exc.reason, N_("The query is not valid."))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error_response(platform(request), request.url.path, 400, "bad-request", N_("The request is not valid."))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code, message = _STATUS_MESSAGES.get(exc.status_code, ("error", N_("The request could not be served.")))
        return _error_response(platform(request), request.url.path, exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def failure(request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s", request.url.path, exc_info=exc)  # detail to the log only
        return _error_response(
            platform(request),
            request.url.path,
            500,
            "internal",
            N_("Something went wrong on our side. Please try again later."),
        )


def create_fastapi(p: Platform) -> FastAPI:
    """The FastAPI application (pages, API, static files) over one :class:`Platform`."""
    from public_node.web import account_pages, admin_pages, api, application_pages, console, filing_api, pages

    app = FastAPI(
        title=TITLE,
        version=API_VERSION,
        description=DESCRIPTION,
        docs_url=None,  # the interactive docs load scripts from a CDN: the public side may have no internet
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.platform = p
    _install_errors(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        """A worker's event loop answers: the main process's probe for systemd's watchdog (web/service.py)."""
        return PlainTextResponse("ok\n")

    # the read API and the public pages first: routes are matched in order, and these carry the load
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(account_pages.router)
    app.include_router(application_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(console.router)
    app.include_router(filing_api.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    if os.environ.get("CREDGAP_WEB_TEST_HOOKS") == "1":  # tests only: a request the test holds open
        from public_node.web import testhooks

        app.include_router(testhooks.router)
    return app


def create_app(home: Path, *, clock: Clock = _utcnow, epoch: Callable[[], float] | None = None) -> Guard:
    """The whole platform as an ASGI app: the guard around the FastAPI app (``.app``)."""
    p = Platform(home, clock=clock, epoch=epoch)
    app = create_fastapi(p)

    async def refuse(scope: Scope, status: int, message: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
        if _is_api(scope.get("path", "")):
            return [(b"content-type", b"application/json")], orjson.dumps(
                {"error": {"code": "bad-request", "message": message}}
            )
        html = p.templates.get_template("error.html").render(status_code=status, message=message)
        return [(b"content-type", b"text/html; charset=utf-8")], html.encode()

    inner: Any = app
    if p.web.hot_reads:
        from public_node.web.hot import HotReads

        inner = HotReads(app, p)
    return Guard(
        inner,
        refuse=refuse,
        max_query=p.web.max_query_bytes,
        max_body=p.web.max_body_bytes,
        hsts=p.web.hsts,
        # a filing's body may carry its attachments: the form as multipart, the API as base64 (4/3)
        uploads={"/applications/new": _upload_body(), "/api/v1/applications": _upload_body() * 4 // 3 + 4096},
    )


def _upload_body() -> int:
    from public_node.web.application_pages import UPLOAD_BODY

    return UPLOAD_BODY


def app_from_environment() -> Guard:
    """Factory for the server's workers: the home comes from ``CREDGAP_HOME`` (set by ``serve``)."""
    return create_app(resolve_home(os.environ.get(HOME_ENV)))
