"""The applications outbox: what people filed on the platform (web database, ``public_node.web.
appmodels``) becomes format-2 items of the next return package to the internal node (FORMAT.md
§10.6). Runs in the node's process (``public-node export``), never in a web worker.

The web database is not the node's: a row is marked sent (``sent_seq``) after the package that carries
it was sealed and committed. A crash between the two sends it again in the next package, which the
internal node recognises by its id and ignores; nothing filed is ever lost."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keys.times import format_time
from nodekit.runtime import Node
from public_node.web.appmodels import WebApplication, WebAttachment, WebBinding
from public_node.web.config import load_web_config
from public_node.web.db import web_engine, web_schema_current
from transfer.items import Item

MAX_PER_PACKAGE = 200  # applications per return package: each may carry 5 attachments of 4 MiB


@contextmanager
def web_session(node: Node, *, write: bool = False) -> Iterator[Session | None]:
    """A session on the node's web database (None when there is none yet, or it is not migrated). A
    read (``write=False``) begins deferred: on SQLite it never takes the write lock the platform's
    logins and counters need, however long loading the attachments takes."""
    url = load_web_config(node.config).web_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        yield None
        return
    engine = web_engine(url, immediate=write)
    try:
        if not web_schema_current(engine):
            yield None
            return
        with Session(engine) as s:
            yield s
    finally:
        engine.dispose()


def pending(node: Node) -> list[Item]:
    """The binding requests and applications not yet carried, as items (bindings first): at most
    ``MAX_PER_PACKAGE`` applications, what one return package seals. Call it only for a round that
    carries them: it loads their attachments."""
    items: list[Item] = []
    with web_session(node) as s:
        if s is None:
            return items
        for b in s.scalars(select(WebBinding).where(WebBinding.sent_seq.is_(None)).order_by(WebBinding.filed_at)):
            items.append({"kind": "binding-request", "id": b.id, "account": f"{b.account_id:032x}",
                          "submitted": format_time(b.filed_at), "subject_category": b.subject_category,
                          "identifier": b.identifier, "name": b.name, "legal_rep": b.legal_rep,
                          "contact": b.contact})  # fmt: skip
        apps = s.scalars(
            select(WebApplication).where(WebApplication.sent_seq.is_(None)).order_by(WebApplication.filed_at)
            .limit(MAX_PER_PACKAGE)
        )  # fmt: skip
        for a in apps:
            atts = s.scalars(
                select(WebAttachment).where(WebAttachment.application_id == a.id).order_by(WebAttachment.n)
            )
            items.append({
                "kind": "application", "id": a.id, "type": a.type, "binding": a.binding_id, "table": a.table_name,
                "key": a.key, "version": a.version, "submitted": format_time(a.filed_at), "category": a.category,
                "target": a.target, "statement": a.statement, "contact": a.contact,
                "attachments": [{"name": t.name, "media_type": t.media_type, "data": base64.b64encode(t.data).decode()}
                                for t in atts],
            })  # fmt: skip
    return items


def mark_sent(node: Node, items: list[Item], seq: int) -> None:
    """Record that return package ``seq`` carried ``items``."""
    ids = {k: [i["id"] for i in items if i["kind"] == k] for k in ("binding-request", "application")}
    with web_session(node, write=True) as s:
        if s is None:
            return
        with s.begin():
            if ids["binding-request"]:
                s.execute(update(WebBinding).where(WebBinding.id.in_(ids["binding-request"])).values(sent_seq=seq))
            if ids["application"]:
                s.execute(update(WebApplication).where(WebApplication.id.in_(ids["application"])).values(sent_seq=seq))


def filed(node: Node, ids: set[str]) -> set[str]:
    """Which of ``ids`` name a binding request or an application filed on this platform (the web database)."""
    if not ids:
        return set()
    with web_session(node) as s:
        if s is None:
            return set()
        found = set(s.scalars(select(WebBinding.id).where(WebBinding.id.in_(ids))))
        found |= set(s.scalars(select(WebApplication.id).where(WebApplication.id.in_(ids))))
    return found
