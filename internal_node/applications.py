"""The credit office's side of applications (issue 17): binding requests and applications arriving in
return packages, their deadlines, the decisions and their effect on the records, and the decision
items the next export carries back to the public node the application came from."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from internal_node.appmodels import Application, ApplicationAttachment, BindingRequest
from internal_node.errors import ApplicationError
from internal_node.models import CHANGE_TRACKED, RECORD_MODELS, Subject, allocate_change_seqs
from internal_node.projection import record_key, subject_key
from internal_node.publication import pseudonym_key
from internal_node.workflow import Workflow, load_workflow
from keys.times import format_time, parse_time
from nodekit.events import record_event
from nodekit.i18n import N_
from nodekit.models import TransferLogRow
from nodekit.runtime import Node
from transfer.appitems import BINDING_DECISIONS, DECISIONS
from transfer.items import Item
from transfer.log import EventCode

STATE_RECEIVED, STATE_ASSIGNED, STATE_DECIDED = "received", "assigned", "decided"
# what a decision does to the record it is about (the publication refresh withdraws it with the reason)
WITHDRAWS = {("repair", "approved"): "repaired", ("objection", "upheld"): "objection_upheld"}
MODELS: dict[str, Any] = {"subject": Subject, **RECORD_MODELS}
OVERDUE_REASON = "application-overdue"


@dataclass(frozen=True)
class Entry:
    """One line of ``applications list``: a binding request or an application."""

    id: str
    type: str  # binding | objection | repair | complaint
    state: str
    received: datetime
    due: date
    overdue: bool
    decision: str | None
    assignee: str | None
    peer: str


# -- arrival --------------------------------------------------------------------------------------


def _record(session: Session, table: str, key: str) -> Any | None:
    """The internal record behind a published key (a scan of its table: keys are pseudonyms, not stored)."""
    model = MODELS.get(table)
    if model is None:
        return None
    pseudonym = pseudonym_key(session)
    for row in session.scalars(select(model)):
        values = {c.key: getattr(row, c.key) for c in model.__table__.columns}
        if record_key(pseudonym, table, values) == key:
            return row
    return None


def _subject_key_of(session: Session, record: Any) -> str | None:
    subject = record if isinstance(record, Subject) else session.get(Subject, getattr(record, "subject_id", None))
    if subject is None:
        return None
    values = {c.key: getattr(subject, c.key) for c in Subject.__table__.columns}
    return subject_key(pseudonym_key(session), values)


def receive_binding(session: Session, peer: str, item: Item, workflow: Workflow, now: datetime) -> bool:
    """Store a binding request (validated by the opener); False if this node has it already."""
    if session.get(BindingRequest, item["id"]) is not None:
        return False
    due = workflow.due("binding", now.date())
    session.add(
        BindingRequest(
            id=item["id"], peer_node=peer, account=item["account"], subject_category=item["subject_category"],
            identifier=item["identifier"], name=item["name"], legal_rep=item["legal_rep"], contact=item["contact"],
            submitted=parse_time(item["submitted"], "submitted"), received_at=now, due=due, state=STATE_RECEIVED,
        )
    )  # fmt: skip
    _received(session, item["id"], "binding", peer, due, now)
    return True


def receive_application(session: Session, peer: str, item: Item, workflow: Workflow, now: datetime) -> bool:
    """Store an application; one that names a record that does not exist, or another subject's record
    than its binding's, is refused at intake (不予受理) with its reason, to be answered in the next export."""
    if session.get(Application, item["id"]) is not None:
        return False
    typ = item["type"]
    due = workflow.due(typ, now.date())
    app = Application(
        id=item["id"], peer_node=peer, type=typ, binding_id=item["binding"], table_name=item["table"],
        key=item["key"], version=item["version"], category=item["category"], target=item["target"],
        statement=item["statement"], contact=item["contact"], submitted=parse_time(item["submitted"], "submitted"),
        received_at=now, due=due, state=STATE_RECEIVED,
    )  # fmt: skip
    session.add(app)
    session.flush()
    for n, att in enumerate(item["attachments"]):
        data = base64.b64decode(att["data"])
        session.add(
            ApplicationAttachment(
                application_id=app.id, n=n, name=att["name"], media_type=att["media_type"],
                sha256=hashlib.sha256(data).hexdigest(), data=data,
            )
        )  # fmt: skip
    _received(session, app.id, typ, peer, due, now)
    refusal = _intake_refusal(session, peer, item)
    if refusal is not None:
        _decide(session, app, "not-accepted", refusal, by="intake", now=now)
    return True


def _intake_refusal(session: Session, peer: str, item: Item) -> str | None:
    """Why an application cannot be accepted, or None."""
    record = _record(session, item["table"], item["key"]) if item["table"] is not None else None
    if item["table"] is not None and record is None:
        return "申请所指的信用记录不存在。"
    if item["type"] == "complaint":
        return None
    binding = session.get(BindingRequest, item["binding"])
    if binding is None or binding.peer_node != peer or binding.decision != "approved":
        return "申请人未绑定该主体，或绑定未获批准：只有已绑定的账户可以提出异议或信用修复。"
    if _subject_key_of(session, record) != binding.subject_key:
        return "该信用记录不属于申请人绑定的主体。"
    return None


def _received(session: Session, ident: str, typ: str, peer: str, due: date, now: datetime) -> None:
    record_event(
        session, EventCode.APPLICATION_RECEIVED, at=now,
        subject={"id": ident, "type": typ, "peer": peer, "due": due.isoformat()},
    )  # fmt: skip


# -- the office's work ----------------------------------------------------------------------------


def entries(session: Session, today: date, *, overdue_only: bool = False, open_only: bool = False) -> list[Entry]:
    """Every binding request and application, oldest deadline first."""
    out: list[Entry] = []
    for b in session.scalars(select(BindingRequest)):
        out.append(Entry(b.id, "binding", b.state, b.received_at, b.due, _overdue(b, today), b.decision, b.assignee,
                         b.peer_node))  # fmt: skip
    for a in session.scalars(select(Application)):
        out.append(Entry(a.id, a.type, a.state, a.received_at, a.due, _overdue(a, today), a.decision, a.assignee,
                         a.peer_node))  # fmt: skip
    if overdue_only:
        out = [e for e in out if e.overdue]
    if open_only:
        out = [e for e in out if e.state != STATE_DECIDED]
    return sorted(out, key=lambda e: (e.due, e.received, e.id))


def _overdue(row: BindingRequest | Application, today: date) -> bool:
    return row.state != STATE_DECIDED and today > row.due


def find(session: Session, ident: str) -> BindingRequest | Application:
    """The binding request or application ``ident`` (a unique prefix of at least 8 hex digits will do)."""
    if not (8 <= len(ident) <= 32 and all(c in "0123456789abcdef" for c in ident)):
        raise ApplicationError(
            N_("{ident!r} is not an application id (8 to 32 lowercase hex digits)"), params={"ident": ident[:40]}
        )
    found: list[BindingRequest | Application] = [
        *session.scalars(select(BindingRequest).where(BindingRequest.id.startswith(ident))),
        *session.scalars(select(Application).where(Application.id.startswith(ident))),
    ]
    if not found:
        # a decision for an application this node never received: nothing to decide
        raise ApplicationError(
            N_("no application {ident} was received"), params={"ident": ident}, reason="unknown-application"
        )
    if len(found) > 1:
        raise ApplicationError(
            N_("{ident} names {n_found} applications: give more digits"), params={"ident": ident, "n_found": len(found)}
        )
    return found[0]


def assign(session: Session, ident: str, to: str, *, actor: str, now: datetime) -> BindingRequest | Application:
    """Hand an open application to a person of the credit office (or the source unit's contact)."""
    row = find(session, ident)
    if row.state == STATE_DECIDED:
        raise ApplicationError(
            N_("{id} is decided already ({decision})"),
            params={"id": row.id, "decision": row.decision},
            reason="already-decided",
        )
    if not to.strip() or len(to) > 200:
        raise ApplicationError(N_("--to must name the person, in at most 200 characters"))
    row.assignee, row.state = to.strip(), STATE_ASSIGNED
    record_event(session, EventCode.APPLICATION_DECIDED, at=now, actor=actor, result="assigned",
                 subject={"id": row.id, "type": _type(row), "to": to.strip()})  # fmt: skip
    return row


def _type(row: BindingRequest | Application) -> str:
    return "binding" if isinstance(row, BindingRequest) else row.type


def binding_subject(session: Session, binding: BindingRequest) -> Subject | None:
    """The subject the claimant's identifier names in the full, unmasked data (None: not in the database)."""
    column = Subject.uscc if binding.subject_category == "legal" else Subject.id_no
    return session.scalars(select(Subject).where(column == binding.identifier)).first()


def decide(
    session: Session, ident: str, decision: str, reason: str, *, actor: str, now: datetime
) -> BindingRequest | Application:
    """Record the office's decision with who and why; apply its effect on the record; queue it for return."""
    row = find(session, ident)
    if row.state == STATE_DECIDED:
        raise ApplicationError(
            N_("{id} is decided already ({decision})"),
            params={"id": row.id, "decision": row.decision},
            reason="already-decided",
        )
    if not reason.strip():
        raise ApplicationError(N_("--reason is required: every decision states its reasons"), reason="no-reason")
    allowed = BINDING_DECISIONS if isinstance(row, BindingRequest) else DECISIONS[row.type]
    if decision not in allowed:
        raise ApplicationError(
            N_("a {type} is decided {allowed}, not {decision!r}"),
            params={"type": _type(row), "allowed": ", ".join(sorted(allowed)), "decision": decision[:30]},
        )
    if isinstance(row, BindingRequest):
        _decide_binding(session, row, decision)
    elif (row.type, decision) in WITHDRAWS:
        record = _record(session, row.table_name or "", row.key or "")
        if record is None:
            raise ApplicationError(
                N_("the record of {id} is no longer in the credit database"), params={"id": row.id}, reason="no-record"
            )
        _withdraw(session, record, WITHDRAWS[(row.type, decision)], now)
    _decide(session, row, decision, reason.strip(), by=actor, now=now)
    return row


def _decide_binding(session: Session, row: BindingRequest, decision: str) -> None:
    if decision != "approved":
        return
    subject = binding_subject(session, row)
    if subject is None:
        raise ApplicationError(
            N_(
                "no subject with {identifier}… in the credit database: a binding can only be approved for a subject the database holds (refuse it with its reason)"
            ),
            params={"identifier": row.identifier[:6]},
            reason="no-subject",
        )
    row.subject_key = _subject_key_of(session, subject)


def _withdraw(session: Session, record: Any, reason: str, now: datetime) -> None:
    """Withdraw the record's publication (the next export sends the withdrawal with the reason)."""
    assert type(record) in CHANGE_TRACKED
    record.withdrawal_reason = reason
    record.updated_at = now
    record.change_seq = allocate_change_seqs(session.connection(), 1)


def _decide(
    session: Session, row: BindingRequest | Application, decision: str, reason: str, *, by: str, now: datetime
) -> None:
    row.decision, row.reason, row.decided_by, row.decided_at, row.state = decision, reason, by, now, STATE_DECIDED
    record_event(
        session, EventCode.APPLICATION_DECIDED, at=now, actor=by, result=decision,
        reason="intake" if by == "intake" else "", subject={"id": row.id, "type": _type(row)},
    )  # fmt: skip


# -- back across the gap --------------------------------------------------------------------------


def status_items(session: Session, peer: str) -> Iterator[Item]:
    """Acknowledgements for ``peer`` (FORMAT.md §10.6, ``application-status``): received and due, once for
    each binding request or application taken in, and again whenever its due date is no longer the one
    sent. One refused at intake (不予受理) gets none: it was not taken in, its decision says so. Each is
    marked sent in the caller's transaction, the package's."""
    rows: list[BindingRequest | Application] = []
    for model in (BindingRequest, Application):
        rows += session.scalars(select(model).where(
            model.peer_node == peer,
            or_(model.decided_by.is_(None), model.decided_by != "intake"),
            or_(model.acknowledged_due.is_(None), model.acknowledged_due != model.due),
        ))  # fmt: skip
    for row in sorted(rows, key=lambda r: (r.received_at, r.id)):
        row.acknowledged_due = row.due
        yield {"kind": "application-status", "id": row.id, "type": _type(row),
               "received": format_time(row.received_at), "due": row.due.isoformat()}  # fmt: skip


def decision_items(session: Session, peer: str, seq: int) -> Iterator[Item]:
    """The decisions not yet sent to ``peer``, each marked as carried by package ``seq`` (same transaction)."""
    for b in session.scalars(
        select(BindingRequest).where(
            BindingRequest.peer_node == peer, BindingRequest.state == STATE_DECIDED, BindingRequest.sent_seq.is_(None)
        )
    ):
        b.sent_seq = seq
        assert b.decided_at is not None and b.decision is not None and b.reason is not None
        yield {"kind": "binding-decision", "id": b.id, "decision": b.decision,
               "subject_key": b.subject_key if b.decision == "approved" else None,
               "decided": format_time(b.decided_at), "reason": b.reason}  # fmt: skip
    for a in session.scalars(
        select(Application).where(
            Application.peer_node == peer, Application.state == STATE_DECIDED, Application.sent_seq.is_(None)
        )
    ):
        a.sent_seq = seq
        assert a.decided_at is not None and a.decision is not None and a.reason is not None
        yield {"kind": "application-decision", "id": a.id, "type": a.type, "decision": a.decision,
               "decided": format_time(a.decided_at), "reason": a.reason}  # fmt: skip


def overdue(session: Session, today: date) -> list[Entry]:
    """Open applications past their deadline (for ``status`` and its alarm)."""
    return entries(session, today, overdue_only=True)


def application_status(node: Node) -> dict[str, Any]:
    """The applications' part of ``status``: open and overdue counts, each overdue one alarmed once in the
    transfer log, and a warning when next year's holiday calendar is missing."""
    today, now = node.today(), node.clock()
    workflow = load_workflow(node.config.home)
    with node.transaction() as s:
        late = overdue(s, today)
        open_count = len(entries(s, today, open_only=True))
        alarmed = {
            orjson.loads(subject).get("id")
            for subject in s.scalars(
                select(TransferLogRow.subject).where(
                    TransferLogRow.event == EventCode.ALARM_OVERDUE.value, TransferLogRow.reason == OVERDUE_REASON
                )
            )
        }
        for e in late:
            if e.id not in alarmed:
                record_event(
                    s, EventCode.ALARM_OVERDUE, at=now, result="alarm", reason=OVERDUE_REASON,
                    subject={"id": e.id, "type": e.type, "due": e.due.isoformat()},
                )  # fmt: skip
    return {
        "open": open_count,
        "overdue": [{"id": e.id, "type": e.type, "due": e.due.isoformat()} for e in late],
        "calendar_missing": workflow.missing_year(today),
    }
