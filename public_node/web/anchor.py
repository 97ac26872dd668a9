"""Anchoring the web audit log in the transfer log: ``public-node export`` (and the return packages
``watch`` sends) records the web audit log's latest checkpoint as a ``web-audit.anchored`` entry
before sealing, so the checkpoint the package carries covers it and the internal node holds proof of
the web log's head (FORMAT §13.1). Runs in the node's process, never in a web worker."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from nodekit.events import record_event
from nodekit.models import TransferLogRow
from nodekit.runtime import Node
from public_node.web import audit as weblog
from public_node.web.config import load_web_config
from public_node.web.db import web_engine, web_schema_current
from transfer.errors import LogVerificationError
from transfer.log import EventCode


def anchor_web_audit(node: Node, now: datetime) -> dict[str, object] | None:
    """Record the web audit log's latest checkpoint in the transfer log (once per new checkpoint);
    return the anchored envelope, or None when there is nothing new (or no web database)."""
    config = node.config
    url = load_web_config(config).web_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    engine = web_engine(url)
    try:
        if not web_schema_current(engine):
            return None
        with Session(engine) as s:
            cp = weblog.latest_checkpoint(s, weblog.log_node_id(config.name))
    finally:
        engine.dispose()
    if cp is None:
        return None
    keys = weblog.public_keys(config.home)
    if cp.key not in keys:
        raise LogVerificationError(
            f"web audit checkpoint of size {cp.size} names key {cp.key}, which is not a web audit key of "
            f"this home ({weblog.key_dir(config.home)})",
            reason="bad-checkpoint",
        )
    cp.verify(keys[cp.key])  # a forged checkpoint row is never anchored
    envelope = cp.envelope()
    with node.transaction() as s:
        last = s.scalars(
            select(TransferLogRow.subject)
            .where(TransferLogRow.event == EventCode.WEB_AUDIT_ANCHORED.value)
            .order_by(TransferLogRow.index.desc())
            .limit(1)
        ).first()
        if last is not None and f'"root":"{cp.root}"' in last and f'"size":{cp.size},' in last:
            return None
        record_event(s, EventCode.WEB_AUDIT_ANCHORED, at=now, actor="service:export", subject={"checkpoint": envelope})
    return envelope
