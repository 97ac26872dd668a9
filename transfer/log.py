"""The transfer log's entry format: a closed set of event codes, canonical entries, and the hash chain.

Each node stores its log in its own database (``nodekit.events``); this module only defines what an
entry is and how its hash is computed, so that a verifier needs nothing but the entries.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from keys import canonical

GENESIS = "0" * 64  # ``prev`` of the first entry


class EventCode(StrEnum):
    """The closed list of transfer-log events (docs/FORMAT.md, "Transfer log")."""

    KEY_GENERATED = "key.generated"
    KEY_TRUSTED = "key.trusted"
    KEY_ROTATED = "key.rotated"
    KEY_REVOKED = "key.revoked"
    KEY_DISTRUSTED = "key.distrusted"
    KEY_UNPROTECTED = "key.unprotected"  # a key written without a passphrase (--no-passphrase)
    PACKAGE_SEALED = "package.sealed"
    PACKAGE_WRITTEN = "package.written"
    PACKAGE_RECEIVED = "package.received"
    PACKAGE_VERIFIED = "package.verified"
    PACKAGE_APPLIED = "package.applied"
    PACKAGE_DUPLICATE = "package.duplicate"
    PACKAGE_PENDING_GAP = "package.pending-gap"
    PACKAGE_REJECTED = "package.rejected"
    PACKAGE_QUARANTINED = "package.quarantined"
    RECEIPT_RECORDED = "receipt.recorded"
    CHANNEL_RECOVERED = "channel.recovered"  # channel recover: the first entry of a new log segment
    ALARM_REPLAY = "alarm.replay"
    ALARM_EQUIVOCATION = "alarm.equivocation"
    ALARM_FORK = "alarm.fork"
    ALARM_OVERDUE = "alarm.overdue"
    ALARM_JUNK = "alarm.junk"
    ALARM_CLOCK = "alarm.clock"  # this node's clock is far behind the packages it has seen (reason clock-behind)
    INGEST_ACCEPTED = "ingest.accepted"
    INGEST_REJECTED = "ingest.rejected"
    POLICY_CHANGED = "policy.changed"
    DOCUMENT_APPROVED = "document.approved"
    REVIEW_DECIDED = "review.decided"  # a person decided on a record version held for review
    RECORD_REACTIVATED = "record.reactivated"  # ingest --reactivate / --override-objection
    APPLICATION_RECEIVED = "application.received"  # a binding request or application from a public node
    APPLICATION_DECIDED = "application.decided"  # the credit office's decision (or a refusal at intake)
    LOGIN_SUCCESS = "login.success"
    LOGIN_FAILURE = "login.failure"
    ADMIN_ACTION = "admin.action"  # in the web audit log (public_node.web.audit), or an operator's action
    WEB_AUDIT_ANCHORED = "web-audit.anchored"  # the web audit log's latest checkpoint, anchored by export


@dataclass(frozen=True)
class LogEntry:
    """One transfer-log entry. ``subject`` and ``counts`` hold digests, names and numbers, never record contents."""

    index: int
    at: datetime
    actor: str
    event: EventCode
    result: str = "ok"
    reason: str = ""
    subject: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    prev: str = GENESIS

    def document(self) -> dict[str, Any]:
        return {
            "v": 1,
            "index": self.index,
            "at": _ts(self.at),
            "actor": self.actor,
            "event": self.event.value,
            "result": self.result,
            "reason": self.reason,
            "subject": self.subject,
            "counts": self.counts,
            "prev": self.prev,
        }

    def encode(self) -> bytes:
        return canonical.encode(self.document())

    @property
    def leaf_hash(self) -> str:
        """RFC 6962 leaf hash of the canonical entry: SHA-256(0x00 || entry)."""
        return hashlib.sha256(b"\x00" + self.encode()).hexdigest()


def _ts(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("transfer-log times must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
