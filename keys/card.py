"""Identity cards: the small self-signed document an operator carries across the gap to enrol a node.

A card is the canonical JSON ``{"card": {...}, "signature": hex}`` and a newline. The signed part
names the node (id, name, role), its public keys and their key id, and the validity; the
signature is the card key's own, under the ``identity-card`` context. A version-2 card also says
the highest package format its node reads (``reads``, FORMAT.md §2.1); a node that reads only
format 1 writes, and an older node reads, the version-1 card, which has no such member. A valid self-signature only
proves the card is whole and that its author holds the key: *whose* key it is comes from the
operator comparing the fingerprint out of band (``keys trust CARD --fingerprint FP``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from keys import canonical
from keys.contexts import Purpose
from keys.errors import N_, CardError, EncodingError, KeyStoreError, SignatureError
from keys.identity import PublicKeys, Role, SecretKeys, check_key_id
from keys.schema import fields, hex_field, node_id_field, public_field, role_field, text_field
from keys.times import format_time, parse_time, to_second

CARD_TYPE = "credgap-identity-card"
MAX_CARD_BYTES = 8 * 1024
_CARD_FIELDS = {"type", "v", "node_id", "node_name", "role", "key_id", "public", "created", "expires"}
_CARD_FIELDS_V2 = _CARD_FIELDS | {"reads"}
MAX_READS = 99  # a package format number an advertisement may name


@dataclass(frozen=True)
class IdentityCard:
    """A node's public identity as signed by its own key."""

    node_id: str
    node_name: str
    role: Role
    public: PublicKeys
    created: datetime
    expires: datetime
    signature: bytes
    reads: int = 1  # the highest package format the node reads (its advertisement)

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def document(self) -> dict[str, Any]:
        """The signed part (version 1 when the node reads format 1 only, else version 2 with ``reads``)."""
        doc: dict[str, Any] = {
            "type": CARD_TYPE,
            "v": 1 if self.reads == 1 else 2,
            "node_id": self.node_id,
            "node_name": self.node_name,
            "role": self.role,
            "key_id": self.key_id,
            "public": {"sign": self.public.sign.hex(), "enc": self.public.enc.hex()},
            "created": format_time(self.created),
            "expires": format_time(self.expires),
        }
        if self.reads != 1:
            doc["reads"] = self.reads
        return doc

    def encode(self) -> bytes:
        """The card file's bytes."""
        return canonical.encode({"card": self.document(), "signature": self.signature.hex()}) + b"\n"

    def check_valid(self, now: datetime) -> None:
        """Raise :class:`CardError` (``expired-card``) unless ``now`` is before the card's expiry."""
        if now >= self.expires:
            raise CardError(
                N_("card of node {node} (key {key}) expired at {at}"),
                reason="expired-card",
                params={"node": self.node_id, "key": self.key_id, "at": format_time(self.expires)},
            )


def make_card(
    secret: SecretKeys,
    *,
    node_id: str,
    node_name: str,
    role: Role,
    created: datetime,
    expires: datetime,
    reads: int = 1,
) -> IdentityCard:
    """Sign a card for ``secret``'s public keys, advertising package format ``reads`` (1: a version-1 card)."""
    if not 1 <= reads <= MAX_READS:
        raise CardError(
            N_("a card advertises a package format from 1 to {max_reads}, not {reads}"),
            params={"max_reads": MAX_READS, "reads": reads},
        )
    unsigned = IdentityCard(node_id, node_name, role, secret.public, to_second(created), to_second(expires), b"", reads)
    signature = secret.sign(Purpose.IDENTITY_CARD, canonical.encode(unsigned.document()))
    return replace(unsigned, signature=signature)


def parse_card(data: bytes) -> IdentityCard:
    """Decode a card and verify its self-signature.

    Raises :class:`CardError` (malformed) or :class:`SignatureError` (``bad-signature``).
    """
    if len(data) > MAX_CARD_BYTES:
        raise CardError(
            N_("{n_data} bytes, more than an identity card can be ({max_card_bytes})"),
            params={"n_data": len(data), "max_card_bytes": MAX_CARD_BYTES},
        )
    body = data[:-1] if data.endswith(b"\n") else data
    try:
        envelope = fields(canonical.decode(body), "identity card", {"card", "signature"})
        version = envelope["card"].get("v") if isinstance(envelope["card"], dict) else None
        doc = fields(envelope["card"], "card", _CARD_FIELDS_V2 if version == 2 else _CARD_FIELDS)
        if doc["type"] != CARD_TYPE or doc["v"] not in (1, 2) or isinstance(doc["v"], bool):
            raise EncodingError(
                N_("not an identity card (type {type!r:.40}, v {v!r:.10})"), params={"type": doc["type"], "v": doc["v"]}
            )
        reads = doc.get("reads", 1)
        if version == 2 and (not isinstance(reads, int) or isinstance(reads, bool) or not 2 <= reads <= MAX_READS):
            # a v2 card exists to advertise more than format 1: reads 1 is the v1 card, never a second encoding
            raise EncodingError(N_("reads must be an integer from 2 to {max_reads}"), params={"max_reads": MAX_READS})
        public = public_field(doc["public"])
        card = IdentityCard(
            node_id=node_id_field(doc["node_id"]),
            node_name=text_field(doc["node_name"], "node_name"),
            role=role_field(doc["role"]),
            public=public,
            created=parse_time(doc["created"], "created"),
            expires=parse_time(doc["expires"], "expires"),
            signature=hex_field(envelope["signature"], "signature", 64),
            reads=reads,
        )
        check_key_id(doc["key_id"])
    except EncodingError as exc:
        raise CardError(N_("not a valid identity card: {problem}"), params={"problem": exc}) from None
    if card.key_id != doc["key_id"]:
        raise CardError(
            N_("the card's key_id {key_id} is not the fingerprint of its public keys"), params={"key_id": doc["key_id"]}
        )
    if card.expires <= card.created:
        raise CardError(N_("the card expires before it was created"))
    try:
        card.public.verify(Purpose.IDENTITY_CARD, canonical.encode(doc), card.signature)
    except SignatureError:
        raise SignatureError(
            N_("the self-signature of the card of node {node_id} does not verify (the card was altered or forged)"),
            params={"node_id": card.node_id},
        ) from None
    return card


def read_card(path: Path) -> IdentityCard:
    """Read and verify the card at ``path``; every error names the file."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_CARD_BYTES + 1)
    except OSError as exc:
        raise CardError(
            N_("cannot read: {problem}"), reason="unreadable-card", params={"problem": exc.strerror}, where=f"{path}: "
        ) from None
    try:
        return parse_card(data)
    except KeyStoreError as exc:
        raise exc.with_source(path) from None
