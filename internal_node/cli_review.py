"""The ``review`` commands of ``internal-node``: the record versions held for a person, and the
decisions on them (publish this version anyway, keep the version published before, withdraw)."""

from __future__ import annotations

import click

from internal_node.policy import load_policy
from internal_node.review import HeldVersion, decide, list_held, show_held
from nodekit.cli import NodeContext, emit, json_option, pass_node_context
from nodekit.i18n import _, ngettext
from nodekit.operator import operator_actor
from nodekit.text import printable

operator_option = click.option(
    "--operator", metavar="NAME", default=None, help="Who decides (default: $CREDGAP_OPERATOR, else the OS user)."
)
reason_option = click.option("--reason", "why", required=True, metavar="WHY", help="Why (recorded in the log).")


def _lines(h: HeldVersion, *, full: bool) -> list[str]:
    head = f"#{h.id} {h.kind} {h.key} v{h.version} {printable(h.doc_no or '-', 100)} [{h.state}] {', '.join(h.rules)}"
    out = [head]
    for f in h.findings if full else h.findings[:3]:
        out.append(
            f"    {f['field']}: {f['rule']}: {printable(f.get('match', ''), 80)!s}  in  …{printable(f.get('context', ''), 120)}…"
        )
    if not full and len(h.findings) > 3:
        more = len(h.findings) - 3
        out.append(
            "    "
            + ngettext("… {n} more (review show {id})", "… {n} more (review show {id})", more).format(n=more, id=h.id)
        )
    if h.decided_by:
        out.append(
            "    "
            + _("decided by {who} at {at}: {why}").format(
                who=h.decided_by,
                at=f"{h.decided_at:%Y-%m-%d %H:%M}",
                why=printable(h.decision_reason or "", 200),
            )
        )
    return out


@click.group("review")
def review_group() -> None:
    """Record versions held for a person: the leak guard or a free-text detector found something."""


@review_group.command("list")
@click.option("--all", "every", is_flag=True, help="Decided entries too.")
@json_option
@pass_node_context
def list_cmd(nctx: NodeContext, every: bool, as_json: bool) -> None:
    """List what is held, with the matched text and its context (internal only)."""
    with nctx.node().sessions() as s:
        held = list_held(s, state=None if every else "held")
    emit(
        {"held": [h.document() for h in held]},
        "\n".join(line for h in held for line in _lines(h, full=False)) or _("nothing held for review"),
        as_json=as_json,
    )


@review_group.command("show")
@click.argument("hold_id", type=int)
@json_option
@pass_node_context
def show_cmd(nctx: NodeContext, hold_id: int, as_json: bool) -> None:
    """Show one held version with every finding."""
    with nctx.node().sessions() as s:
        h = show_held(s, hold_id)
    emit(h.document(), "\n".join(_lines(h, full=True)), as_json=as_json)


def _decide(nctx: NodeContext, hold_id: int, decision: str, operator: str | None, why: str, as_json: bool) -> None:
    node = nctx.node()
    actor = operator_actor(operator)
    policy = load_policy(node.config.policy_file)
    with node.transaction() as s:
        h = decide(s, policy, hold_id, decision, actor=actor, why=why, today=node.today(), at=node.clock())
    done = {"publish": _("will be published at the next export"), "keep": _("dropped; the version published before stays"),
            "withdraw": _("will be withdrawn at the next export")}[decision]  # fmt: skip
    head = f"#{h.id} {h.kind} {h.key} v{h.version}"
    emit(
        h.document(), _("{version}: {done} (by {actor})").format(version=head, done=done, actor=actor), as_json=as_json
    )


@review_group.command("publish")
@click.argument("hold_id", type=int)
@operator_option
@reason_option
@json_option
@pass_node_context
def publish_cmd(nctx: NodeContext, hold_id: int, operator: str | None, why: str, as_json: bool) -> None:
    """Publish this exact version anyway (a later version is checked afresh)."""
    _decide(nctx, hold_id, "publish", operator, why, as_json)


@review_group.command("keep")
@click.argument("hold_id", type=int)
@operator_option
@reason_option
@json_option
@pass_node_context
def keep_cmd(nctx: NodeContext, hold_id: int, operator: str | None, why: str, as_json: bool) -> None:
    """Keep the version published before; this one is never published."""
    _decide(nctx, hold_id, "keep", operator, why, as_json)


@review_group.command("withdraw")
@click.argument("hold_id", type=int)
@operator_option
@reason_option
@json_option
@pass_node_context
def withdraw_cmd(nctx: NodeContext, hold_id: int, operator: str | None, why: str, as_json: bool) -> None:
    """Withdraw the record from the public side (reason not-public)."""
    _decide(nctx, hold_id, "withdraw", operator, why, as_json)


def register(root: click.Group) -> None:
    root.add_command(review_group)
