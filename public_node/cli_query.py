"""``public-node query``: the published database from the command line, as the public platform sees it
(fail-safe expiry applied). For operators, scripts and the demo; the web platform serves the public."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from nodekit.cli import NodeContext, emit, json_option, pass_node_context, table
from nodekit.i18n import _, ngettext
from nodekit.text import printable
from public_node.queries import find_by_doc_no, find_by_uscc, list_page, subject_page
from public_node.search import search


def _plain(value: Any) -> Any:
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value


def register(root: click.Group) -> None:
    @root.group("query")
    def query_group() -> None:
        """Query the published database (what the public can see today)."""

    @query_group.command("search")
    @click.argument("text")
    @click.option("--limit", default=20, show_default=True)
    @json_option
    @pass_node_context
    def search_cmd(nctx: NodeContext, text: str, limit: int, as_json: bool) -> None:
        """Subjects whose name or credit code contains TEXT (two Chinese characters are enough)."""
        node = nctx.node()
        with node.sessions() as s:
            page = search(s, text, today=node.today(), limit=limit)
        rows = [[p.name, p.category, p.uscc or "-", p.subject_key] for p in page.items]
        emit(
            {"total": page.total, "items": [_plain(p) for p in page.items]},
            lambda: click.echo(
                ngettext("{n} subject", "{n} subjects", page.total).format(n=page.total)
                + "\n"
                + table(rows, [_("name"), _("category"), _("uscc"), _("subject key")])
            ),
            as_json=as_json,
        )

    @query_group.command("subject")
    @click.argument("key_or_uscc")
    @json_option
    @pass_node_context
    def subject_cmd(nctx: NodeContext, key_or_uscc: str, as_json: bool) -> None:
        """A subject's page: its current licences, penalties, list entries, commitments, government credit."""
        node = nctx.node()
        today = node.today()
        with node.sessions() as s:
            key = key_or_uscc
            if len(key_or_uscc) == 18:
                found = find_by_uscc(s, key_or_uscc.upper(), today=today)
                if found:
                    key = found[0].subject_key
            page = subject_page(s, key, today=today)
        if page is None:
            raise click.UsageError(_("no published subject {key}").format(key=key_or_uscc))
        data = {
            "subject": _plain(page.subject),
            "records": {k: [_plain(r) for r in v] for k, v in page.records.items()},
        }

        def human() -> None:
            sub = page.subject
            click.echo(f"{printable(sub.name)}  [{sub.category}]  {sub.uscc or ''}")
            for kind, records in page.records.items():
                for r in records:
                    until = " " + _("(shown until {day})").format(day=r.publish_until) if r.publish_until else ""
                    click.echo(f"  {kind:<11} {printable(r.doc_no or '-', 60)}{until}")

        emit(data, human, as_json=as_json)

    @query_group.command("doc")
    @click.argument("doc_no")
    @json_option
    @pass_node_context
    def doc_cmd(nctx: NodeContext, doc_no: str, as_json: bool) -> None:
        """Records by document number (decision number, licence number, ...)."""
        node = nctx.node()
        with node.sessions() as s:
            found = find_by_doc_no(s, doc_no, today=node.today())
        emit(
            [_plain(r) for r in found],
            "\n".join(f"{r.kind} {printable(r.subject_name)} {printable(r.row)}" for r in found)
            or _("nothing published"),
            as_json=as_json,
        )

    @query_group.command("list")
    @click.argument("list_type", type=click.Choice(["red", "dishonest"]))
    @click.option("--limit", default=20, show_default=True)
    @json_option
    @pass_node_context
    def list_cmd(nctx: NodeContext, list_type: str, limit: int, as_json: bool) -> None:
        """The red list (守信激励) or the serious-dishonesty list (严重失信主体名单)."""
        node = nctx.node()
        with node.sessions() as s:
            page = list_page(s, list_type, today=node.today(), limit=limit)
        emit(
            {"total": page.total, "items": [_plain(r) for r in page.items]},
            lambda: click.echo(
                ngettext("{n} entry", "{n} entries", page.total).format(n=page.total)
                + "\n"
                + "\n".join(f"  {printable(r.subject_name)}  {printable(r.doc_no or '')}" for r in page.items)
            ),
            as_json=as_json,
        )
