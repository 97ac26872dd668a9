"""Applications past their due date on the platform's side (逾期未办结): the internal node acknowledges
each filing with its received time and due date (FORMAT.md §10.6, ``application-status``); one without a
decision after its due date is overdue. Read by the auditor's console and its alarms view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from public_node.models import ApplicationDecision, ApplicationStatus
from public_node.web.labels import N_

OVERDUE_ROWS = 500  # the longest overdue first; the count above the list says how many there are
TYPE_LABELS = {
    "binding": N_("Binding request"), "objection": N_("Credit objection"), "repair": N_("Credit repair"),
    "complaint": N_("Complaint"),
}  # fmt: skip


@dataclass(frozen=True)
class Overdue:
    """An open application past its due date: acknowledged by the internal node, not decided yet."""

    id: str
    type: str
    received: datetime
    due: date
    days: int  # calendar days past the due date (not working days: the holiday calendar is the internal node's)


def _open_late(today: date) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    decided = select(ApplicationDecision.id).where(ApplicationDecision.id == ApplicationStatus.id).exists()
    return ApplicationStatus.due < today, ~decided


def overdue_count(s: Session, today: date) -> int:
    """How many acknowledged applications are past their due date and still undecided."""
    return s.scalar(select(func.count()).select_from(ApplicationStatus).where(*_open_late(today))) or 0


def overdue(s: Session, today: date, limit: int = OVERDUE_ROWS) -> list[Overdue]:
    """The open applications past their due date, the longest overdue first."""
    rows = s.scalars(
        select(ApplicationStatus).where(*_open_late(today)).order_by(ApplicationStatus.due, ApplicationStatus.id)
        .limit(limit)
    )  # fmt: skip
    return [Overdue(r.id, r.type, r.received, r.due, (today - r.due).days) for r in rows]
