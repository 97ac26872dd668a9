"""The hot reads: the anonymous GETs nearly every request is (a subject by credit code or key, a name
search, the data's freshness, as JSON or as the page), served without FastAPI's routing, dependency
solving and response validation, which cost more CPU than the queries themselves.

Each is answered by the very function its FastAPI route calls (``api._read_*``, ``pages._page_*``),
counted by the same rate limiter, and its errors rendered by the same ``app._error_response``, so the
answer is the route's answer (``tests/web/test_hot.py`` compares the two request by request). Only a
request of the plain shape is taken: the method GET, the path of one of these routes, no API token,
no session cookie on a page, and query parameters the route would accept as they are. Anything else
— another route, a token, a logged-in visitor, a parameter the route would refuse or coerce — goes
to the application untouched, before anything is counted, and gets the route's own answer.
(docs/PERFORMANCE.md, the public platform.)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from public_node.errors import BadQuery
from public_node.web.app import Platform, WebError, _error_response
from public_node.web.guard import ASGIApp, Receive, Scope, Send
from public_node.web.labels import N_

log = logging.getLogger("credgap.web")

Handler = Callable[[Request, dict[str, str]], Awaitable[Response]]

_DIGITS = re.compile(r"[0-9]{1,3}")


def _params(scope: Scope, allowed: dict[str, int]) -> dict[str, str] | None:
    """The query parameters if each is one of ``allowed`` (name -> most characters), given once and
    within its bound; None (leave the request to the route) otherwise."""
    raw = scope.get("query_string", b"")
    if not raw:
        return {}
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)  # as Starlette reads a query
    found: dict[str, str] = {}
    for name, value in pairs:
        bound = allowed.get(name)
        if bound is None or name in found or len(value) > bound:
            return None
        found[name] = value
    return found


def _limit(params: dict[str, str]) -> int | None:
    """The ``limit`` parameter as the route's ``Query(ge=1, le=100)`` takes it, 20 when absent; None when
    it is not plainly a number in range (the route answers that one)."""
    raw = params.get("limit")
    if raw is None:
        return 20
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= 100:
        return None
    return int(raw)


class HotReads:
    """The ASGI layer in front of the FastAPI application (inside the guard)."""

    def __init__(self, app: Any, platform: Platform) -> None:
        from public_node.web import api, pages, security

        self.app = app  # the FastAPI application: every request this layer does not take
        self.fastapi = app  # what a route's request.app is (request.app.state.platform)
        self.state = app.state  # as the application's, for whoever holds this layer
        self.p = platform
        self._api = api
        self._pages = pages
        self._max_q = pages.MAX_Q
        self._session_cookie = security.SESSION_COOKIE.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self._route(scope) if scope["type"] == "http" and scope["method"] == "GET" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        fn, params = handler
        scope["app"] = self.fastapi  # what Starlette sets for a route
        request = Request(scope, receive)
        try:
            await self.p.count(request)
            response = await fn(request, params)
        except WebError as exc:
            response = _error_response(self.p, scope["path"], exc.status, exc.code, exc.message, exc.retry_after)
        except BadQuery as exc:
            response = _error_response(self.p, scope["path"], 400, exc.reason, N_("The query is not valid."))
        except Exception as exc:
            log.error("unhandled error on %s", scope["path"], exc_info=exc)  # detail to the log only
            response = _error_response(
                self.p, scope["path"], 500, "internal", N_("Something went wrong on our side. Please try again later.")
            )
        await response(scope, receive, send)

    def _route(self, scope: Scope) -> tuple[Handler, dict[str, str]] | None:
        path: str = scope["path"]
        if path.startswith("/api/v1/"):
            if any(k == b"authorization" for k, _ in scope.get("headers", ())):
                return None  # an institution's token: checked by the route's dependency
            rest = path[8:]
            if rest.startswith("subjects/"):
                ident = rest[9:]
                if not 0 < len(ident) <= 64 or "/" in ident:
                    return None
                params = _params(scope, {})
                return None if params is None else (self._api_subject, {"ident": ident})
            if rest == "search":
                params = _params(scope, {"q": self._max_q, "cursor": 1024, "limit": 3})
                if params is None or "q" not in params or _limit(params) is None:
                    return None
                return self._api_search, params
            if rest == "freshness":
                params = _params(scope, {})
                return None if params is None else (self._api_freshness, {})
            return None
        if path.startswith("/subjects/") or path == "/search":
            if self._logged_in(scope):
                return None  # a visitor's own page: the route (its session is touched, a write)
            if path == "/search":
                params = _params(scope, {"q": self._max_q, "cursor": 1024})
                return None if params is None else (self._page_search, params)
            ident = path[10:]
            if not ident or "/" in ident:
                return None
            params = _params(scope, {})
            return None if params is None else (self._page_subject, {"ident": ident})
        return None

    def _logged_in(self, scope: Scope) -> bool:
        cookie = next((v for k, v in scope.get("headers", ()) if k == b"cookie"), b"")
        return self._session_cookie in cookie

    async def _json(self, model: BaseModel) -> Response:
        return Response(type(model).__pydantic_serializer__.to_json(model), media_type="application/json")

    async def _api_subject(self, request: Request, params: dict[str, str]) -> Response:
        return await self._json(await self.p.call(self._api._read_subject, request, params["ident"]))

    async def _api_search(self, request: Request, params: dict[str, str]) -> Response:
        limit = _limit(params)
        assert limit is not None  # checked by _route
        found = await self.p.call_search(self._api._read_search, request, params["q"], params.get("cursor"), limit)
        return await self._json(found)

    async def _api_freshness(self, request: Request, params: dict[str, str]) -> Response:
        return await self._json(await self.p.call(self._api.api_freshness, request, inline=False))

    async def _page_subject(self, request: Request, params: dict[str, str]) -> Response:
        return await self.p.call(self._pages._page_subject, request, params["ident"])

    async def _page_search(self, request: Request, params: dict[str, str]) -> Response:
        return await self.p.call_search(self._pages._page_search, request, params.get("q", ""), params.get("cursor"))


def with_hot_reads(app: ASGIApp, platform: Platform) -> ASGIApp:
    """``app`` behind the hot-read layer (``[web] hot_reads = false`` leaves it out)."""
    return HotReads(app, platform)
