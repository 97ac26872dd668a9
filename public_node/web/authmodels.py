"""The web database's tables for identity and accountability (migration w0002): accounts, server-side
sessions, login throttles, API tokens, recovery codes, one-time reset tokens, sign-up challenges, the
security settings, and the web audit log with its signed checkpoints (docs/adr/0012)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from nodekit.models import UTCDateTime
from public_node.web.models import WebBase


class Account(WebBase):
    """A person (role ``user``) or an administrator (``sysadmin``, ``secadmin``, ``auditor``)."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    contact: Mapped[str | None] = mapped_column(String(255), nullable=True)  # personal data: retention applies
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)  # base32; None: not enrolled
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)  # a code's step is used at most once
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebSession(WebBase):
    """A server-side session: the cookie carries a random token, the database only its SHA-256."""

    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(16))  # "totp" (password checked, second factor due), "full"
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    address: Mapped[str] = mapped_column(String(64))


class LoginThrottle(WebBase):
    """Failed logins of one (account name, client address) pair and when the next try is allowed."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(username \0 address)
    failures: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RecoveryCode(WebBase):
    """An administrator's one-use recovery code, stored as an Argon2id hash."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ResetToken(WebBase):
    """A one-time password-reset token issued by the system administrator (SHA-256 only)."""

    __tablename__ = "reset_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiToken(WebBase):
    """An institution's API token: SHA-256 of the secret, its scopes, and whether it is revoked."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    institution: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[str] = mapped_column(String(255))  # space-separated scope names
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SignupChallenge(WebBase):
    """A sign-up proof-of-work challenge: issued once, usable once, expiring."""

    __tablename__ = "signup_challenge"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    difficulty: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SecuritySetting(WebBase):
    """A security setting the security administrator manages (rate limits, delays, token scopes)."""

    __tablename__ = "security_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class WebAuditEntry(WebBase):
    """One web audit log entry, the transfer log's entry format (FORMAT §13.1) in its own chain."""

    __tablename__ = "web_audit_log"

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    counts: Mapped[str] = mapped_column(Text)
    prev: Mapped[str] = mapped_column(String(64))
    leaf_hash: Mapped[str] = mapped_column(String(64))


class WebAuditCheckpoint(WebBase):
    """A checkpoint of the web audit log signed by the web audit key (never the node's key)."""

    __tablename__ = "web_audit_checkpoint"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    sig: Mapped[str] = mapped_column(String(128))
    frontier: Mapped[str] = mapped_column(Text)


ACCOUNT_TABLE = cast(Table, Account.__table__)
SESSION_TABLE = cast(Table, WebSession.__table__)
THROTTLE_TABLE = cast(Table, LoginThrottle.__table__)
