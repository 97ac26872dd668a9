"""Published documents (notices, decisions): the media-type check by magic bytes, storing a newer
version, withdrawing, and fetching them for the web platform."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import Date, String, bindparam, delete, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from keys.strict import calendar_date
from nodekit.text import printable
from public_node.errors import BadQuery, DocumentRejected
from public_node.models import DOCUMENT_TABLE
from public_node.views import DocumentInfo, Keyset, Reader, check_page, dialect_name
from transfer import media

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # docs/FORMAT.md §11
ALLOWED_MEDIA_TYPES = media.MEDIA_TYPES

_KEY = re.compile(r"[0-9a-f]{32}")
_D = DOCUMENT_TABLE.c
_INFO_COLUMNS = (
    _D.key,
    _D.version,
    _D.name,
    _D.title,
    _D.media_type,
    _D.sha256,
    _D.size,
    _D.subject_key,
    _D.publish_until,
)


def check_document_bytes(media_type: str, data: bytes, *, where: str = "document") -> None:
    """Raise :class:`DocumentRejected` unless ``data`` is, by its magic bytes, of ``media_type``
    (the one recogniser in ``transfer.media``)."""
    if media_type not in ALLOWED_MEDIA_TYPES:
        raise DocumentRejected(
            f"{where}: media type expected one of {', '.join(ALLOWED_MEDIA_TYPES)}, got {printable(media_type)}"
        )
    if not media.matches(media_type, data):
        raise DocumentRejected(f"{where}: content does not match media type {media_type} (checked by its magic bytes)")


def _check_name(name: Any, where: str) -> str:
    if (
        not isinstance(name, str)
        or not name
        or len(name.encode("utf-8")) > 255
        or name.startswith(".")
        or any(ch in name for ch in "/\\")
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)
    ):
        raise DocumentRejected(
            f"{where}: name expected 1-255 bytes without '/', '\\', control characters or a leading '.', "
            f"got {printable(name)}"
        )
    return name


def store_document(session: Session, doc: Mapping[str, Any]) -> bool:
    """Store a published document if its version is newer than the one held; True if stored.

    ``doc`` has ``key``, ``version``, ``name``, ``media_type``, ``data`` (bytes), ``title``, and
    optionally ``subject_key`` and ``publish_until`` (ISO date). Bytes that are not of the declared
    media type, or unsafe metadata, raise :class:`DocumentRejected` (reason ``bad-document``).
    """
    key = doc.get("key")
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise DocumentRejected(f"document: key expected 32 lowercase hex digits, got {printable(key)}")
    where = f"document {key}"
    version = doc.get("version")
    if type(version) is not int or not 1 <= version < 2**63:
        raise DocumentRejected(f"{where}: version expected an integer from 1 to 2^63-1, got {printable(version)}")
    name = _check_name(doc.get("name"), where)
    title = doc.get("title")
    if not isinstance(title, str):
        raise DocumentRejected(f"{where}: title expected a string, got {printable(title)}")
    subject_key = doc.get("subject_key")
    if subject_key is not None and (not isinstance(subject_key, str) or not _KEY.fullmatch(subject_key)):
        raise DocumentRejected(
            f"{where}: subject_key expected 32 lowercase hex digits or null, got {printable(subject_key)}"
        )
    publish_until = doc.get("publish_until")
    until = None if publish_until is None else calendar_date(publish_until)
    if publish_until is not None and until is None:
        raise DocumentRejected(f"{where}: publish_until expected YYYY-MM-DD, got {printable(publish_until)}")
    data = doc.get("data")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DocumentRejected(f"{where}: data expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if not 0 < len(data) <= MAX_DOCUMENT_BYTES:
        raise DocumentRejected(f"{where}: size expected 1 to {MAX_DOCUMENT_BYTES} bytes, got {len(data)}")
    media_type = doc.get("media_type")
    check_document_bytes(str(media_type), data, where=f"{where} ({printable(name)})")
    values = {
        "key": key,
        "version": version,
        "name": name,
        "title": title,
        "media_type": media_type,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "subject_key": subject_key,
        "publish_until": until,
        "data": data,
    }
    t = DOCUMENT_TABLE
    ins = pg_insert(t) if dialect_name(session) == "postgresql" else sqlite_insert(t)
    stmt = ins.on_conflict_do_update(
        index_elements=["key"],
        set_={c: ins.excluded[c] for c in values if c != "key"},
        where=ins.excluded.version > t.c.version,
    ).returning(t.c.key)
    return session.execute(stmt, values).first() is not None


def withdraw_document(session: Session, key: str, version: int) -> bool:
    """Remove a document unless the stored version is newer than ``version``; True if removed."""
    t = DOCUMENT_TABLE
    stmt = delete(t).where(t.c.key == key, t.c.version <= version).returning(t.c.key)
    return session.execute(stmt).first() is not None


def _live(today: date) -> Any:
    return or_(_D.publish_until.is_(None), _D.publish_until >= today)


def get_document(session: Reader, key: str, *, today: date) -> tuple[DocumentInfo, bytes] | None:
    """A document's metadata and bytes, or None (unknown, withdrawn or past its publish_until)."""
    row = session.execute(select(*_INFO_COLUMNS, _D.data).where(_D.key == key, _live(today))).first()
    if row is None:
        return None
    return DocumentInfo(*row[:-1]), bytes(row[-1])


_OF_SUBJECT = (  # built once: it runs on every subject page and lookup
    select(*_INFO_COLUMNS)
    .where(
        _D.subject_key == bindparam("subject_key", type_=String),
        or_(_D.publish_until.is_(None), _D.publish_until >= bindparam("today", type_=Date)),
    )
    .order_by(_D.key)
)


def documents_of_subject(session: Reader, subject_key: str, *, today: date) -> list[DocumentInfo]:
    """The metadata of a subject's published documents, by key."""
    rows = session.execute(_OF_SUBJECT, {"subject_key": subject_key, "today": today})
    return [DocumentInfo(*r) for r in rows]


def documents_page(session: Reader, *, today: date, limit: int = 20, after: Any = None) -> Keyset[DocumentInfo]:
    """Published documents (notices, decisions) by title, by keyset (``after`` is (title, key) of the
    previous page's last document)."""
    check_page(limit, 0)
    stmt = select(*_INFO_COLUMNS).where(_live(today))
    if after is not None:
        if not isinstance(after, list | tuple) or len(after) != 2 or not all(isinstance(a, str) for a in after):
            raise BadQuery("page: the position to continue from is malformed")
        stmt = stmt.where(
            tuple_(_D.title, _D.key)
            > tuple_(bindparam("a_title", after[0], type_=String), bindparam("a_key", after[1], type_=String))
        )
    rows = session.execute(stmt.order_by(_D.title, _D.key).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = (rows[-1].title, rows[-1].key) if more else None
    return Keyset(items=[DocumentInfo(*r) for r in rows], after=nxt)
