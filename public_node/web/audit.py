"""The web audit log: logins, failures, throttles and every administrative action of the platform,
hash-chained like the transfer log (FORMAT §13.1–§13.2, its own chain in the web database) and
checkpointed under a separate **web audit key**: the node's package-signing key never enters a web
process (docs/adr/0012-accounts-and-authentication.md).

The key lives in ``<home>/web-audit/<key id>.key`` (an unprotected key file, mode 0600, the node's
user's; a platform under its own user gets copies through systemd's ``LoadCredential=``: ``key_dir``);
every key that ever signed stays there so old checkpoints still verify, and the newest one signs. ``public-node export`` anchors the latest checkpoint in the transfer log.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from keys import PublicKeys, SecretKeys, canonical
from keys.keyfile import open_key_file, read_key_file_info, write_key_file
from keys.strict import NODE_ID
from nodekit.errors import ExitCode, NodeError
from nodekit.events import row_to_entry
from public_node.web.authmodels import WebAuditCheckpoint, WebAuditEntry
from transfer import merkle
from transfer.checkpoint import Checkpoint, sign_checkpoint
from transfer.log import GENESIS, EventCode, LogEntry, parse_ts
from transfer.logverify import StoredEntry, VerifiedLog, verify_log

KEY_DIR = "web-audit"
KEYS_ENV = "CREDGAP_WEB_AUDIT_KEYS"
KEY_LIFETIME = timedelta(days=3650)
_PG_LOCK_KEY = 0x77656261  # "weba": the web audit log's append lock (its own database, its own chain)
WEB_EVENTS = frozenset({EventCode.LOGIN_SUCCESS, EventCode.LOGIN_FAILURE, EventCode.ADMIN_ACTION})


class WebAuditError(NodeError):
    """The web audit key is missing or unreadable, or the web audit log cannot be written."""

    exit_code = ExitCode.USAGE
    reason = "web-audit"


def log_node_id(node_name: str) -> str:
    """The ``node`` a web audit checkpoint names: the node's id with ``-web``, so that a web checkpoint
    can never stand for one of the node's transfer log. A name that is not a node id (a platform named in
    Chinese, or with capitals or spaces) is named by its SHA-256 instead, so the key file stays valid."""
    candidate = f"{node_name[:59]}-web"
    if NODE_ID.fullmatch(candidate):
        return candidate
    return f"n{hashlib.sha256(node_name.encode('utf-8')).hexdigest()[:24]}-web"


@dataclass(frozen=True)
class AuditSigner:
    """What a web process signs checkpoints with: the current web audit key and the log's node id."""

    node: str
    secret: SecretKeys


def key_dir(home: Path) -> Path:
    """Where the web audit keys are: ``<home>/web-audit``, or the folder ``CREDGAP_WEB_AUDIT_KEYS``
    names. The platform under its own user reads the node's home through a group but not this folder:
    its unit hands it the keys with ``LoadCredential=`` and names the credentials folder here."""
    named = os.environ.get(KEYS_ENV)
    return Path(named) if named else home / KEY_DIR


def generate_key(home: Path, node_name: str, now: datetime) -> str:
    """Make a new web audit key (the first, or a rotation: older keys stay to verify old checkpoints);
    return its key id."""
    directory = key_dir(home)
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        secret = SecretKeys.generate()
        write_key_file(
            directory / f"{secret.key_id}.key", secret, node_id=log_node_id(node_name), role="public",
            created=now, expires=now + KEY_LIFETIME, passphrase=None,
        )  # fmt: skip
    except PermissionError as exc:
        raise WebAuditError(
            f"{directory}: cannot write a web audit key ({exc.strerror}); run `public-node admin audit-key rotate`"
            " as the node's user"
        ) from None
    return secret.key_id


def ensure_key(home: Path, node_name: str, now: datetime) -> None:
    """Make the first web audit key if the home has none (``serve`` does it before workers start)."""
    if not _key_files(home):
        generate_key(home, node_name, now)


def _key_files(home: Path) -> list[Path]:
    directory = key_dir(home)
    return sorted(directory.glob("*.key")) if directory.is_dir() else []


def public_keys(home: Path) -> dict[str, PublicKeys]:
    """Every web audit key of this home, by key id (what a verifier trusts)."""
    out: dict[str, PublicKeys] = {}
    for path in _key_files(home):
        info = read_key_file_info(path)
        out[info.key_id] = info.public
    return out


def load_signer(home: Path, node_name: str) -> AuditSigner:
    """The newest web audit key of ``home``; :class:`WebAuditError` when there is none."""
    infos = [(read_key_file_info(p), p) for p in _key_files(home)]
    if not infos:
        raise WebAuditError(f"{key_dir(home)}: no web audit key; create one with `public-node admin audit-key rotate`")
    _info, path = max(infos, key=lambda ip: (ip[0].created, ip[0].key_id))

    def no_passphrase() -> bytes:
        raise WebAuditError(f"{path}: the web audit key must be stored without a passphrase")

    _, secret = open_key_file(path, no_passphrase)
    return AuditSigner(node=log_node_id(node_name), secret=secret)


def record(
    session: Session,
    signer: AuditSigner,
    event: EventCode,
    *,
    at: datetime,
    actor: str,
    result: str = "ok",
    reason: str = "",
    subject: Mapping[str, Any] | None = None,
) -> LogEntry:
    """Append one entry to the web audit log in ``session``'s transaction and sign a checkpoint over it.

    Only the web's events (``login.*``, ``admin.action``) go here; subjects hold ids, addresses and
    action names, never passwords, codes or tokens."""
    if event not in WEB_EVENTS:
        raise ValueError(f"{event} is not a web audit event")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    last = session.execute(
        select(WebAuditEntry.index, WebAuditEntry.leaf_hash).order_by(WebAuditEntry.index.desc()).limit(1)
    ).first()
    entry = LogEntry(
        index=0 if last is None else last[0] + 1,
        at=at,
        actor=actor[:200],
        event=event,
        result=result,
        reason=reason,
        subject=dict(subject or {}),
        prev=GENESIS if last is None else last[1],
    )
    doc = entry.document()
    session.add(
        WebAuditEntry(
            index=entry.index, at=parse_ts(doc["at"]), actor=entry.actor, event=entry.event.value,
            result=entry.result, reason=entry.reason, subject=canonical.encode(doc["subject"]).decode(),
            counts=canonical.encode(doc["counts"]).decode(), prev=entry.prev, leaf_hash=entry.leaf_hash,
        )
    )  # fmt: skip
    session.flush()
    _checkpoint(session, signer, at)
    return entry


def _checkpoint(session: Session, signer: AuditSigner, at: datetime) -> Checkpoint:
    last = session.scalars(select(WebAuditCheckpoint).order_by(WebAuditCheckpoint.size.desc()).limit(1)).first()
    frontier = merkle.Frontier()
    if last is not None:
        try:
            frontier = merkle.Frontier.from_hex(last.size, orjson.loads(last.frontier))
        except (ValueError, TypeError, orjson.JSONDecodeError):
            frontier = merkle.Frontier()
        if frontier.root().hex() != last.root:
            frontier = merkle.Frontier()
    for h in session.scalars(
        select(WebAuditEntry.leaf_hash).where(WebAuditEntry.index >= frontier.size).order_by(WebAuditEntry.index)
    ):
        frontier.append(bytes.fromhex(h))
    cp = sign_checkpoint(signer.secret, node=signer.node, size=frontier.size, root=frontier.root().hex(), at=at)
    session.merge(
        WebAuditCheckpoint(
            size=cp.size, root=cp.root, key_id=cp.key, at=cp.at, sig=cp.sig.hex(),
            frontier=orjson.dumps(frontier.to_hex()).decode(),
        )
    )  # fmt: skip
    session.flush()
    return cp


def _row_checkpoint(row: WebAuditCheckpoint, node: str) -> Checkpoint:
    return Checkpoint(node=node, key=row.key_id, size=row.size, root=row.root, at=row.at, sig=bytes.fromhex(row.sig))


def latest_checkpoint(session: Session, node: str) -> Checkpoint | None:
    """The newest checkpoint of the web audit log (what ``public-node export`` anchors)."""
    row = session.scalars(select(WebAuditCheckpoint).order_by(WebAuditCheckpoint.size.desc()).limit(1)).first()
    return None if row is None else _row_checkpoint(row, node)


def entries(session: Session) -> Iterator[tuple[StoredEntry, str | None]]:
    """Every entry in index order with its recorded leaf hash, streamed."""
    stmt = select(WebAuditEntry).order_by(WebAuditEntry.index).execution_options(yield_per=2000)
    for row in session.scalars(stmt):
        yield row_to_entry(cast(Any, row)), row.leaf_hash


def verify(engine: Engine, home: Path, node_name: str) -> VerifiedLog:
    """Verify the web audit log of ``home`` as FORMAT §13.5 verifies a transfer log (chain, every
    checkpoint's tree hash and its signature by a web audit key of this home); raise
    :class:`~transfer.errors.LogVerificationError` naming the first bad entry."""
    node = log_node_id(node_name)
    with Session(engine) as s:
        cps = [
            _row_checkpoint(r, node) for r in s.scalars(select(WebAuditCheckpoint).order_by(WebAuditCheckpoint.size))
        ]
        return verify_log(entries(s), cps, public_keys(home), node=node)
