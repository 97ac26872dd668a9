"""Tables of the applications the public files through a public node (docs/OPERATIONS.md, "The credit
office's workflow"): binding requests, applications with their attachments, and the decisions
waiting for the next export to that public node."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from internal_node.models import Base
from nodekit.models import UTCDateTime, utc_ts


class BindingRequest(Base):
    """An account's claim to act for a subject, with the full identifiers the claimant gave."""

    __tablename__ = "binding_request"
    __table_args__ = (Index("ix_binding_request_state", "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    peer_node: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(32))
    subject_category: Mapped[str] = mapped_column(String(16))
    identifier: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(400))
    legal_rep: Mapped[str | None] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(64))
    submitted: Mapped[utc_ts]
    received_at: Mapped[utc_ts]
    due: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))  # received | assigned | decided
    assignee: Mapped[str | None] = mapped_column(String(200))
    decision: Mapped[str | None] = mapped_column(String(16))  # approved | refused
    subject_key: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    sent_seq: Mapped[int | None] = mapped_column(Integer)  # the package that carried the decision
    acknowledged_due: Mapped[date | None] = mapped_column(Date)  # the due date last sent (application-status)


class Application(Base):
    """An objection, repair application or complaint, its deadline and its decision."""

    __tablename__ = "application"
    __table_args__ = (Index("ix_application_state", "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    peer_node: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))  # objection | repair | complaint
    binding_id: Mapped[str | None] = mapped_column(String(32))
    table_name: Mapped[str | None] = mapped_column(String(16))
    key: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(400))
    statement: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(64))
    submitted: Mapped[utc_ts]
    received_at: Mapped[utc_ts]
    due: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16))  # received | assigned | decided
    assignee: Mapped[str | None] = mapped_column(String(200))
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    sent_seq: Mapped[int | None] = mapped_column(Integer)
    acknowledged_due: Mapped[date | None] = mapped_column(Date)


class ApplicationAttachment(Base):
    """A disarmed attachment as it arrived (checked again by ``transfer.appitems`` on arrival)."""

    __tablename__ = "application_attachment"

    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


BINDING_REQUEST: Table = BindingRequest.__table__  # type: ignore[assignment]
APPLICATION: Table = Application.__table__  # type: ignore[assignment]
