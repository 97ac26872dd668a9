"""The exchange's types and shared state: what a node plugs in (its identity, a data applier, hooks),
what it gets back (outcomes, sent packages), and the channel state every send and receive reads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from keys import Role, SecretKeys, TrustState
from keys.errors import KeyFileError, KeySetupError, KeyStoreError, PassphraseError
from nodekit.events import record_event
from nodekit.models import ChannelPackageRow, ChannelRow
from nodekit.runtime import Node
from transfer.channel import ChannelState, Parked, gap_anchors
from transfer.errors import PackageRejected
from transfer.header import ZERO_DIGEST
from transfer.items import Item
from transfer.limits import DEFAULT_VALIDITY, Limits
from transfer.log import EventCode
from transfer.medium import Medium
from transfer.memo import MediumMemo
from transfer.opener import OpenContext, VerifiedHeader
from transfer.quarantine import Quarantine
from transfer.stores import PackageStore

log = logging.getLogger("credgap.exchange")

EXCHANGE_KINDS = frozenset({"manifest", "heartbeat", "key-announcement", "receipt", "checkpoint"})


class NodeIdentity(Protocol):
    """What the exchange needs of the node's own identity (implemented in ``keys``)."""

    @property
    def node_id(self) -> str: ...

    @property
    def role(self) -> Role: ...

    def signer_for(self, recipient_node_id: str, seq: int) -> SecretKeys: ...

    def secret_for(self, key_id: str) -> SecretKeys: ...

    def announcements_for(self, recipient_node_id: str, seq: int) -> list[dict[str, Any]]: ...


class DataApplier(Protocol):
    """A node's handling of one package's data items, inside the package's (uncommitted) transaction."""

    def begin(self, session: Session, vh: VerifiedHeader) -> None: ...

    def item(self, item: Item) -> None: ...

    def finish(self) -> dict[str, int]: ...


class ExchangeHooks(Protocol):
    """Exchange-level items handled on behalf of both nodes (trust-store changes, receipts, checkpoints),
    and the transfer log's part of sending and receiving; each call runs in the package's transaction."""

    def key_announcement(self, session: Session, vh: VerifiedHeader, statement: dict[str, Any]) -> None: ...

    def receipt(self, session: Session, vh: VerifiedHeader, item: Item) -> None: ...

    def checkpoint(self, session: Session, vh: VerifiedHeader, item: Item) -> None: ...

    def outgoing(self, session: Session, peer_node: str, seq: int) -> Iterable[Item]:
        """Exchange items for package ``seq`` to ``peer_node`` (the checkpoint, pending receipts)."""
        ...

    def sealed(self, session: Session, peer_node: str, seq: int, digest: str) -> None:
        """After the package's ``package.sealed`` entry."""
        ...

    def on_outcome(self, session: Session, outcome: Outcome, sender: str | None) -> None:
        """After the entries that record what became of a received package (``sender`` unverified when
        the header did not verify)."""
        ...


@dataclass
class Outcome:
    """What became of one package file (the CLI prints these; ``--json`` emits them)."""

    file: str
    result: str  # applied | rebased | duplicate | pending | rejected | skipped
    seq: int | None = None
    digest: str | None = None
    channel: str | None = None
    reason: str = ""
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "", {})}


@dataclass(frozen=True)
class SentPackage:
    """A sealed package and where it went: ``medium`` is None when it could not be delivered, and then
    ``reason`` (``medium-full``, ``medium-missing``, ``medium-read-only``, …) and ``message`` say why;
    it stays in the archive and the next export delivers it."""

    seq: int
    digest: str
    size: int
    channel: str
    archive: Path
    medium: Path | None
    counts: dict[str, int]
    reason: str = ""
    message: str = ""
    earlier: bool = False  # sealed by an earlier run, delivered (or not) by this one
    recovered: tuple[SentPackage, ...] = ()  # the earlier packages this send tried to deliver first

    @property
    def delivered(self) -> bool:
        return self.medium is not None


def every_package(sent: Iterable[SentPackage]) -> list[SentPackage]:
    """Each send's earlier packages, then the package it sealed: every package a run dealt with."""
    return [p for s in sent for p in (*s.recovered, s)]


def is_package_fault(exc: BaseException) -> bool:
    """Errors caused by the package's content (quarantine it) rather than by this node (retry later).
    This node's own key setup (a wrong passphrase, an unreadable key file) is never the package's fault."""
    if isinstance(exc, KeySetupError | KeyFileError | PassphraseError):
        return False
    return isinstance(exc, (PackageRejected, KeyStoreError)) or bool(getattr(exc, "package_fault", False))


class ExchangeCore:
    """What sending and receiving share: the node, its identity and trust store, its folders, and the
    channel state in its database."""

    def __init__(
        self,
        node: Node,
        identity: NodeIdentity,
        trust_loader: Callable[[Session], TrustState],
        *,
        hooks: ExchangeHooks | None = None,
        limits: Limits | None = None,
        validity: int = DEFAULT_VALIDITY,
    ) -> None:
        self.node = node
        self.identity = identity
        self.trust_loader = trust_loader
        self.hooks = hooks
        self.limits = limits or Limits()
        self.validity = validity
        home = node.config.home
        self.medium = Medium(node.config.medium)
        self.archive = PackageStore(home / "archive")
        self.pending = PackageStore(home / "pending")
        self.quarantine = Quarantine(home / "quarantine", retention=node.config.quarantine_retention)
        self.memo = MediumMemo(home / "medium-memo.json")
        self.write_settle = node.config.write_settle
        self.staging = home / "staging"
        self._reported_odd: set[tuple[str, str, str]] = set()
        self._stop: Callable[[], bool] = lambda: False

    # ------------------------------------------------------------------ state

    def now(self) -> int:
        return int(self.node.clock().timestamp())

    def _channel_row(self, s: Session, sender: str, recipient: str, *, outbound: bool) -> ChannelRow:
        stmt = select(ChannelRow).where(ChannelRow.sender_node == sender, ChannelRow.recipient_node == recipient)
        if s.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = s.scalars(stmt).first()
        if row is None:
            row = ChannelRow(
                sender_node=sender,
                recipient_node=recipient,
                outbound=outbound,
                suite=None,
                last_seq=0,
                last_digest=ZERO_DIGEST,
                last_created=0,
                rebase_seq=0,
                updated_at=self.node.clock(),
            )
            s.add(row)
            s.flush()
        return row

    def channel_state(self, s: Session, row: ChannelRow) -> ChannelState:
        return load_channel_state(s, row)

    def _store_state(self, s: Session, row: ChannelRow, state: ChannelState) -> None:
        row.suite = state.suite
        row.last_seq = state.last_seq
        row.last_digest = state.last_digest
        row.last_created = state.last_created
        row.rebase_seq = state.rebase_seq
        row.updated_at = self.node.clock()

    def _context(self, s: Session, sender: str | None = None) -> OpenContext:
        """What the opener checks a package against (see :func:`reader_context`)."""
        return reader_context(
            s, own_node=self.identity.node_id, own_role=self.identity.role, trust=self.trust_loader(s),
            own_keys=self.identity.secret_for, now=self.now(), limits=self.limits, sender=sender,
        )  # fmt: skip

    def _event(self, s: Session, event: EventCode, **kw: Any) -> None:
        record_event(s, event, at=self.node.clock(), **kw)

    # ---------------------------------------------------------------- sending

    def _staging(self) -> Path:
        self.staging.mkdir(mode=0o700, exist_ok=True)
        return self.staging

    def _outcome(self, s: Session, outcome: Outcome, sender: str | None) -> None:
        if self.hooks is not None:
            self.hooks.on_outcome(s, outcome, sender)


def reader_context(
    s: Session,
    *,
    own_node: str,
    own_role: Role,
    trust: TrustState,
    own_keys: Callable[[str], SecretKeys],
    now: int,
    limits: Limits,
    sender: str | None,
) -> OpenContext:
    """The opener's context from the node's stored state: for the channel from ``sender``, the digests its
    parked packages vouch for (an expired signer's package may fill only those gaps, FORMAT.md §9.1); on a
    public node, the one internal node it publishes (§9.5)."""
    anchors: frozenset[str] = frozenset()
    if sender is not None:
        peer_role: Role = "public" if own_role == "internal" else "internal"
        parked = _parked(s, sender, own_node)
        anchors = gap_anchors(parked, trust, role=peer_role, now=now, grace=limits.key_grace)
    return OpenContext(
        own_node=own_node, own_role=own_role, trust=trust, own_keys=own_keys, now=now, limits=limits,
        gap_anchors=anchors, publisher=_publisher(s, own_node) if own_role == "public" else None,
    )  # fmt: skip


def _publisher(s: Session, me: str) -> str | None:
    """The internal node a public node publishes: the one sender whose channel has applied packages (None
    when none has, or, in a store from before the rule, more than one)."""
    senders = s.scalars(
        select(ChannelRow.sender_node).where(
            ChannelRow.recipient_node == me, ChannelRow.outbound.is_(False), ChannelRow.last_seq > 0
        )
    ).all()
    return senders[0] if len(senders) == 1 else None


def _parked(s: Session, sender: str, recipient: str) -> list[Parked]:
    rows = s.execute(
        select(ChannelPackageRow.seq, ChannelPackageRow.digest, ChannelPackageRow.prev, ChannelPackageRow.signer)
        .join(ChannelRow, ChannelRow.id == ChannelPackageRow.channel_id)
        .where(
            ChannelRow.sender_node == sender,
            ChannelRow.recipient_node == recipient,
            ChannelPackageRow.status == "pending",
        )
    ).all()
    return [Parked(seq, digest, prev, signer) for seq, digest, prev, signer in rows]


def load_channel_state(s: Session, row: ChannelRow) -> ChannelState:
    """The pure channel state of a stored channel: its chain position and every package's digest."""
    pkgs = s.execute(
        select(ChannelPackageRow.seq, ChannelPackageRow.digest, ChannelPackageRow.status).where(
            ChannelPackageRow.channel_id == row.id
        )
    ).all()
    return ChannelState(
        sender_node=row.sender_node,
        recipient_node=row.recipient_node,
        suite=row.suite,
        last_seq=row.last_seq,
        last_digest=row.last_digest,
        last_created=row.last_created,
        rebase_seq=row.rebase_seq,
        applied={seq: d for seq, d, st in pkgs if st == "applied"},
        pending={seq: d for seq, d, st in pkgs if st == "pending"},
    )
