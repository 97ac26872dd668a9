"""Fixtures for the package format: two fixed identities, their trust stores, a fixed clock."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from keys import KeyStatus, SecretKeys, TrustedKey, TrustState
from keys.errors import KeyStoreError
from tests.forge import checkpoint_item
from transfer.channel import ChannelState
from transfer.header import ZERO_DIGEST
from transfer.items import Item, PreparedBatch, PreparedItem, Sealable
from transfer.opener import OpenContext, PackageOpener
from transfer.seal import Recipient, SealedPackage, seal

NOW = int(datetime(2026, 11, 26, 8, 0, tzinfo=UTC).timestamp())
CREATED = datetime(2026, 1, 1, tzinfo=UTC)
EXPIRES = datetime(2028, 1, 1, tzinfo=UTC)


def fixed_keys(n: int) -> SecretKeys:
    return SecretKeys(bytes([n]) * 32, bytes([n + 100]) * 32)


def trusted(
    node_id: str, role: str, keys: SecretKeys, status: KeyStatus = KeyStatus.TRUSTED, last_seq: int | None = None
) -> TrustedKey:
    return TrustedKey(
        key_id=keys.key_id,
        node_id=node_id,
        node_name=node_id,
        role=role,
        public=keys.public,  # type: ignore[arg-type]
        status=status,
        created=CREATED,
        expires=EXPIRES,
        last_seq=last_seq,
    )


@dataclass
class Pair:
    """An internal node ``int-a`` and a public node ``pub-b``, each trusting the other."""

    internal: SecretKeys = field(default_factory=lambda: fixed_keys(1))
    public: SecretKeys = field(default_factory=lambda: fixed_keys(2))
    internal_id: str = "int-a"
    public_id: str = "pub-b"

    def checkpoint(self, *, from_public: bool = False) -> Item:
        """The checkpoint :meth:`seal` adds for the sender (the same bytes every time)."""
        if from_public:
            return checkpoint_item(self.public, self.public_id, NOW)
        return checkpoint_item(self.internal, self.internal_id, NOW)

    def seal(
        self,
        items: Iterable[Sealable],
        *,
        seq: int = 1,
        prev: str = ZERO_DIGEST,
        created: int = NOW - 60,
        package_type: str = "delta",
        validity: int = 7 * 86400,
        from_public: bool = False,
        rng: Callable[[int], bytes] | None = None,
        checkpoint: bool = True,
    ) -> tuple[bytes, SealedPackage]:
        """Seal ``items`` from one node of the pair to the other. Every package carries exactly one
        checkpoint (FORMAT.md §13.4): unless ``checkpoint`` is false, the sender's is added after the
        manifest and key announcements, and :func:`open_all` leaves it out of what it returns."""
        out, spool = io.BytesIO(), io.BytesIO()
        if checkpoint:
            items = _with(items, self.checkpoint(from_public=from_public))
        if from_public:
            sender, role, signer, rcpt_id, rcpt = self.public_id, "public", self.public, self.internal_id, self.internal
        else:
            sender, role, signer, rcpt_id, rcpt = (
                self.internal_id,
                "internal",
                self.internal,
                self.public_id,
                self.public,
            )
        kwargs = {} if rng is None else {"rng": rng}
        sealed = seal(
            items,
            sender_node=sender,
            sender_role=role,
            signer=signer,
            recipient=Recipient(rcpt_id, rcpt.key_id, rcpt.public.enc),
            seq=seq,
            prev=prev,
            created=created,
            out=out,
            spool=spool,
            package_type=package_type,
            validity=validity,
            **kwargs,
        )
        return out.getvalue(), sealed

    def public_ctx(self, now: int = NOW, trust: TrustState | None = None) -> OpenContext:
        keys = {self.public.key_id: self.public}
        return OpenContext(
            own_node=self.public_id,
            own_role="public",
            trust=trust or TrustState([trusted(self.internal_id, "internal", self.internal)]),
            own_keys=lambda k: _lookup(keys, k),
            now=now,
        )

    def internal_ctx(self, now: int = NOW) -> OpenContext:
        keys = {self.internal.key_id: self.internal}
        return OpenContext(
            own_node=self.internal_id,
            own_role="internal",
            trust=TrustState([trusted(self.public_id, "public", self.public)]),
            own_keys=lambda k: _lookup(keys, k),
            now=now,
        )

    def channel(self, **kw: object) -> ChannelState:
        return ChannelState(sender_node=self.internal_id, recipient_node=self.public_id, **kw)  # type: ignore[arg-type]


def _lookup(keys: dict[str, SecretKeys], key_id: str) -> SecretKeys:
    try:
        return keys[key_id]
    except KeyError:
        raise KeyStoreError(f"no key {key_id}", reason="unknown-recipient-key") from None


def _kind(item: Sealable) -> str:
    return item.kind if isinstance(item, (PreparedItem, PreparedBatch)) else str(item.get("kind"))


def _with(items: Iterable[Sealable], checkpoint: Item) -> Iterator[Sealable]:
    """``items`` with ``checkpoint`` where FORMAT.md §13.4 puts it: after the manifest and key announcements."""
    placed = False
    for item in items:
        if not placed and _kind(item) not in ("manifest", "key-announcement"):
            yield checkpoint
            placed = True
        yield item
    if not placed:
        yield checkpoint


_ADDED = (Pair().checkpoint(), Pair().checkpoint(from_public=True))


def open_all(data: bytes, ctx: OpenContext, piece: int = 100_000) -> list[Item]:
    """Every item of the package, except the checkpoint :meth:`Pair.seal` added."""
    opener = PackageOpener((data[i : i + piece] for i in range(0, len(data), piece)), ctx, file_size=len(data))
    opener.header()
    return [item for item in opener.items() if item not in _ADDED]


def manifest() -> Item:
    return {"kind": "manifest", "policy": "ab" * 32, "content": None, "note": ""}


def record(i: int, name: str = "昆明示例科技有限公司") -> Item:
    return {
        "kind": "record",
        "op": "upsert",
        "table": "penalty",
        "key": f"{i:032x}",
        "version": 1,
        "row": {
            "subject_key": f"{i + 7:032x}",
            "subject_name": name,
            "subject_category": "legal_person",
            "uscc": "91350100M000100Y43",
            "doc_no": f"昆市监罚〔2026〕{i}号",
            "publish_until": "2027-06-30",
            "source_unit": "昆明市市场监督管理局",
            "fine_amount": "1.5",
        },
    }


@pytest.fixture
def pair() -> Pair:
    return Pair()
