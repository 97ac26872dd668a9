"""Key statements a node sends its peers: succession (rotation) and revocation, and the pure rules
that decide what a trust store does with them.

A **succession** statement names the node, the replaced key, the new public keys and their
validity, and, per recipient node id, the last sequence number the replaced key may still sign on
that channel. It is signed by both the replaced key and the new key (``key-succession`` context):
the old signature says "my owner moves to this key", the new one proves the new key's holder agrees
(so nobody can name somebody else's public key as their successor). A **revocation** statement is
signed by the revoked key itself (``key-revocation`` context) and is honoured whatever its dates.

Both are canonical JSON ``{"statement": {...}, signatures...}``. The rules take a
:class:`~keys.trust.TrustState` snapshot and return the change to make; they do no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from keys import canonical
from keys.contexts import Purpose
from keys.errors import N_, EncodingError, SignatureError, StatementError, TrustError
from keys.identity import PublicKeys, Role, SecretKeys, check_key_id
from keys.schema import fields, hex_field, int_field, node_id_field, public_field, role_field
from keys.times import format_time, parse_time, to_second
from keys.trust import KeyStatus, TrustedKey, TrustState

SUCCESSION_TYPE = "credgap-key-succession"
REVOCATION_TYPE = "credgap-key-revocation"
REVOCATION_REASONS = ("compromised", "retired", "unspecified")
MAX_STATEMENT_BYTES = 64 * 1024
MAX_RECIPIENTS = 1000
MAX_SEQ = 2**53 - 1
MAX_READS = 99


@dataclass(frozen=True)
class SuccessionStatement:
    """``old_key_id`` of ``node_id`` is replaced by ``new_public``; per recipient, the old key's last sequence."""

    node_id: str
    role: Role
    old_key_id: str
    new_public: PublicKeys
    new_created: datetime
    new_expires: datetime
    created: datetime
    last_seq: Mapping[str, int] = field(default_factory=dict)
    old_signature: bytes = b""
    new_signature: bytes = b""
    reads: int = 1  # the highest package format the node reads: version 2 of the statement says it

    @property
    def new_key_id(self) -> str:
        return self.new_public.key_id

    def document(self) -> dict[str, Any]:
        """The signed part (version 1 without an advertisement, version 2 with ``reads``)."""
        doc: dict[str, Any] = {
            "type": SUCCESSION_TYPE,
            "v": 1 if self.reads == 1 else 2,
            "node_id": self.node_id,
            "role": self.role,
            "old_key_id": self.old_key_id,
            "new_key_id": self.new_key_id,
            "new_public": {"sign": self.new_public.sign.hex(), "enc": self.new_public.enc.hex()},
            "new_created": format_time(self.new_created),
            "new_expires": format_time(self.new_expires),
            "created": format_time(self.created),
            "last_seq": dict(sorted(self.last_seq.items())),
        }
        if self.reads != 1:
            doc["reads"] = self.reads
        return doc

    def signed_bytes(self) -> bytes:
        return canonical.encode(self.document())

    def envelope(self) -> dict[str, Any]:
        """The statement with its signatures, as a JSON object (what a package's key announcement holds)."""
        return {
            "statement": self.document(),
            "old_signature": self.old_signature.hex(),
            "new_signature": self.new_signature.hex(),
        }

    def encode(self) -> bytes:
        """The statement file's bytes."""
        return canonical.encode(self.envelope()) + b"\n"


@dataclass(frozen=True)
class RevocationStatement:
    """``key_id`` of ``node_id`` must never be accepted again; signed by that key."""

    node_id: str
    role: Role
    key_id: str
    reason: str
    created: datetime
    signature: bytes = b""

    def document(self) -> dict[str, Any]:
        return {
            "type": REVOCATION_TYPE,
            "v": 1,
            "node_id": self.node_id,
            "role": self.role,
            "key_id": self.key_id,
            "reason": self.reason,
            "created": format_time(self.created),
        }

    def signed_bytes(self) -> bytes:
        return canonical.encode(self.document())

    def envelope(self) -> dict[str, Any]:
        """The statement with its signature, as a JSON object (what a package's key announcement holds)."""
        return {"statement": self.document(), "signature": self.signature.hex()}

    def encode(self) -> bytes:
        """The statement file's bytes."""
        return canonical.encode(self.envelope()) + b"\n"


Statement = SuccessionStatement | RevocationStatement


# -- making --------------------------------------------------------------------------------------


def make_succession(
    old: SecretKeys,
    new: SecretKeys,
    *,
    node_id: str,
    role: Role,
    new_created: datetime,
    new_expires: datetime,
    created: datetime,
    last_seq: Mapping[str, int],
    reads: int = 1,
) -> SuccessionStatement:
    """A succession statement signed by both ``old`` and ``new``; ``reads`` > 1 makes it a version-2
    statement advertising that package format (only for peers that read version 2, FORMAT.md §10.4)."""
    unsigned = SuccessionStatement(
        node_id=node_id,
        role=role,
        old_key_id=old.key_id,
        new_public=new.public,
        new_created=to_second(new_created),
        new_expires=to_second(new_expires),
        created=to_second(created),
        last_seq=dict(last_seq),
        reads=reads,
    )
    if not 1 <= reads <= MAX_READS:
        raise StatementError(
            N_("a statement advertises a package format from 1 to {max_reads}, not {reads}"),
            params={"max_reads": MAX_READS, "reads": reads},
        )
    _check_last_seq(unsigned.last_seq)
    data = unsigned.signed_bytes()
    return replace(
        unsigned,
        old_signature=old.sign(Purpose.SUCCESSION, data),
        new_signature=new.sign(Purpose.SUCCESSION, data),
    )


def make_revocation(
    secret: SecretKeys, *, node_id: str, role: Role, reason: str, created: datetime
) -> RevocationStatement:
    """A revocation statement for ``secret``'s own key, signed by it."""
    if reason not in REVOCATION_REASONS:
        raise StatementError(
            N_("revocation reason must be one of {reasons}, not {reason!r}"),
            params={"reasons": ", ".join(REVOCATION_REASONS), "reason": reason},
        )
    unsigned = RevocationStatement(node_id, role, secret.key_id, reason, to_second(created))
    return replace(unsigned, signature=secret.sign(Purpose.REVOCATION, unsigned.signed_bytes()))


# -- parsing -------------------------------------------------------------------------------------


def parse_statement(data: bytes) -> Statement:
    """Decode a succession or revocation statement (structure only: signatures are checked by the rules)."""
    if len(data) > MAX_STATEMENT_BYTES:
        raise StatementError(
            N_("{n_data} bytes, more than a key statement can be ({max_statement_bytes})"),
            params={"n_data": len(data), "max_statement_bytes": MAX_STATEMENT_BYTES},
        )
    body = data[:-1] if data.endswith(b"\n") else data
    try:
        envelope = canonical.decode(body)
        doc = envelope.get("statement")
        kind = doc.get("type") if isinstance(doc, dict) else None
        if kind == SUCCESSION_TYPE:
            return _parse_succession(envelope)
        if kind == REVOCATION_TYPE:
            return _parse_revocation(envelope)
        raise EncodingError(N_("not a key statement (type {kind!r:.40})"), params={"kind": kind})
    except EncodingError as exc:
        raise StatementError(N_("not a valid key statement: {problem}"), params={"problem": exc}) from None


def statement_from_object(value: object) -> Statement:
    """A statement from its decoded JSON object (a package's key announcement), checked like :func:`parse_statement`."""
    if not isinstance(value, dict):
        raise StatementError(N_("a key statement must be a JSON object"))
    try:
        data = canonical.encode(value)
    except EncodingError as exc:
        raise StatementError(N_("not a valid key statement: {problem}"), params={"problem": exc}) from None
    return parse_statement(data)


def _parse_succession(envelope: dict[str, Any]) -> SuccessionStatement:
    fields(envelope, "succession statement", {"statement", "old_signature", "new_signature"})
    version = envelope["statement"].get("v") if isinstance(envelope["statement"], dict) else None
    doc = fields(
        envelope["statement"],
        "statement",
        {
            "type",
            "v",
            "node_id",
            "role",
            "old_key_id",
            "new_key_id",
            "new_public",
            "new_created",
            "new_expires",
            "created",
            "last_seq",
        }
        | ({"reads"} if version == 2 else set()),
    )
    if doc["v"] not in (1, 2) or isinstance(doc["v"], bool):
        raise EncodingError(N_("unsupported statement version {v!r:.10}"), params={"v": doc["v"]})
    reads = doc.get("reads", 1)
    if version == 2 and (not isinstance(reads, int) or isinstance(reads, bool) or not 2 <= reads <= MAX_READS):
        raise EncodingError(N_("reads must be an integer from 2 to {max_reads}"), params={"max_reads": MAX_READS})
    raw_seq = doc["last_seq"]
    if not isinstance(raw_seq, dict):
        raise EncodingError(N_("last_seq must be an object of node id -> sequence number"))
    last_seq = {
        node_id_field(k, "last_seq node id"): int_field(v, f"last_seq[{k}]", 0, MAX_SEQ) for k, v in raw_seq.items()
    }
    _check_last_seq(last_seq)
    statement = SuccessionStatement(
        node_id=node_id_field(doc["node_id"]),
        role=role_field(doc["role"]),
        old_key_id=check_key_id(doc["old_key_id"]),
        new_public=public_field(doc["new_public"], "new_public"),
        new_created=parse_time(doc["new_created"], "new_created"),
        new_expires=parse_time(doc["new_expires"], "new_expires"),
        created=parse_time(doc["created"], "created"),
        last_seq=last_seq,
        old_signature=hex_field(envelope["old_signature"], "old_signature", 64),
        new_signature=hex_field(envelope["new_signature"], "new_signature", 64),
        reads=reads,
    )
    if doc["new_key_id"] != statement.new_key_id:
        raise EncodingError(N_("new_key_id is not the fingerprint of new_public"))
    if statement.new_key_id == statement.old_key_id:
        raise EncodingError(N_("the new key is the old key"))
    if statement.new_expires <= statement.new_created:
        raise EncodingError(N_("new_expires is not after new_created"))
    return statement


def _parse_revocation(envelope: dict[str, Any]) -> RevocationStatement:
    fields(envelope, "revocation statement", {"statement", "signature"})
    doc = fields(envelope["statement"], "statement", {"type", "v", "node_id", "role", "key_id", "reason", "created"})
    if doc["v"] != 1:
        raise EncodingError(N_("unsupported statement version {v!r:.10}"), params={"v": doc["v"]})
    if doc["reason"] not in REVOCATION_REASONS:
        raise EncodingError(N_("reason must be one of {reasons}"), params={"reasons": ", ".join(REVOCATION_REASONS)})
    return RevocationStatement(
        node_id=node_id_field(doc["node_id"]),
        role=role_field(doc["role"]),
        key_id=check_key_id(doc["key_id"]),
        reason=doc["reason"],
        created=parse_time(doc["created"], "created"),
        signature=hex_field(envelope["signature"], "signature", 64),
    )


def _check_last_seq(last_seq: Mapping[str, int]) -> None:
    if len(last_seq) > MAX_RECIPIENTS:
        raise StatementError(
            N_("a succession statement names at most {max_recipients} recipients"),
            params={"max_recipients": MAX_RECIPIENTS},
        )


# -- the rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuccessionChange:
    """What applying a succession statement does: ``old`` becomes superseded after ``last_seq``, ``new`` is trusted."""

    old: TrustedKey
    new: TrustedKey
    last_seq: int
    already_applied: bool = False


@dataclass(frozen=True)
class RevocationChange:
    """What applying a revocation statement does: ``key`` becomes revoked."""

    key: TrustedKey
    already_applied: bool = False


def check_succession(
    statement: SuccessionStatement, state: TrustState, *, recipient_node_id: str | None, now: datetime
) -> SuccessionChange:
    """Decide a succession statement against the trust state, as seen by node ``recipient_node_id``.

    Accepted only if the replaced key is the currently trusted key of the very node the statement
    names, both signatures verify, and the new key is not already known. A statement applied
    before is reported as ``already_applied`` (packages may carry it more than once).
    Raises :class:`TrustError` (``untrusted-key``, ``wrong-node``, ``revoked-key``, ``superseded-key``,
    ``expired-key``, ``duplicate-key``) or :class:`SignatureError`.
    """
    old = state.get(statement.old_key_id)
    who = f"succession statement of node {statement.node_id} for key {statement.old_key_id}"
    if old is None:
        raise TrustError(
            N_("{who}: that key is not in the trust store (signed by an untrusted key)"),
            params={"who": who},
            reason="untrusted-key",
        )
    data = statement.signed_bytes()
    try:
        old.public.verify(Purpose.SUCCESSION, data, statement.old_signature)
    except SignatureError:
        raise SignatureError(N_("{who}: the replaced key's signature does not verify"), params={"who": who}) from None
    if old.node_id != statement.node_id or old.role != statement.role:
        raise TrustError(
            N_(
                "{who}: key {key_id} belongs to {role} node {node_id}, not to {role2} node {node_id2}; a node can only rotate its own key"
            ),
            params={
                "who": who,
                "key_id": old.key_id,
                "role": old.role,
                "node_id": old.node_id,
                "role2": statement.role,
                "node_id2": statement.node_id,
            },
            reason="wrong-node",
        )
    try:
        statement.new_public.verify(Purpose.SUCCESSION, data, statement.new_signature)
    except SignatureError:
        raise SignatureError(N_("{who}: the new key's signature does not verify"), params={"who": who}) from None
    new_id = statement.new_key_id
    existing = state.get(new_id)
    if old.status is KeyStatus.SUPERSEDED and old.replaced_by == new_id and existing is not None:
        return SuccessionChange(old=old, new=existing, last_seq=old.last_seq or 0, already_applied=True)
    if old.status in (KeyStatus.REVOKED, KeyStatus.DISTRUSTED):
        raise TrustError(
            N_("{who}: key {key_id} is {status}"),
            params={"who": who, "key_id": old.key_id, "status": old.status.value},
            reason="revoked-key",
        )
    if old.status is KeyStatus.SUPERSEDED:
        raise TrustError(
            N_(
                "{who}: key {key_id} was already replaced by {replaced_by}; only the current key of a node can name its successor"
            ),
            params={"who": who, "key_id": old.key_id, "replaced_by": old.replaced_by},
            reason="superseded-key",
        )
    if not old.created <= statement.created <= old.expires:
        raise TrustError(
            N_("{who}: made at {created}, outside the key's validity {created2} to {expires}"),
            params={
                "who": who,
                "created": format_time(statement.created),
                "created2": format_time(old.created),
                "expires": format_time(old.expires),
            },
            reason="expired-key",
        )
    if existing is not None:
        if existing.status in (KeyStatus.REVOKED, KeyStatus.DISTRUSTED):
            raise TrustError(
                N_("{who}: the new key {new_id} is {status}"),
                params={"who": who, "new_id": new_id, "status": existing.status.value},
                reason="revoked-key",
            )
        raise TrustError(
            N_("{who}: the new key {new_id} is already in the trust store"),
            params={"who": who, "new_id": new_id},
            reason="duplicate-key",
        )
    if now >= statement.new_expires:
        raise TrustError(
            N_("{who}: the new key {new_id} expired at {new_expires}"),
            params={"who": who, "new_id": new_id, "new_expires": format_time(statement.new_expires)},
            reason="expired-key",
        )
    last = statement.last_seq.get(recipient_node_id, 0) if recipient_node_id else 0
    new = TrustedKey(
        key_id=new_id,
        node_id=old.node_id,
        node_name=old.node_name,
        role=old.role,
        public=statement.new_public,
        status=KeyStatus.TRUSTED,
        created=statement.new_created,
        expires=statement.new_expires,
    )
    return SuccessionChange(old=old, new=new, last_seq=last)


def check_revocation(statement: RevocationStatement, state: TrustState) -> RevocationChange:
    """Decide a revocation statement: the key must be in the trust store, bound to the node the
    statement names, and the statement signed by that key. Dates are not checked: a revocation is
    always honoured. Raises :class:`TrustError` (``untrusted-key``, ``wrong-node``) or :class:`SignatureError`."""
    key = state.get(statement.key_id)
    who = f"revocation statement of node {statement.node_id} for key {statement.key_id}"
    if key is None:
        raise TrustError(N_("{who}: that key is not in the trust store"), params={"who": who}, reason="untrusted-key")
    try:
        key.public.verify(Purpose.REVOCATION, statement.signed_bytes(), statement.signature)
    except SignatureError:
        raise SignatureError(
            N_("{who}: the signature of the revoked key does not verify"), params={"who": who}
        ) from None
    if key.node_id != statement.node_id or key.role != statement.role:
        raise TrustError(
            N_("{who}: key {key_id} belongs to {role} node {node_id}, not to {role2} node {node_id2}"),
            params={
                "who": who,
                "key_id": key.key_id,
                "role": key.role,
                "node_id": key.node_id,
                "role2": statement.role,
                "node_id2": statement.node_id,
            },
            reason="wrong-node",
        )
    return RevocationChange(key=key, already_applied=key.status is KeyStatus.REVOKED)
