"""The outermost layer of the platform (pure ASGI, around everything, error pages included): security
headers on every response, and bounds on what a request may bring (URL query size and encoding,
body size) before any route sees it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from public_node.web.labels import N_

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# No inline script or style anywhere: the CSP names only this origin's files.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

Refusal = Callable[[Scope, int, str], Awaitable[tuple[list[tuple[bytes, bytes]], bytes]]]


def query_problem(raw: bytes, max_bytes: int) -> tuple[int, str] | None:
    """Why a URL query string is refused (status and message id), or None."""
    if len(raw) > max_bytes:
        return 414, N_("The address is too long.")
    try:
        text = unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return 400, N_("The address is not valid UTF-8.")
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in text):
        return 400, N_("The address contains control characters.")
    return None


class Guard:
    """Wraps the application: refuses oversized or malformed requests with a friendly page (rendered
    by ``refuse``), and adds the security headers (and HSTS when configured) to every response."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        refuse: Refusal,
        max_query: int,
        max_body: int,
        hsts: bool,
        uploads: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self._uploads = uploads or {}  # exact path -> its own body limit (the filing form with its attachments)
        self._refuse = refuse
        self._max_query = max_query
        self._max_body = max_body
        self._headers = [*HEADERS, HSTS] if hsts else list(HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = query_problem(scope.get("query_string", b""), self._max_query)
        max_body = self._uploads.get(scope.get("path", ""), self._max_body)
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), None)
        if problem is None and declared is not None and (not declared.isdigit() or int(declared) > max_body):
            problem = (413, N_("The request is too large."))
        if problem is not None:
            await self._send_refusal(scope, send, *problem)
            return

        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:
                    raise BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in self._headers if h[0] not in present)]
            await send(message)

        try:
            await self.app(scope, bounded_receive, send_with_headers)
        except BodyTooLarge:
            await self._send_refusal(scope, send, 413, N_("The request is too large."))

    async def _send_refusal(self, scope: Scope, send: Send, status: int, message: str) -> None:
        headers, body = await self._refuse(scope, status, message)
        await send({"type": "http.response.start", "status": status, "headers": [*headers, *self._headers]})
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    """A request body (sent without, or beyond, its Content-Length) passed the bound."""
