"""What the ``keys`` commands do, importable without the CLI: making, rotating and revoking the node's
own identity (files in the home's keys directory plus node_meta and transfer-log entries in the
database), enrolling and distrusting peers, and finding the key passphrase.

Order of writes for the own identity: the database is checked first, then the key files are written
(each atomically), then node_meta and the log entry commit in one transaction. If that commit fails,
the files written are taken back, so a failed command leaves the home as it found it.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keys.card import IdentityCard, read_card
from keys.errors import KeySetupError, KeyStoreError, Said
from keys.identity import format_fingerprint
from keys.identity_store import IDENTITY_FILE, Identity, OwnKey, create_identity
from keys.keyfile import KdfProfile, Random, atomic_write
from keys.statements import (
    RevocationChange,
    RevocationStatement,
    Statement,
    SuccessionChange,
    SuccessionStatement,
    parse_statement,
)
from keys.times import DEFAULT_VALIDITY, format_time
from keys.trust import KeyStatus, TrustedKey
from nodekit import trust_store
from nodekit.events import record_event
from nodekit.home import NodeConfig, with_article
from nodekit.i18n import N_, Shown
from nodekit.locks import channel_lock
from nodekit.models import ChannelRow
from nodekit.runtime import Node, safe_url
from transfer.log import EventCode

log = logging.getLogger("credgap.keys")

PASSPHRASE_ENV = "CREDGAP_PASSPHRASE"  # noqa: S105 - the name of the variable, not a secret
MAX_PASSPHRASE_FILE = 4096
MIN_PASSPHRASE = 12  # characters of a new passphrase (keys init); the Argon2id file guards the rest
PassphraseSource = Callable[[], bytes]


def check_new_passphrase(passphrase: bytes) -> None:
    """Refuse a new passphrase shorter than :data:`MIN_PASSPHRASE` characters (``short-passphrase``, exit 2)."""
    if len(passphrase.decode("utf-8")) < MIN_PASSPHRASE:
        raise KeySetupError(
            N_(
                "the passphrase is shorter than {min_passphrase} characters: choose a longer one (a few words are easier to type than symbols)"
            ),
            params={"min_passphrase": MIN_PASSPHRASE},
            reason="short-passphrase",
        )


# -- passphrase ----------------------------------------------------------------------------------


def encode_passphrase(text: str) -> bytes:
    """A typed passphrase as bytes: Unicode NFC (terminals differ in how they compose), UTF-8."""
    return unicodedata.normalize("NFC", text).encode("utf-8")


def read_passphrase_file(path: Path, warn: Callable[[str], None] | None = None) -> bytes:
    """The passphrase held in ``path`` (a systemd credential, a secrets mount), without its final newline.
    ``warn`` is told when the file can be read by its group or by others."""
    try:
        with path.open("rb") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            if mode & 0o044 and warn is not None:
                warn(
                    Said(
                        N_(
                            "{path}: the passphrase file can be read by its group or by others (mode {mode:o}); "
                            "make it readable by this node's user only (chmod 600 {path})"
                        ),
                        path=path,
                        mode=mode & 0o777,
                    )
                )
            data = fh.read(MAX_PASSPHRASE_FILE + 1)
    except OSError as exc:
        raise KeySetupError(
            N_("{path}: cannot read the passphrase file: {problem}"),
            params={"path": path, "problem": exc.strerror},
            reason="no-passphrase",
        ) from None
    if len(data) > MAX_PASSPHRASE_FILE:
        raise KeySetupError(
            N_("{path}: longer than a passphrase file can be ({max_passphrase_file} bytes)"),
            params={"path": path, "max_passphrase_file": MAX_PASSPHRASE_FILE},
            reason="no-passphrase",
        )
    data = data.removesuffix(b"\n").removesuffix(b"\r")
    if not data:
        raise KeySetupError(N_("{path}: the passphrase file is empty"), params={"path": path}, reason="no-passphrase")
    try:
        return encode_passphrase(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise KeySetupError(
            N_("{path}: the passphrase is not UTF-8 text"), params={"path": path}, reason="no-passphrase"
        ) from None


def passphrase_source(
    *,
    cli_file: Path | None,
    config: NodeConfig | None,
    prompt: Callable[[], str] | None,
    environ: Mapping[str, str] | None = None,
    warn: Callable[[str], None] | None = None,
) -> PassphraseSource:
    """Where the passphrase comes from, first match wins: ``--passphrase-file``, ``CREDGAP_PASSPHRASE``,
    node.toml ``[keys] passphrase_file``, then ``prompt`` (an interactive terminal). The returned
    callable reads it only when a protected key is actually opened."""
    env = os.environ if environ is None else environ

    def source() -> bytes:
        if cli_file is not None:
            return read_passphrase_file(cli_file, warn)
        if env.get(PASSPHRASE_ENV):
            return encode_passphrase(env[PASSPHRASE_ENV])
        if config is not None and config.passphrase_file is not None:
            return read_passphrase_file(config.passphrase_file, warn)
        if prompt is not None:
            return encode_passphrase(prompt())
        raise KeySetupError(
            N_(
                "no passphrase: give --passphrase-file, set {passphrase_env} or [keys] passphrase_file, or run on a terminal"
            ),
            params={"passphrase_env": PASSPHRASE_ENV},
            reason="no-passphrase",
        )

    return source


# -- own identity --------------------------------------------------------------------------------


def load_identity(
    node: Node, passphrase: PassphraseSource | None = None, *, allow_insecure_test_kdf: bool | None = None
) -> Identity:
    """The node's identity from its keys directory (private keys are opened only when needed)."""
    identity = Identity.load(
        node.config.keys_dir, passphrase=passphrase, allow_insecure_test_kdf=allow_insecure_test_kdf
    )
    if identity.role != node.config.role:
        raise KeySetupError(
            N_("{path}: the identity of {owner} node, in the home of {role} node"),
            params={
                "path": node.config.keys_dir / IDENTITY_FILE,
                "owner": Shown(with_article(identity.role), identity.role),
                "role": Shown(with_article(node.config.role), node.config.role),
            },
            reason="corrupt-identity",
        )
    return identity


def check_can_init(node: Node) -> None:
    """Refuse ``keys init`` on a node that has an identity, or whose database records one."""
    keys_dir = node.config.keys_dir
    if Identity.exists(keys_dir):
        raise KeySetupError(
            N_("{path}: this node already has an identity; use `keys rotate` for new keys"),
            params={"path": keys_dir / IDENTITY_FILE},
            reason="identity-exists",
        )
    with node.sessions() as s:
        recorded = trust_store.own_node_id(s)
    if recorded is not None:
        raise KeySetupError(
            N_(
                "{safe_url}: records node id {recorded}, but {keys_dir} holds no identity; restore the keys directory from its backup (a new identity would be a new node to every peer)"
            ),
            params={"safe_url": safe_url(node.config.database_url), "recorded": recorded, "keys_dir": keys_dir},
            reason="identity-exists",
        )


def init_identity(
    node: Node,
    *,
    name: str,
    passphrase: bytes | None,
    now: datetime,
    validity: timedelta = DEFAULT_VALIDITY,
    profile: KdfProfile | None = None,
    random: Random = os.urandom,
    actor: str | None = None,
) -> Identity:
    """Give the node its identity: a node id (kept for life), key pairs, the encrypted key file, its card.

    ``passphrase`` None stores the private key without one (recorded as ``key.unprotected``).
    """
    keys_dir = node.config.keys_dir
    with _keys_lock(node), _undo_files(keys_dir):
        check_can_init(node)
        identity = create_identity(
            keys_dir,
            name=name,
            role=node.config.role,
            passphrase=passphrase,
            now=now,
            validity=validity,
            profile=profile,
            random=random,
        )
        info = identity.key_file_info()
        with node.transaction() as s:
            node.set_meta(s, trust_store.NODE_ID_META, identity.node_id)
            subject = {"node_id": identity.node_id, "key_id": identity.current_key_id, "role": identity.role}
            record_event(
                s,
                EventCode.KEY_GENERATED,
                at=now,
                actor=actor,
                subject={**subject, "name": name, "protection": info.profile},
            )
            if passphrase is None:
                record_event(s, EventCode.KEY_UNPROTECTED, at=now, actor=actor, subject=subject)
    log.info("keys init: node %s key %s (%s)", identity.node_id, identity.current_key_id, info.profile)
    return identity


def next_send_seqs(session: Session, identity: Identity) -> dict[str, int]:
    """For every trusted peer this node sends to, the sequence number the next package on that channel
    will carry (1 on a channel not used yet). A rotation lets the old key sign exactly up to it, so the
    next package is still signed by the old key and carries the succession statement."""
    state = trust_store.load_trust_state(session)
    peers = {k.node_id for k in state if k.status is KeyStatus.TRUSTED}
    rows = session.scalars(
        select(ChannelRow).where(ChannelRow.sender_node == identity.node_id, ChannelRow.outbound.is_(True))
    )
    last = {row.recipient_node: row.last_seq for row in rows}
    return {peer: last.get(peer, 0) + 1 for peer in sorted(peers | last.keys())}


def rotate_identity(
    node: Node,
    identity: Identity,
    *,
    now: datetime,
    validity: timedelta = DEFAULT_VALIDITY,
    last_seq: Mapping[str, int] | None = None,
    profile: KdfProfile | None = None,
    random: Random = os.urandom,
    actor: str | None = None,
) -> SuccessionStatement:
    """New key pairs for the same node id, and a succession statement signed by the old and the new key.

    ``last_seq`` (recipient node id -> last sequence the old key signs) defaults to :func:`next_send_seqs`.
    """
    with _keys_lock(node), _undo_files(node.config.keys_dir):
        identity.reload()
        old_key_id = identity.current_key_id
        if last_seq is None:
            with node.sessions() as s:
                last_seq = next_send_seqs(s, identity)
        with node.sessions() as s:
            reads = trust_store.statement_reads(s)
        statement = identity.rotate(
            now=now, last_seq=dict(last_seq), validity=validity, profile=profile, random=random, reads=reads
        )
        with node.transaction() as s:
            subject = {"direction": "issued", "node_id": identity.node_id, "old_key_id": old_key_id}
            record_event(
                s,
                EventCode.KEY_ROTATED,
                at=now,
                actor=actor,
                subject={**subject, "new_key_id": statement.new_key_id},
                counts={"recipients": len(statement.last_seq)},
            )
            if not identity.key_file_info().protected:
                record_event(
                    s,
                    EventCode.KEY_UNPROTECTED,
                    at=now,
                    actor=actor,
                    subject={"node_id": identity.node_id, "key_id": statement.new_key_id, "role": identity.role},
                )
    log.info("keys rotate: node %s key %s -> %s", identity.node_id, old_key_id, statement.new_key_id)
    return statement


def revoke_identity(
    node: Node,
    identity: Identity,
    *,
    now: datetime,
    key_id: str | None = None,
    reason: str = "unspecified",
    validity: timedelta = DEFAULT_VALIDITY,
    profile: KdfProfile | None = None,
    random: Random = os.urandom,
    actor: str | None = None,
) -> tuple[RevocationStatement, OwnKey | None]:
    """Revoke an own key (the current one by default); revoking the current key makes a replacement
    that every peer must enrol out of band (a new card, checked by fingerprint)."""
    with _keys_lock(node), _undo_files(node.config.keys_dir):
        identity.reload()
        statement, replacement = identity.revoke(
            key_id, now=now, reason=reason, validity=validity, profile=profile, random=random
        )
        with node.transaction() as s:
            record_event(
                s,
                EventCode.KEY_REVOKED,
                at=now,
                actor=actor,
                subject={
                    "direction": "issued",
                    "node_id": identity.node_id,
                    "key_id": statement.key_id,
                    "reason": reason,
                },
            )
            if replacement is not None:
                info = identity.key_file_info(replacement.key_id)
                subject = {"node_id": identity.node_id, "key_id": replacement.key_id, "role": identity.role}
                record_event(
                    s,
                    EventCode.KEY_GENERATED,
                    at=now,
                    actor=actor,
                    subject={
                        **subject,
                        "name": identity.name,
                        "protection": info.profile,
                        "replaces": statement.key_id,
                    },
                )
                if not info.protected:
                    record_event(s, EventCode.KEY_UNPROTECTED, at=now, actor=actor, subject=subject)
    log.info("keys revoke: node %s key %s (%s)", identity.node_id, statement.key_id, reason)
    return statement, replacement


@contextmanager
def _keys_lock(node: Node) -> Iterator[None]:
    """One change to the own identity at a time (the home's lock file ``locks/keys.lock``)."""
    with channel_lock(node.config.home, "keys"):
        yield


@contextmanager
def _undo_files(keys_dir: Path) -> Iterator[None]:
    """Take back what the block wrote in ``keys_dir`` if it fails (new files removed, identity.json restored)."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    before = {p.name for p in keys_dir.iterdir()}
    index = keys_dir / IDENTITY_FILE
    saved = index.read_bytes() if index.exists() else None
    try:
        yield
    except BaseException:
        for p in keys_dir.iterdir():
            if p.name not in before:
                p.unlink(missing_ok=True)
        if saved is not None:
            atomic_write(index, saved, replace=True)
        raise


# -- peers ---------------------------------------------------------------------------------------


def trust_card_file(
    node: Node, path: Path, fingerprint: str, now: datetime, *, actor: str | None = None
) -> tuple[TrustedKey, bool]:
    """Enrol the peer card at ``path`` if its self-signature verifies and ``fingerprint`` matches:
    (the key, whether it was added). A card already trusted is not an error: running the same
    enrolment twice (a script, a repeated step of the walkthrough) changes nothing and says so."""
    card: IdentityCard = read_card(path)
    try:
        with node.transaction() as s:
            before = {r.key_id for r in trust_store.trusted_rows(s) if r.status == "trusted"}
            key = trust_store.trust_card(
                s, card, fingerprint, now, own_role=node.config.role, actor=actor, idempotent=True
            )
    except KeyStoreError as exc:
        raise exc.with_source(path) from None
    added = key.key_id not in before
    if added:
        log.info("keys trust: %s key %s of %s node %s", path, key.key_id, key.role, key.node_id)
    return key, added


def read_statement_file(path: Path) -> Statement:
    try:
        with path.open("rb") as fh:
            data = fh.read(1024 * 1024)
    except OSError as exc:
        raise KeyStoreError(
            N_("{path}: cannot read: {problem}"),
            params={"path": path, "problem": exc.strerror},
            reason="bad-statement",
            exit_code=3,
        ) from None
    try:
        return parse_statement(data)
    except KeyStoreError as exc:
        raise exc.with_source(path) from None


def apply_statement_file(
    node: Node, path: Path, now: datetime, *, actor: str | None = None
) -> tuple[Statement, SuccessionChange | RevocationChange]:
    """Apply a peer's succession or revocation statement carried out of band (e.g. with a new card)."""
    statement = read_statement_file(path)
    try:
        with node.transaction() as s:
            change = trust_store.apply_statement(s, statement, now, actor=actor, strict=True)
            assert change is not None  # strict: an unknown key raises
    except KeyStoreError as exc:
        raise exc.with_source(path) from None
    log.info("keys apply-statement: %s (%s)", path, type(statement).__name__)
    return statement, change


def distrust_key(node: Node, key_id: str, now: datetime, *, actor: str | None = None) -> tuple[TrustedKey, bool]:
    with node.transaction() as s:
        key, changed = trust_store.distrust(s, key_id.strip().lower(), now, actor=actor)
    if changed:
        log.info("keys distrust: key %s of node %s", key.key_id, key.node_id)
    return key, changed


# -- reports -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyReport:
    """Everything ``keys show`` / ``keys list`` print (public data only)."""

    own: dict[str, Any] | None
    trusted: list[dict[str, Any]]


def own_report(identity: Identity, now: datetime) -> dict[str, Any]:
    current = identity.current
    info = identity.key_file_info()
    return {
        "node_id": identity.node_id,
        "name": identity.name,
        "role": identity.role,
        "key_id": current.key_id,
        "fingerprint": format_fingerprint(current.key_id),
        "created": format_time(current.created),
        "expires": format_time(current.expires),
        "expired": now >= current.expires,
        "protection": info.profile,
        "keys": [
            {
                "key_id": k.key_id,
                "fingerprint": format_fingerprint(k.key_id),
                "status": k.status.value,
                "created": format_time(k.created),
                "expires": format_time(k.expires),
                "changed": None if k.changed is None else format_time(k.changed),
            }
            for k in identity.own_keys()
        ],
    }


def trusted_report(session: Session, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "key_id": r.key_id,
            "fingerprint": format_fingerprint(r.key_id),
            "node_id": r.node_id,
            "node_name": r.node_name,
            "role": r.role,
            "status": r.status,
            "last_seq": r.last_seq,
            "replaced_by": r.replaced_by,
            "created": format_time(r.created),
            "expires": format_time(r.expires),
            "expired": now >= r.expires,
            "trusted_at": format_time(r.trusted_at),
        }
        for r in trust_store.trusted_rows(session)
    ]


def key_report(node: Node, now: datetime) -> KeyReport:
    own = own_report(load_identity(node), now) if Identity.exists(node.config.keys_dir) else None
    with node.sessions() as s:
        trusted = trusted_report(s, now)
    return KeyReport(own=own, trusted=trusted)
