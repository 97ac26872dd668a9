"""The web database's tables of applications (migration w0003): what people filed on the platform —
binding requests and applications with their disarmed attachments — waiting in this outbox until
``public-node export`` carries them to the internal node (FORMAT.md §10.6). The credit office's
decisions come back into the published database (``application_decision``), never here."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from nodekit.models import UTCDateTime
from public_node.web.models import WebBase


class WebBinding(WebBase):
    """A binding request: the account claims to act for the subject these identifiers name."""

    __tablename__ = "web_binding"
    __table_args__ = (Index("ix_web_binding_account_id", "account_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    subject_category: Mapped[str] = mapped_column(String(16))
    identifier: Mapped[str] = mapped_column(String(18))  # personal data: sent, then kept only as the filer's own
    name: Mapped[str] = mapped_column(String(400))
    legal_rep: Mapped[str | None] = mapped_column(String(200), nullable=True)
    contact: Mapped[str] = mapped_column(String(64))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the return package that carried it


class WebApplication(WebBase):
    """An objection, repair application or complaint as filed (duplicates merged into it)."""

    __tablename__ = "web_application"
    __table_args__ = (
        Index("ix_web_application_account_id", "account_id"),
        Index("ix_web_application_record", "table_name", "key"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))
    binding_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    table_name: Mapped[str | None] = mapped_column(String(16), nullable=True)
    key: Mapped[str | None] = mapped_column(String(32), nullable=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    category: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(400), nullable=True)
    statement: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the masked hint that crosses
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    merged: Mapped[int] = mapped_column(Integer, default=0)  # duplicate filings merged into this one
    sent_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)


class WebAttachment(WebBase):
    """A disarmed attachment (re-encoded image): the only form of an upload that is kept or sent."""

    __tablename__ = "web_attachment"

    application_id: Mapped[str] = mapped_column(ForeignKey("web_application.id", ondelete="CASCADE"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)


WEB_BINDING = cast(Table, WebBinding.__table__)
WEB_APPLICATION = cast(Table, WebApplication.__table__)
