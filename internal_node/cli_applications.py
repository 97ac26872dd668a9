"""The ``applications`` commands of ``internal-node``: the credit office lists, shows, assigns and
decides binding requests, objections, repair applications and complaints within their deadlines."""

from __future__ import annotations

from typing import Any

import click

from internal_node import applications as apps
from internal_node.appmodels import Application, ApplicationAttachment, BindingRequest
from nodekit.cli import NodeContext, emit, json_option, pass_node_context
from nodekit.i18n import N_, _
from nodekit.operator import operator_actor
from nodekit.text import printable

operator_option = click.option(
    "--operator", metavar="NAME", default=None, help="Who acts (default: $CREDGAP_OPERATOR, else the OS user)."
)
TYPES = {
    "binding": N_("binding request"),
    "objection": N_("credit objection"),
    "repair": N_("credit repair"),
    "complaint": N_("complaint"),
}
# an application's state and decision as a person reads them (--json keeps the codes)
WORDS = {
    "received": N_("received"),
    "assigned": N_("assigned"),
    "decided": N_("decided"),
    "approved": N_("approved"),
    "refused": N_("refused"),
    "upheld": N_("upheld"),
    "partially-upheld": N_("partially upheld"),
    "rejected": N_("rejected: not upheld"),
    "not-accepted": N_("not accepted"),
    "answered": N_("answered"),
}


def _type(code: str) -> str:
    return _(TYPES[code]) if code in TYPES else code


def _word(code: str | None) -> str:
    return _(WORDS[code]) if code in WORDS else str(code)


def _entry(e: apps.Entry) -> dict[str, Any]:
    return {"id": e.id, "type": e.type, "state": e.state, "received": e.received.isoformat(),
            "due": e.due.isoformat(), "overdue": e.overdue, "decision": e.decision, "assignee": e.assignee,
            "peer": e.peer}  # fmt: skip


def _line(e: apps.Entry) -> str:
    flag = "  " + _("OVERDUE") if e.overdue else ""
    who = f" → {printable(e.assignee, 40)}" if e.assignee else ""
    decided = f" {_word(e.decision)}" if e.decision else ""
    return f"{e.id[:12]} {_type(e.type)} {_word(e.state)}{decided}{who}  " + _("due {date}").format(date=e.due) + flag


@click.group("applications")
def applications_group() -> None:
    """Binding requests, objections, repair applications and complaints from the public platform."""


@applications_group.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only those not decided yet.")
@click.option("--overdue", "overdue_only", is_flag=True, help="Only those past their deadline.")
@json_option
@pass_node_context
def list_cmd(nctx: NodeContext, open_only: bool, overdue_only: bool, as_json: bool) -> None:
    """List applications, the nearest deadline first; overdue ones are flagged."""
    node = nctx.node()
    with node.sessions() as s:
        found = apps.entries(s, node.today(), overdue_only=overdue_only, open_only=open_only)
    emit({"applications": [_entry(e) for e in found]}, "\n".join(map(_line, found)) or _("no applications"),
         as_json=as_json)  # fmt: skip


def _document(row: BindingRequest | Application, extra: dict[str, Any]) -> dict[str, Any]:
    cols = {c.key: getattr(row, c.key) for c in type(row).__table__.columns}
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in {**cols, **extra}.items()}


@applications_group.command("show")
@click.argument("ident")
@json_option
@pass_node_context
def show_cmd(nctx: NodeContext, ident: str, as_json: bool) -> None:
    """Show one application in full; for a binding request, the subject its identifier names, unmasked."""
    node = nctx.node()
    with node.sessions() as s:
        row = apps.find(s, ident)
        extra: dict[str, Any] = {}
        lines = [f"{row.id} {_type(apps._type(row))} [{_word(row.state)}] " + _("due {date}").format(date=row.due)]
        if isinstance(row, BindingRequest):
            subject = apps.binding_subject(s, row)
            extra["subject_found"] = None if subject is None else {
                "name": subject.name, "legal_rep": subject.legal_rep, "uscc": subject.uscc, "id_no": subject.id_no,
            }  # fmt: skip
            lines += [
                "  " + _("claimant says: {name}, {identifier}, legal rep {rep}, contact {contact}").format(
                    name=printable(row.name, 100), identifier=row.identifier,
                    rep=printable(row.legal_rep or "-", 40), contact=printable(row.contact, 64)),
                "  " + _("database has: {found}").format(
                    found=_("no subject with this identifier") if subject is None else
                    _("{name}, legal rep {rep}").format(
                        name=printable(subject.name, 100), rep=printable(subject.legal_rep or "-", 40))),
            ]  # fmt: skip
        else:
            atts = list(s.query(ApplicationAttachment).filter_by(application_id=row.id))
            extra["attachments"] = [{"name": a.name, "media_type": a.media_type, "sha256": a.sha256} for a in atts]
            lines += [
                "  " + _("record: {table} {key} v{version}; category {category}").format(
                    table=row.table_name or "-", key=row.key or "-", version=row.version or "-",
                    category=row.category),
                "  " + _("statement: {text}").format(text=printable(row.statement, 2000)),
                *("  " + _("attachment {n}: {name} ({media_type}, sha256 {digest}…)").format(
                    n=a.n, name=printable(a.name, 80), media_type=a.media_type, digest=a.sha256[:16])
                  for a in atts),
            ]  # fmt: skip
        if row.decision:
            lines.append(
                "  "
                + _("decided {decision} by {who}: {why}").format(
                    decision=_word(row.decision), who=row.decided_by, why=printable(row.reason or "", 500)
                )
            )
        doc = _document(row, extra)
    emit(doc, "\n".join(lines), as_json=as_json)


@applications_group.command("assign")
@click.argument("ident")
@click.option("--to", "to", required=True, metavar="NAME", help="Who handles it.")
@operator_option
@json_option
@pass_node_context
def assign_cmd(nctx: NodeContext, ident: str, to: str, operator: str | None, as_json: bool) -> None:
    """Assign an open application to a person."""
    node = nctx.node()
    with node.transaction() as s:
        row = apps.assign(s, ident, to, actor=operator_actor(operator), now=node.clock())
        out = {"id": row.id, "assignee": row.assignee}
    emit(out, _("{id} assigned to {who}").format(id=out["id"], who=printable(str(out["assignee"]), 80)),
         as_json=as_json)  # fmt: skip


@applications_group.command("decide")
@click.argument("ident")
@click.option(
    "--decision", default=None, metavar="D",
    help="binding: approved|refused; objection: upheld|partially-upheld|rejected|not-accepted; "
    "repair: approved|refused|not-accepted; complaint: answered|not-accepted.",
)  # fmt: skip
@click.option("--upheld", "upheld", is_flag=True, help="Shorthand for --decision upheld.")
@click.option("--reason", "why", required=True, metavar="WHY", help="The decision's reasons (sent to the filer).")
@operator_option
@json_option
@pass_node_context
def decide_cmd(
    nctx: NodeContext, ident: str, decision: str | None, upheld: bool, why: str, operator: str | None, as_json: bool
) -> None:
    """Decide an application: recorded with who and why, applied to the record, sent back at the next export."""
    if upheld == (decision is not None):
        raise click.UsageError(_("give exactly one of --decision D and --upheld"))
    node = nctx.node()
    actor = operator_actor(operator)
    with node.transaction() as s:
        row = apps.decide(s, ident, decision or "upheld", why, actor=actor, now=node.clock())
        out = {"id": row.id, "type": apps._type(row), "decision": row.decision, "by": actor}
    emit(out, _("{id} {type}: {decision} (by {who}); sent back at the next export").format(
        id=out["id"], type=_type(str(out["type"])), decision=_word(str(out["decision"])), who=actor),
         as_json=as_json)  # fmt: skip


def register(root: click.Group) -> None:
    root.add_command(applications_group)
