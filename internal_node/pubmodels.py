"""Tables of the publication (see ``internal_node.publication``) and of each public node's export state."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from internal_node.models import Base
from nodekit.models import UTCDateTime, utc_ts


class Publication(Base):
    """A record's current outcome under the current policy, and the exact item to send for it."""

    __tablename__ = "publication"
    __table_args__ = (
        UniqueConstraint("table_name", "key", name="uq_publication_table_name_key"),
        Index("ix_publication_state_until", "state", "publish_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # publish | withdraw | hold | block
    reason: Mapped[str] = mapped_column(String(32))
    pub_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)  # also the item's version
    item: Mapped[str | None] = mapped_column(Text)  # canonical JSON of the item to seal
    row_digest: Mapped[str | None] = mapped_column(String(64))
    guard_mac: Mapped[str | None] = mapped_column(String(32))  # see publication.GuardSeal
    publish_until: Mapped[date | None] = mapped_column(Date)
    # what the current item did to the public side: new | changed | withdrawn | reversed
    change: Mapped[str | None] = mapped_column(String(16))
    withdrawn_on: Mapped[date | None] = mapped_column(Date)  # the day a published record was withdrawn


class ReviewHold(Base):
    """A record version the leak guard or a free-text detector found something in: it waits for a
    person (state ``held``), who publishes it anyway, keeps the version published before, or
    withdraws the record. ``findings`` (JSON) holds the matched text for the internal operator."""

    __tablename__ = "review_hold"
    __table_args__ = (
        UniqueConstraint("table_name", "key", "version", name="uq_review_hold_table_name"),
        Index("ix_review_hold_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int] = mapped_column(Integer)  # the record's id in its own table (kind)
    version: Mapped[int] = mapped_column(Integer)
    doc_no: Mapped[str | None] = mapped_column(String(100))
    row_digest: Mapped[str] = mapped_column(String(64))
    rules: Mapped[str] = mapped_column(String(200))
    findings: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # held | published | kept | withdrawn | superseded
    held_at: Mapped[utc_ts]
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision_reason: Mapped[str | None] = mapped_column(String(400))


class ProtectedField(Base):
    """A field corrected through an upheld objection: a department file may change it only with
    ``ingest --override-objection`` (the objection workflow writes these)."""

    __tablename__ = "protected_field"
    __table_args__ = (UniqueConstraint("table_name", "record_id", "field", name="uq_protected_field_table_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(64))
    value_digest: Mapped[str] = mapped_column(String(64))
    objection: Mapped[str] = mapped_column(String(64))
    protected_at: Mapped[utc_ts]
    protected_by: Mapped[str] = mapped_column(String(200))


class PublicationMeta(Base):
    """Where the publication stands: last projected change, policy digest, day of the last refresh, and
    the pseudonym key of opaque record keys."""

    __tablename__ = "publication_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class PeerExport(Base):
    """What each public node has been sent: the publication position its channel has reached."""

    __tablename__ = "peer_export"

    peer_node: Mapped[str] = mapped_column(String(64), primary_key=True)
    sent_pub_seq: Mapped[int] = mapped_column(BigInteger)
    policy_digest: Mapped[str] = mapped_column(String(64))
    last_seq: Mapped[int] = mapped_column(Integer)
    last_full_seq: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[utc_ts]


PUBLICATION: Table = Publication.__table__  # type: ignore[assignment]
PUBLICATION_META: Table = PublicationMeta.__table__  # type: ignore[assignment]
PEER_EXPORT: Table = PeerExport.__table__  # type: ignore[assignment]
REVIEW_HOLD: Table = ReviewHold.__table__  # type: ignore[assignment]
PROTECTED_FIELD: Table = ProtectedField.__table__  # type: ignore[assignment]
