"""Opaque page cursors: the keyset position of the next page, bound to the query it continues,
authenticated with HMAC-SHA256 under the web database's secret, and valid for a limited time.

A cursor is ``base64url(payload) "." base64url(tag)``; the payload is JSON ``{"s": scope, "a":
position, "t": issue time}``. A tampered, foreign or expired cursor raises :class:`CursorError`
before its position is read; the position is then still checked by the query layer, which binds it as
parameters (never as SQL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import orjson

MAX_CURSOR_CHARS = 1024
_TAG_BYTES = 16  # 128-bit tag


class CursorError(ValueError):
    """A page cursor that was not issued by this platform for this query, or has expired."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Cursors:
    """Issues and opens cursors under one secret; ``clock`` returns seconds since the epoch."""

    def __init__(self, secret: bytes, ttl: int, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._ttl = ttl
        self._clock = clock

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, b"credgap/v1 page-cursor\0" + payload, hashlib.sha256).digest()[:_TAG_BYTES]

    def issue(self, scope: str, position: Any) -> str:
        """A cursor continuing ``scope`` (e.g. ``search:华兴``) after ``position``."""
        payload = orjson.dumps({"s": scope, "a": position, "t": int(self._clock())})
        return f"{_b64(payload)}.{_b64(self._tag(payload))}"

    def open(self, scope: str, cursor: str) -> Any:
        """The position a cursor carries; raise :class:`CursorError` unless it is genuine, for this
        scope, and not expired."""
        if len(cursor) > MAX_CURSOR_CHARS or cursor.count(".") != 1:
            raise CursorError("page cursor: not a cursor of this site", reason="bad-cursor")
        body, tag = cursor.split(".")
        try:
            payload, given = _unb64(body), _unb64(tag)
        except (ValueError, UnicodeEncodeError) as exc:
            raise CursorError("page cursor: not a cursor of this site", reason="bad-cursor") from exc
        if not hmac.compare_digest(self._tag(payload), given):
            raise CursorError("page cursor: altered, or not a cursor of this site", reason="bad-cursor")
        data = orjson.loads(payload)
        if data.get("s") != scope:
            raise CursorError("page cursor: belongs to another query", reason="bad-cursor")
        age = self._clock() - int(data.get("t", 0))
        if age > self._ttl or age < -60:
            raise CursorError("page cursor: expired; start again from the first page", reason="expired-cursor")
        return data.get("a")
