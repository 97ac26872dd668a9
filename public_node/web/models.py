"""The web database's tables (its own Alembic chain, branch ``web``, revisions w…): the platform's
own settings, rate-limit counters, and the credit reports it issued. Accounts, sessions, API tokens
and the web audit log are in ``authmodels`` (w0002, docs/adr/0012-accounts-and-authentication.md)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nodekit.models import UTCDateTime


class WebBase(DeclarativeBase):
    """Declarative base of the web database (never the published database)."""


class WebMeta(WebBase):
    """Settings the platform keeps for itself, e.g. the secret that authenticates page cursors."""

    __tablename__ = "web_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RateCounter(WebBase):
    """One fixed-window rate-limit counter (``limits`` storage, ``public_node.web.ratelimit``)."""

    __tablename__ = "rate_counter"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[float] = mapped_column(Float)  # seconds since the epoch


class CreditReport(WebBase):
    """A credit report as issued: the hash of its verification code, whom it was about, the package
    it was read at, and when. Never any content: the records it showed are in
    :class:`CreditReportRecord` as digests."""

    __tablename__ = "credit_report"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the code, hex
    subject_key: Mapped[str] = mapped_column(String(32))
    package_seq: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CreditReportRecord(WebBase):
    """One record a report showed: its kind, key, version and the digest of its published row."""

    __tablename__ = "credit_report_record"

    report_id: Mapped[int] = mapped_column(ForeignKey("credit_report.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))


REPORT_TABLE = cast(Table, CreditReport.__table__)
REPORT_RECORD_TABLE = cast(Table, CreditReportRecord.__table__)
COUNTER_TABLE = cast(Table, RateCounter.__table__)
META_TABLE = cast(Table, WebMeta.__table__)
