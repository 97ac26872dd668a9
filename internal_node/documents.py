"""Documents to publish (notices, decisions: PDF, OFD, images). The leak guard cannot read inside them,
so one is queued only with an explicit operator approval, recorded with the operator's name."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from internal_node.errors import DocumentError
from internal_node.leakguard import scan_value
from internal_node.projection import opaque_key
from internal_node.publication import DocumentOutcome, pseudonym_key, publish_items
from keys.strict import whole
from nodekit.events import record_event
from nodekit.i18n import N_
from transfer import media
from transfer.limits import MAX_DOCUMENT
from transfer.log import EventCode

_NAME = whole(r"[^/\\\x00.][^/\\\x00]{0,254}")


@dataclass(frozen=True)
class QueuedDocument:
    key: str
    name: str
    media_type: str
    size: int
    sha256: str


def queue_document(
    session: Session,
    path: Path,
    *,
    title: str,
    approved_by: str,
    at: datetime,
    publish_until: date | None = None,
    subject_key: str | None = None,
) -> QueuedDocument:
    """Queue ``path`` for publication with the operator's approval (in ``session``'s transaction)."""
    if not approved_by.strip():
        raise DocumentError(
            N_("{path}: publishing a document needs the approving operator's name (--approved-by)"),
            params={"path": path},
        )
    name = path.name
    if not _NAME.match(name):
        raise DocumentError(
            N_("{path}: the file name must be a plain name without a leading dot"), params={"path": path}
        )
    # the guard cannot read the document, but the title and the file name it travels with are text
    # that crosses the gap like any row's: they pass the leak guard (docs/POLICY.md)
    for field, value in (("name", name), ("title", title)):
        hits = scan_value(field, value)
        if hits:
            # the path is not echoed: it may hold the very ID number the guard found
            where = f"{path.parent}/<file>" if field == "name" else str(path)
            raise DocumentError(
                N_("{where}: field {field}: {description}: refused by the leak guard"),
                params={"where": where, "field": field, "description": hits[0].description},
            )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(
            N_("{path}: cannot read: {problem}"), params={"path": path, "problem": exc.strerror}
        ) from exc
    if not 0 < len(data) <= MAX_DOCUMENT:
        raise DocumentError(
            N_("{path}: {n_data} bytes; a document must be 1 byte to {max_document} bytes"),
            params={"path": path, "n_data": len(data), "max_document": MAX_DOCUMENT},
        )
    kind = media.sniff(data)
    if kind is None:
        raise DocumentError(
            N_("{path}: not a PDF, OFD, PNG or JPEG file by its content (checked by magic bytes)"),
            params={"path": path},
        )
    key = opaque_key(pseudonym_key(session), "document", [name, title])
    digest = hashlib.sha256(data).hexdigest()
    item: dict[str, Any] = {
        "kind": "document", "op": "upsert", "key": key, "name": name, "media_type": kind, "title": title,
        "subject_key": subject_key, "publish_until": publish_until.isoformat() if publish_until else None,
        "data": base64.b64encode(data).decode(),
    }  # fmt: skip
    publish_items(
        session, [DocumentOutcome(key=key, item=item, digest=digest, publish_until=publish_until)], today=at.date()
    )
    record_event(
        session, EventCode.DOCUMENT_APPROVED, at=at, actor=f"operator:{approved_by.strip()[:100]}",
        subject={"file": name[:200], "sha256": digest, "media_type": kind, "key": key}, counts={"bytes": len(data)},
    )  # fmt: skip
    return QueuedDocument(key=key, name=name, media_type=kind, size=len(data), sha256=digest)


def withdraw_document(session: Session, key: str, *, reason: str, approved_by: str, at: datetime) -> None:
    """Withdraw a published document from the public side."""
    publish_items(
        session,
        [DocumentOutcome(key=key, item=None, digest=None, publish_until=None, reason=reason)],
        today=at.date(),
    )
    record_event(
        session, EventCode.ADMIN_ACTION, at=at, actor=f"operator:{approved_by.strip()[:100]}",
        subject={"action": "document.withdraw", "key": key, "reason": reason},
    )  # fmt: skip
