"""The trust store in the node database: the peers' keys, each bound to the peer's node id and role.

Every function takes the caller's SQLAlchemy session and neither commits nor rolls back, so a trust
change commits together with the channel state of the package that carried it (or with nothing, on
the CLI). Each change is recorded in the transfer log in the same transaction. The rules themselves
are pure and live in ``keys.statements`` / ``keys.trust``; this module loads, decides and stores.
"""

from __future__ import annotations

import hmac
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keys.card import IdentityCard
from keys.errors import KeyStoreError, TrustError
from keys.identity import PublicKeys, Role, format_fingerprint, parse_fingerprint
from keys.statements import (
    RevocationChange,
    RevocationStatement,
    Statement,
    SuccessionChange,
    SuccessionStatement,
    check_revocation,
    check_succession,
)
from keys.times import format_time
from keys.trust import KeyStatus, TrustedKey, TrustState
from nodekit.events import record_event
from nodekit.i18n import N_, Shown
from nodekit.models import NodeMeta, TrustedKeyRow
from transfer.limits import READS_FORMAT
from transfer.log import EventCode

NODE_ID_META = "node_id"  # node_meta key holding this node's own node id (written by `keys init`)
READS_META = "reads:"  # + a peer's node id: the highest package format that peer advertised (FORMAT.md §2.1)


def peer_reads(session: Session, node_id: str) -> int:
    """The highest package format ``node_id`` has advertised (1 until it advertises more)."""
    row = session.get(NodeMeta, READS_META + node_id)
    return 1 if row is None else int(row.value)


def statement_reads(session: Session) -> int:
    """What this node's next succession statement advertises: its own format when every peer it trusts has
    advertised format 2 (and so reads version-2 statements), else 1 (a version-1 statement an older peer
    still reads: an advertisement it could not read would stall its channel)."""
    peers = {r.node_id for r in _rows(session, for_update=False) if r.status == KeyStatus.TRUSTED}
    return READS_FORMAT if all(peer_reads(session, p) >= 2 for p in peers) else 1


def record_advertisement(
    session: Session, node_id: str, reads: int, now: datetime, *, via: str, actor: str | None = None, log: bool = True
) -> bool:
    """Remember that ``node_id`` reads package formats up to ``reads`` (from a card or a key statement it
    signed). Only ever raised: an advertisement never lowers what a peer said it reads, so a replayed old
    card cannot push a channel back to format 1. Returns whether it changed anything."""
    if reads <= peer_reads(session, node_id):
        return False
    row = session.get(NodeMeta, READS_META + node_id)
    if row is None:
        session.add(NodeMeta(key=READS_META + node_id, value=str(reads), updated_at=now))
    else:
        row.value, row.updated_at = str(reads), now
    if not log:  # the caller's own entry names it
        return True
    record_event(
        session,
        EventCode.KEY_TRUSTED,
        at=now,
        actor=actor,
        subject={"node_id": node_id, "via": via, "advertised_format": reads},
    )
    return True


def load_trust_state(session: Session, *, for_update: bool = False) -> TrustState:
    """A snapshot of the whole trust store (``for_update`` locks the rows on PostgreSQL)."""
    return TrustState(_to_key(row) for row in _rows(session, for_update=for_update))


def trusted_rows(session: Session) -> list[TrustedKeyRow]:
    """Every trust-store row, ordered by node and date (for listings)."""
    return list(session.scalars(select(TrustedKeyRow).order_by(TrustedKeyRow.node_id, TrustedKeyRow.created)))


def own_node_id(session: Session) -> str | None:
    """This node's own node id, as recorded by ``keys init`` (None before)."""
    row = session.get(NodeMeta, NODE_ID_META)
    return None if row is None else row.value


def trust_card(
    session: Session,
    card: IdentityCard,
    fingerprint: str,
    now: datetime,
    *,
    own_role: Role | None = None,
    actor: str | None = None,
    idempotent: bool = False,
) -> TrustedKey:
    """Add a peer's card (self-signature already verified by ``keys.card.parse_card``) if the full
    ``fingerprint`` the operator typed matches its key id.

    Refuses: a malformed fingerprint (``bad-fingerprint``), a mismatch (``fingerprint-mismatch``), a card
    of this node's own role or of this node (``wrong-role``, ``own-card``), an expired card
    (``expired-card``), a revoked or distrusted key (``revoked-key``), a key id already present
    (``duplicate-key``), a node id bound to the other role (``role-mismatch``), a second internal node on
    a public node (``wrong-sender``), and a second current key for a node (``node-already-trusted``:
    apply its revocation or distrust the old key first). With ``idempotent``, a card whose key is
    already trusted returns that key unchanged instead of ``duplicate-key``.
    """
    try:
        typed = parse_fingerprint(fingerprint)
    except KeyStoreError as exc:
        raise KeyStoreError(
            N_("bad --fingerprint: {problem}"), reason="bad-fingerprint", exit_code=2, params={"problem": exc}
        ) from None
    if not hmac.compare_digest(typed, card.key_id):
        # the card's own fingerprint is not echoed: shown here, it would be copied instead of checked
        # with the peer's operator by another path
        raise TrustError(
            N_(
                "fingerprint mismatch: the card's key is not {typed} (as typed); not trusted — "
                "confirm the fingerprint with the peer's operator by another path (phone, paper), not from this card"
            ),
            reason="fingerprint-mismatch",
            params={"typed": format_fingerprint(typed)},
        )
    me = own_node_id(session)
    if me is not None and card.node_id == me:
        raise KeyStoreError(
            N_(
                "this is this node's own identity card ({me}): a node never trusts itself; "
                "trust the card of the peer node instead"
            ),
            reason="own-card",
            exit_code=3,
            params={"me": me},
        )
    role = own_role or _own_role(session)
    if role is not None and card.role == role:
        raise KeyStoreError(
            N_("the card is of the {card_role} node {node}; this {role} node only trusts peers of the other role"),
            reason="wrong-role",
            exit_code=3,
            params={"card_role": card.role, "node": card.node_id, "role": role},
        )
    card.check_valid(now)
    rows = _rows(session, for_update=True)
    existing = next((r for r in rows if r.key_id == card.key_id), None)
    if existing is not None:
        if existing.status in (KeyStatus.REVOKED, KeyStatus.DISTRUSTED):
            raise TrustError(
                N_("key {key_id} of node {node_id} is {status}; it is never trusted again"),
                params={"key_id": card.key_id, "node_id": existing.node_id, "status": existing.status},
                reason="revoked-key",
            )
        if (
            existing.status == KeyStatus.TRUSTED
            and existing.node_id == card.node_id
            and existing.role == card.role
            and record_advertisement(session, card.node_id, card.reads, now, via="card", actor=actor)
        ):
            # the same key's card again, re-signed after an upgrade: only its advertisement is new
            return _to_key(existing)
        if idempotent and existing.status == KeyStatus.TRUSTED:
            return _to_key(existing)  # the same card again: nothing to do (see trust_card_file)
        raise KeyStoreError(
            N_("key {key_id} is already in the trust store ({status}, node {node_id})"),
            params={"key_id": card.key_id, "status": existing.status, "node_id": existing.node_id},
            reason="duplicate-key",
            exit_code=3,
        )
    same_node = [r for r in rows if r.node_id == card.node_id]
    if any(r.role != card.role for r in same_node):
        raise KeyStoreError(
            N_("node {node_id} is known as {known} node; the card says {role}"),
            params={
                "node_id": card.node_id,
                "known": Shown(_a(same_node[0].role), same_node[0].role),
                "role": card.role,
            },
            reason="role-mismatch",
            exit_code=3,
        )
    if role == "public" and card.role == "internal":
        _check_one_internal_node(rows, card)
    current = [r for r in same_node if r.status == KeyStatus.TRUSTED]
    if current:
        raise KeyStoreError(
            N_(
                "node {node} already has trusted key {key}; apply its revocation statement "
                "(keys apply-statement FILE) or distrust it (keys distrust {key}) before enrolling a new card"
            ),
            reason="node-already-trusted",
            exit_code=3,
            params={"node": card.node_id, "key": current[0].key_id},
        )
    key = TrustedKey(
        key_id=card.key_id,
        node_id=card.node_id,
        node_name=card.node_name,
        role=card.role,
        public=card.public,
        status=KeyStatus.TRUSTED,
        created=card.created,
        expires=card.expires,
    )
    _insert(session, key, now, source=card.encode().decode())
    advertised = record_advertisement(session, card.node_id, card.reads, now, via="card", actor=actor, log=False)
    record_event(
        session,
        EventCode.KEY_TRUSTED,
        at=now,
        actor=actor,
        subject={
            "key_id": key.key_id,
            "node_id": key.node_id,
            "node_name": key.node_name,
            "role": key.role,
            "via": "card",
            **({"advertised_format": card.reads} if advertised else {}),
        },
    )
    return key


def apply_succession(
    session: Session,
    statement: SuccessionStatement,
    now: datetime,
    *,
    recipient_node_id: str | None = None,
    actor: str | None = None,
) -> SuccessionChange:
    """Apply a peer's succession statement: the replaced key is kept for sequence numbers up to the one
    the statement gives this node's channel, the new key becomes the peer's current key.

    ``recipient_node_id`` defaults to this node's own node id. Re-applying the same statement changes
    nothing (``already_applied``). Raises as ``keys.statements.check_succession`` does.
    """
    me = recipient_node_id or own_node_id(session)
    change = check_succession(statement, load_trust_state(session, for_update=True), recipient_node_id=me, now=now)
    if change.already_applied:
        return change
    old = session.get(TrustedKeyRow, change.old.key_id)
    assert old is not None  # present in the snapshot just taken, under lock
    doc = statement.encode().decode()
    old.status = KeyStatus.SUPERSEDED
    old.last_seq = change.last_seq
    old.replaced_by = change.new.key_id
    old.changed_at = now
    old.change = doc
    session.flush()  # the old row stops being "trusted" before the new one takes its place
    _insert(session, change.new, now, source=doc)
    record_advertisement(session, statement.node_id, statement.reads, now, via="key-announcement", actor=actor)
    record_event(
        session,
        EventCode.KEY_ROTATED,
        at=now,
        actor=actor,
        subject={
            "direction": "received",
            "node_id": statement.node_id,
            "old_key_id": change.old.key_id,
            "new_key_id": change.new.key_id,
        },
        counts={"last_seq": change.last_seq},
    )
    return change


def apply_revocation(
    session: Session, statement: RevocationStatement, now: datetime, *, actor: str | None = None, strict: bool = True
) -> RevocationChange | None:
    """Apply a peer's revocation statement: the key is never accepted again, whatever its dates.

    Re-applying changes nothing (``already_applied``). Raises as ``keys.statements.check_revocation`` does,
    except that with ``strict=False`` a revocation of a key this node never knew is ignored (returns
    None): there is nothing to revoke, and no public key to check its signature with.
    """
    state = load_trust_state(session, for_update=True)
    if not strict and statement.key_id not in state:
        return None
    change = check_revocation(statement, state)
    if change.already_applied:
        return change
    row = session.get(TrustedKeyRow, change.key.key_id)
    assert row is not None
    previous = row.status
    row.status = KeyStatus.REVOKED
    row.changed_at = now
    row.change = statement.encode().decode()
    record_event(
        session,
        EventCode.KEY_REVOKED,
        at=now,
        actor=actor,
        subject={
            "direction": "received",
            "node_id": statement.node_id,
            "key_id": statement.key_id,
            "reason": statement.reason,
            "previous_status": previous,
        },
    )
    return change


def apply_statement(
    session: Session, statement: Statement, now: datetime, *, actor: str | None = None, strict: bool = False
) -> SuccessionChange | RevocationChange | None:
    """Apply a succession or a revocation statement (what a key announcement in a package carries).

    Packages repeat every revocation the sender ever made; by default (``strict=False``) one naming a
    key this node never knew is ignored (None). Operators applying a file get ``strict=True``.
    """
    if isinstance(statement, SuccessionStatement):
        return apply_succession(session, statement, now, actor=actor)
    return apply_revocation(session, statement, now, actor=actor, strict=strict)


def distrust(session: Session, key_id: str, now: datetime, *, actor: str | None = None) -> tuple[TrustedKey, bool]:
    """Remove a key from trust locally, for good. Returns the key and whether anything changed
    (a key already revoked or distrusted stays as it is). Unknown key id: ``unknown-key``."""
    row = session.get(TrustedKeyRow, key_id, with_for_update=True)
    if row is None:
        raise KeyStoreError(
            N_("key {key} is not in the trust store (see `keys list`)"),
            reason="unknown-key",
            exit_code=3,
            params={"key": key_id},
        )
    if row.status in (KeyStatus.REVOKED, KeyStatus.DISTRUSTED):
        return _to_key(row), False
    previous = row.status
    row.status = KeyStatus.DISTRUSTED
    row.changed_at = now
    record_event(
        session,
        EventCode.KEY_DISTRUSTED,
        at=now,
        actor=actor,
        subject={"key_id": key_id, "node_id": row.node_id, "previous_status": previous},
    )
    return _to_key(row), True


def describe(key: TrustedKey, now: datetime) -> str:
    """One line about a trusted key, for messages."""
    state = key.status.value
    if key.status is KeyStatus.SUPERSEDED:
        state += f" after seq {key.last_seq}"
    if now >= key.expires:
        state += ", expired"
    return f"{key.key_id} {key.role} node {key.node_id} ({key.node_name}) {state}, expires {format_time(key.expires)}"


def _rows(session: Session, *, for_update: bool) -> list[TrustedKeyRow]:
    query = select(TrustedKeyRow).order_by(TrustedKeyRow.key_id)
    if for_update:
        query = query.with_for_update()
    return list(session.scalars(query))


def _insert(session: Session, key: TrustedKey, now: datetime, *, source: str) -> None:
    row = TrustedKeyRow(
        key_id=key.key_id,
        node_id=key.node_id,
        node_name=key.node_name,
        role=key.role,
        sign_public=key.public.sign.hex(),
        enc_public=key.public.enc.hex(),
        status=key.status.value,
        created=key.created,
        expires=key.expires,
        last_seq=key.last_seq,
        replaced_by=key.replaced_by,
        trusted_at=now,
        changed_at=now,
        source=source,
        change=None,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # a concurrent writer added the same key id, or a second current key for the node
        raise KeyStoreError(
            N_("key {key_id} of node {node_id} conflicts with a trust-store entry written concurrently"),
            params={"key_id": key.key_id, "node_id": key.node_id},
            reason="duplicate-key",
            exit_code=3,
        ) from None


def _to_key(row: TrustedKeyRow) -> TrustedKey:
    return TrustedKey(
        key_id=row.key_id,
        node_id=row.node_id,
        node_name=row.node_name,
        role=row.role,  # type: ignore[arg-type]  # written from a checked Role
        public=PublicKeys(bytes.fromhex(row.sign_public), bytes.fromhex(row.enc_public)),
        status=KeyStatus(row.status),
        created=row.created,
        expires=row.expires,
        last_seq=row.last_seq,
        replaced_by=row.replaced_by,
    )


def _check_one_internal_node(rows: list[TrustedKeyRow], card: IdentityCard) -> None:
    """A public node publishes exactly one internal node, across that node's successive keys (docs/FORMAT.md
    §9.5): a card of another internal node is refused while a key of the first is still usable."""
    usable = (KeyStatus.TRUSTED, KeyStatus.SUPERSEDED)
    others = sorted({r.node_id for r in rows if r.role == "internal" and r.status in usable} - {card.node_id})
    if others:
        raise KeyStoreError(
            N_(
                "the card is of internal node {node_id}, and this public node already publishes internal node {others}: a public node publishes exactly one internal node (bureaus and departments feed the city's one credit database through `internal-node ingest FILE --kind KIND --source UNIT`); to replace the internal node, distrust its keys first"
            ),
            params={"node_id": card.node_id, "others": others[0]},
            reason="wrong-sender",
            exit_code=3,
        )


def _own_role(session: Session) -> Role | None:
    row = session.get(NodeMeta, "role")
    if row is None or row.value not in ("internal", "public"):
        return None
    return row.value  # type: ignore[return-value]


def _a(role: str) -> str:
    return f"an {role}" if role[:1] in "aeiou" else f"a {role}"
