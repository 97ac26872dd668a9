"""The review queue: record versions held because the leak guard or a free-text detector found
something in them, and a person's decision on each — publish this exact version anyway, keep the
version published before (this one is dropped), or withdraw the record. Every decision is logged
(who, when, why; the record's kind, key, version and the rules — never its content) and applied to
the publication in the same transaction (docs/adr/0009-review-hold.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from internal_node.errors import ReviewError
from internal_node.policy import DisclosurePolicy
from internal_node.publication import reproject
from internal_node.pubmodels import ReviewHold
from nodekit.events import record_event
from nodekit.i18n import N_
from transfer.log import EventCode

DECISIONS = {"publish": "published", "keep": "kept", "withdraw": "withdrawn"}
MAX_REASON = 400


@dataclass(frozen=True)
class HeldVersion:
    """One entry of the review queue, as the internal operator sees it (matched text included)."""

    id: int
    kind: str
    key: str
    version: int
    doc_no: str | None
    state: str
    rules: list[str]
    findings: list[dict[str, str]]
    held_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None

    def document(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "key": self.key, "version": self.version, "doc_no": self.doc_no,
            "state": self.state, "rules": self.rules, "findings": self.findings,
            "held_at": self.held_at.isoformat(timespec="seconds"),
            "decided_at": self.decided_at.isoformat(timespec="seconds") if self.decided_at else None,
            "decided_by": self.decided_by, "decision_reason": self.decision_reason,
        }  # fmt: skip


def _entry(row: ReviewHold) -> HeldVersion:
    return HeldVersion(
        id=row.id, kind=row.table_name, key=row.key, version=row.version, doc_no=row.doc_no, state=row.state,
        rules=row.rules.split(",") if row.rules else [], findings=orjson.loads(row.findings), held_at=row.held_at,
        decided_at=row.decided_at, decided_by=row.decided_by, decision_reason=row.decision_reason,
    )  # fmt: skip


def list_held(session: Session, *, state: str | None = "held") -> list[HeldVersion]:
    """The queue (``state`` None: every entry, decided ones included), oldest first."""
    stmt = select(ReviewHold).order_by(ReviewHold.id)
    if state is not None:
        stmt = stmt.where(ReviewHold.state == state)
    return [_entry(r) for r in session.scalars(stmt)]


def held_count(session: Session) -> int:
    """How many record versions wait for a person (``status``)."""
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(ReviewHold).where(ReviewHold.state == "held")) or 0)


def show_held(session: Session, hold_id: int) -> HeldVersion:
    """One entry of the queue, or :class:`ReviewError` naming the id."""
    row = session.get(ReviewHold, hold_id)
    if row is None:
        raise ReviewError(
            N_("review {hold_id}: no such entry (`internal-node review list` shows them)"),
            params={"hold_id": hold_id},
            reason="unknown",
        )
    return _entry(row)


def decide(
    session: Session,
    policy: DisclosurePolicy,
    hold_id: int,
    decision: str,
    *,
    actor: str,
    why: str,
    today: date,
    at: datetime,
) -> HeldVersion:
    """Record ``decision`` (publish, keep, withdraw) on a held version and apply it to the publication."""
    if decision not in DECISIONS:
        raise ReviewError(
            N_("unknown decision {decision!r} (publish, keep, withdraw)"), params={"decision": decision}, reason="usage"
        )
    why = " ".join(why.split())
    if not why:
        raise ReviewError(
            N_("review {hold_id}: --reason is required: say why ({decision})"),
            params={"hold_id": hold_id, "decision": decision},
            reason="usage",
        )
    row = session.get(ReviewHold, hold_id, with_for_update=True)
    if row is None:
        raise ReviewError(
            N_("review {hold_id}: no such entry (`internal-node review list` shows them)"),
            params={"hold_id": hold_id},
            reason="unknown",
        )
    if row.state != "held":
        raise ReviewError(
            N_(
                "review {hold_id}: {table_name} {key} v{version} is {state}, not held: a decision is taken once per version"
            ),
            params={
                "hold_id": hold_id,
                "table_name": row.table_name,
                "key": row.key,
                "version": row.version,
                "state": row.state,
            },
            reason="decided",
        )
    row.state = DECISIONS[decision]
    row.decided_at = at
    row.decided_by = actor
    row.decision_reason = why[:MAX_REASON]
    session.flush()
    reproject(session, policy, table=row.table_name, record_id=row.record_id, today=today, at=at)
    record_event(
        session, EventCode.REVIEW_DECIDED, at=at, actor=actor, result=decision,
        subject={"kind": row.table_name, "key": row.key, "version": row.version, "rules": row.rules,
                 "why": why[:MAX_REASON]},
    )  # fmt: skip
    return _entry(row)
