"""The public node's applications outbox (public_node/outbox.py) reads what people filed, attachments of
up to several MiB each, from the web database at every return round (``public-node export`` and the
watch service). It loads them only for a round that carries them (the internal node advertised format
2), and reads with a deferred BEGIN: the platform's logins and counters never wait on it for the web
database's write lock."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from nodekit import trust_store
from public_node import outbox
from public_node.cli import send_returns
from public_node.web import accounts
from public_node.web.appmodels import WebApplication, WebAttachment
from public_node.web.config import load_web_config
from public_node.web.db import upgrade_web_database, web_engine
from tests.nodes import Clock, Home, trusted_pair
from tests.vectors.format2 import tiny_png

pytestmark = pytest.mark.db
PASSWORD = "correct horse battery staple 7"


def _filed(public: Home, clock: Clock) -> tuple[str, str]:
    """A person's complaint with a PNG, as the platform keeps it: (its id, the web database's file)."""
    url = load_web_config(public.node.config).web_database_url
    engine = web_engine(url)
    upgrade_web_database(engine)
    from sqlalchemy.orm import Session

    with Session(engine) as s, s.begin():
        account = accounts.create_account(s, "lisi", PASSWORD, role=accounts.ROLE_USER, now=clock())
        s.flush()
        ident = secrets.token_hex(16)
        s.add(WebApplication(id=ident, account_id=account.id, type="complaint", category="other",
                             statement="网站信息有误", filed_at=clock(), merged=0))  # fmt: skip
        s.flush()
        s.add(WebAttachment(application_id=ident, n=0, name="a.png", media_type="image/png", data=tiny_png()))
    engine.dispose()
    return ident, url.removeprefix("sqlite:///")


@contextmanager
def _statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def test_attachments_are_loaded_only_for_a_round_that_carries_them(tmp_path: Path, database_factory: Any) -> None:
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    ident, _ = _filed(public, clock)
    with _statements() as seen:
        send_returns(public.node, public.identity)  # the internal node has not advertised format 2
    assert [q for q in seen if "web_attachment" in q] == [], "nothing of them crosses this round"

    card = internal.identity.card(reads=2)
    with public.node.transaction() as s:
        trust_store.trust_card(s, card, card.key_id, clock(), own_role="public")
    with _statements() as seen:
        [package] = send_returns(public.node, public.identity)
    assert len([q for q in seen if "web_attachment" in q]) == 1
    url = load_web_config(public.node.config).web_database_url
    engine = web_engine(url)
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        assert s.scalar(select(WebApplication.sent_seq).where(WebApplication.id == ident)) == package.seq
    engine.dispose()


def test_the_outbox_reads_beside_a_writer_of_the_web_database(tmp_path: Path, database_factory: Any) -> None:
    """A web worker holds the web database's write lock (a login, a counter) while the outbox reads."""
    _internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    ident, path = _filed(public, clock)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE web_application SET merged = merged + 1")
        items = outbox.pending(public.node)  # (it waited for the lock until the busy timeout, then failed)
        writer.execute("COMMIT")
    finally:
        writer.close()
    assert [(i["id"], len(i["attachments"])) for i in items if i["kind"] == "application"] == [(ident, 1)]
