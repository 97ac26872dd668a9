"""Typed models of the tables every node has: node identity metadata (and, as the series grows, the
trust store, channel state and transfer log), plus column types shared with the nodes' own models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC on every engine and returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite without type detection
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


utc_ts = Annotated[datetime, mapped_column(UTCDateTime())]
str64 = Annotated[str, mapped_column(String(64))]
str200 = Annotated[str, mapped_column(String(200))]


class ExchangeBase(DeclarativeBase):
    """Declarative base of the exchange tables both nodes hold (migration branch ``exchange``)."""


class NodeMeta(ExchangeBase):
    """Facts about the node that owns this database, checked at every start (role, name)."""

    __tablename__ = "node_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(1000))
    updated_at: Mapped[utc_ts]


class TransferLogRow(ExchangeBase):
    """One transfer-log entry as stored; see ``transfer.log.LogEntry`` for its meaning and hash."""

    __tablename__ = "transfer_log"

    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[utc_ts]
    actor: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(64), index=True)
    result: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(Text)  # canonical JSON
    counts: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev: Mapped[str] = mapped_column(String(64))
    leaf_hash: Mapped[str] = mapped_column(String(64), unique=True)


class ChannelRow(ExchangeBase):
    """One channel (sender node -> recipient node) this node sends or receives on, with its chain state."""

    __tablename__ = "channel"
    __table_args__ = (UniqueConstraint("sender_node", "recipient_node", name="uq_channel_pair"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_node: Mapped[str] = mapped_column(String(64))
    recipient_node: Mapped[str] = mapped_column(String(64))
    outbound: Mapped[bool] = mapped_column(Boolean)
    suite: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # 12 digits (FORMAT.md §3.2)
    last_digest: Mapped[str] = mapped_column(String(64))
    last_created: Mapped[int] = mapped_column(BigInteger, default=0)
    rebase_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[utc_ts]


class ChannelPackageRow(ExchangeBase):
    """A package on a channel: sealed/written (outbound) or applied/pending (inbound).

    The unique (channel, seq) constraint makes two concurrent exports or imports of the same
    position impossible to interleave: one of them fails to commit.
    """

    __tablename__ = "channel_package"
    __table_args__ = (UniqueConstraint("channel_id", "seq", name="uq_channel_package_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    created: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    counts: Mapped[str] = mapped_column(Text)  # canonical JSON: kind -> count
    file: Mapped[str] = mapped_column(String(200))
    # a received package's chain link and signer key: what a parked one commits to and who vouches for it
    # (the gap-fill rule of docs/FORMAT.md §9.1); null for rows written before they were kept
    prev: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signer: Mapped[str | None] = mapped_column(String(32), nullable=True)
    recorded_at: Mapped[utc_ts]


class TrustedKeyRow(ExchangeBase):
    """One peer key in this node's trust store, bound to the peer's node id and role (``nodekit.trust_store``)."""

    __tablename__ = "trusted_key"
    __table_args__ = (
        # at most one current key per peer node, whatever races the code may lose
        Index(
            "uq_trusted_key_current",
            "node_id",
            unique=True,
            sqlite_where=text("status = 'trusted'"),
            postgresql_where=text("status = 'trusted'"),
        ),
    )

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    node_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    sign_public: Mapped[str] = mapped_column(String(64))  # hex
    enc_public: Mapped[str] = mapped_column(String(64))  # hex
    status: Mapped[str] = mapped_column(String(16))
    created: Mapped[utc_ts]
    expires: Mapped[utc_ts]
    last_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    trusted_at: Mapped[utc_ts]
    changed_at: Mapped[utc_ts]
    source: Mapped[str] = mapped_column(Text)  # the card or succession statement that introduced it
    change: Mapped[str | None] = mapped_column(Text, nullable=True)  # the statement that last changed it


class LogCheckpointRow(ExchangeBase):
    """A signed checkpoint (tree head) of this node's own transfer log (``transfer.checkpoint``)."""

    __tablename__ = "log_checkpoint"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[utc_ts]
    sig: Mapped[str] = mapped_column(String(128))  # hex
    # the perfect-subtree roots of the first ``size`` leaves (canonical JSON list of hex), so the next
    # checkpoint extends this one without reading the whole log; never trusted by the verifier
    frontier: Mapped[str] = mapped_column(Text)


class ReceiptRow(ExchangeBase):
    """A signed receipt: received from a peer about a package this node sent (``in``), or issued by this
    node about a package it received (``out``, waiting in the outbox until ``carrier_seq`` is set)."""

    __tablename__ = "receipt"
    __table_args__ = (Index("ix_receipt_outbox", "direction", "peer_node", "carrier_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))  # in | out
    peer_node: Mapped[str] = mapped_column(String(64))  # the issuer (in) or the addressee (out)
    channel: Mapped[str] = mapped_column(String(200))  # channel of the package the receipt is about
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[utc_ts]
    document: Mapped[str] = mapped_column(Text)  # canonical JSON of the signed receipt document
    sig: Mapped[str] = mapped_column(String(128))  # hex
    carrier_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # package that carried it
    recorded_at: Mapped[utc_ts]


class PeerCheckpointRow(ExchangeBase):
    """A verified checkpoint of a peer's transfer log, from a package's ``checkpoint`` item or a receipt."""

    __tablename__ = "peer_checkpoint"
    __table_args__ = (Index("ix_peer_checkpoint_peer_size", "peer_node", "size"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_node: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[utc_ts]
    sig: Mapped[str] = mapped_column(String(128))  # hex
    source: Mapped[str] = mapped_column(String(16))  # package | receipt
    package_seq: Mapped[int] = mapped_column(BigInteger)  # the package it arrived in
    package_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[utc_ts]
