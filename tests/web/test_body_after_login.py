"""Who sends a filing is checked before its body is read: the filing form (multipart, attachments of
several MiB) and the filing API (JSON, base64 attachments) refuse a caller who is not logged in, or an
API call without the session's CSRF token, or a form from another site, without reading a byte of the
body. Observed at the ASGI boundary: the app is called directly with a ``receive`` that counts what it
hands over."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from starlette.testclient import TestClient

from public_node.web.application_pages import UPLOAD_BODY
from public_node.web.guard import Message
from tests.web.auth_support import csrf, log_in, sign_up

BOUNDARY = "credgap-test-boundary"


def _multipart(fields: dict[str, str], file_bytes: int) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="scan.png"\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + os.urandom(file_bytes)
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def _call(app: Any, path: str, body: bytes, content_type: str, **headers: str) -> tuple[int, int]:
    """POST ``body`` to ``app`` in 64 KiB messages: (the response's status, the body bytes the app read)."""
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    read = 0
    status = 0

    async def receive() -> Message:
        nonlocal read
        if not chunks:
            return {"type": "http.disconnect"}
        chunk = chunks.pop(0)
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    raw = [(b"host", b"testserver"), (b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    raw += [(k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": raw,
        "client": ("203.0.113.7", 50001), "server": ("testserver", 80),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return status, read


def _cookie(client: TestClient) -> str:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def test_the_filing_form_checks_the_caller_before_reading_the_body(client: TestClient) -> None:
    app = client.app
    body = _multipart({"csrf_token": "x" * 43, "type": "complaint", "category": "other", "statement": "s"}, 4 << 20)
    assert len(body) < UPLOAD_BODY  # within what the guard lets a filing carry: only the caller is wrong
    form = f"multipart/form-data; boundary={BOUNDARY}"

    status, read = _call(app, "/applications/new", body, form)
    assert (status, read) == (401, 0), "an anonymous form is refused unread"

    assert sign_up(client, "lisi").status_code == 303
    assert log_in(client, "lisi").status_code == 303
    cookie = _cookie(client)
    status, read = _call(app, "/applications/new", body, form, cookie=cookie, origin="https://evil.example")
    assert (status, read) == (403, 0), "a form of another site is refused unread"

    # the control: a logged-in person's form is read (the token is in it), and a wrong token refused
    status, read = _call(app, "/applications/new", body, form, cookie=cookie)
    assert (status, read) == (403, len(body))


def test_the_filing_api_checks_the_caller_before_reading_the_body(client: TestClient) -> None:
    app = client.app
    attachment = "A" * (4 << 20)
    body = b'{"type": "complaint", "category": "other", "statement": "s", "attachments": [{"name": "a.png", "data": "'
    body += attachment.encode() + b'"}]}'

    for path, sent in (("/api/v1/applications", body), ("/api/v1/bindings", body[:12_000])):  # (each's bound)
        status, read = _call(app, path, sent, "application/json")
        assert (status, read) == (401, 0), f"{path}: an anonymous call is refused unread"

    assert sign_up(client, "lisi").status_code == 303
    assert log_in(client, "lisi").status_code == 303
    token = csrf(client, "/applications/bind")
    cookie = _cookie(client)
    status, read = _call(app, "/api/v1/applications", body, "application/json", cookie=cookie)
    assert (status, read) == (403, 0), "no CSRF header: refused unread"
    status, read = _call(app, "/api/v1/applications", body, "application/json", cookie=cookie, x_csrf_token="x" * 43)
    assert (status, read) == (403, 0), "a wrong CSRF header: refused unread"

    # the control: with the session's token the body is read (and the filing judged on its content)
    status, read = _call(app, "/api/v1/applications", body, "application/json", cookie=cookie, x_csrf_token=token)
    assert (status, read) == (400, len(body)), "the attachment is no PNG"
