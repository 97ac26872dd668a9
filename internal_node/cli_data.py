"""The data commands of ``internal-node``: ``ingest`` (department files) and ``sample-data``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from internal_node.columns import KINDS
from internal_node.ingest import IngestRejected, IngestReport, ingest_file
from internal_node.readers import Format
from nodekit.cli import NodeContext, emit, json_option, pass_node_context
from nodekit.errors import ExitCode
from nodekit.i18n import _, ngettext
from nodekit.operator import operator_actor
from nodekit.text import printable

PROBLEMS_SHOWN = 50
WARNINGS_SHOWN = 5


def _summary(report: IngestReport) -> str:
    c = report.counts
    fmt = report.format + (f", {report.encoding}" if report.encoding else "")
    lines = [
        _("accepted {file} ({kind}, from {source}; {format})").format(
            file=printable(report.file), kind=report.kind, source=printable(report.source), format=fmt
        )
        + ": "
        + ngettext("{n} row", "{n} rows", c.rows).format(n=c.rows)
        + ": "
        + _("{inserted} inserted, {updated} updated, {unchanged} unchanged, {rejected} rejected").format(
            inserted=c.inserted, updated=c.updated, unchanged=c.unchanged, rejected=c.rejected
        ),
    ]
    read_with = _read_with(report)
    if read_with:
        lines.append("  " + _("read with {options}").format(options=read_with))
    if c.held:
        lines.append(
            "  "
            + ngettext(
                "{n} record held for operator review (a natural person without an ID number)",
                "{n} records held for operator review (natural persons without an ID number)",
                c.held,
            ).format(n=c.held)
        )
    if c.reactivated or c.objection_overridden:
        lines.append(
            "  "
            + _(
                "{reactivated} withdrawn records reactivated, {overridden} objection corrections overridden "
                "(recorded in the transfer log)"
            ).format(reactivated=c.reactivated, overridden=c.objection_overridden)
        )
    if report.review_held:
        lines.append(
            "  "
            + ngettext(
                "{n} record version waits for a person: internal-node review list",
                "{n} record versions wait for a person: internal-node review list",
                report.review_held,
            ).format(n=report.review_held)
        )
    if report.refresh_error:
        lines.append(
            "  "
            + _("publication not refreshed ({error}): export will do it").format(
                error=printable(report.refresh_error, 200)
            )
        )
    if report.kind != "subject" and (c.subjects_inserted or c.subjects_updated):
        lines.append(
            "  "
            + _("subjects: {new} new, {updated} updated").format(new=c.subjects_inserted, updated=c.subjects_updated)
        )
    if report.rejects_file:
        lines.append("  " + _("rejected rows listed in {path}").format(path=report.rejects_file))
    lines.extend(_listing(report, warnings=True))
    return "\n".join(lines)


def _read_with(report: IngestReport) -> str:
    """How the file's columns were read, when not only by the standard's headers (as logged)."""
    o = report.options
    parts = [f"--header-row {o['header_row']}"] if "header_row" in o else []
    parts += [f"--map {m}" for m in o.get("map", [])]
    parts += [f"--default {d}" for d in o.get("defaults", [])]
    if o.get("variants"):
        parts.append(_("header variants {variants}").format(variants=", ".join(o["variants"])))
    return printable("; ".join(parts), 500) if parts else ""


def _listing(report: IngestReport, *, warnings: bool) -> list[str]:
    if warnings:
        shown = [_("warning: {problem}").format(problem=p.shown(report.file)) for p in report.warnings[:WARNINGS_SHOWN]]
        more = report.warning_count - len(shown)
        if more > 0:
            shown.append(
                ngettext(
                    "… and {n} more warning (--json lists more)", "… and {n} more warnings (--json lists more)", more
                ).format(n=more)
            )
        return shown
    shown = [p.shown(report.file) for p in report.problems[:PROBLEMS_SHOWN]]
    more = report.problem_count - len(shown)
    if more > 0:
        if report.rejects_file:
            tail = ngettext("… and {n} more problem (all in {path})", "… and {n} more problems (all in {path})", more)
        else:
            tail = ngettext(
                "… and {n} more problem (--rejects FILE writes them all)",
                "… and {n} more problems (--rejects FILE writes them all)",
                more,
            )
        shown.append(tail.format(n=more, path=report.rejects_file))
    return shown


def _reason(value: str | None, option: str) -> str | None:
    if value is not None and not value.strip():
        raise click.BadParameter(_("say why (the reason is recorded in the transfer log)"), param_hint=option)
    return value.strip() if value is not None else None


def register(root: click.Group) -> None:
    @root.command("ingest")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--kind", required=True, type=click.Choice(list(KINDS)), help="What the file holds.")
    @click.option("--source", required=True, help="The data source unit (数据来源单位) delivering the file.")
    @click.option("--source-uscc", default=None, help="The source unit's unified social credit code.")
    @click.option("--encoding", default=None, help="Text encoding of a CSV/JSONL file (default: UTF-8, else GB18030).")
    @click.option(
        "--format", "fmt", type=click.Choice([f.value for f in Format]), default=None, help="Default: from the suffix."
    )
    @click.option(
        "--skip-invalid", is_flag=True, help="Accept the valid rows; list the invalid ones in the rejects file."
    )
    @click.option(
        "--rejects",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Where to write the rejected rows (default with --skip-invalid: FILE.rejects.csv).",
    )
    @click.option(
        "--reactivate",
        metavar="REASON",
        default=None,
        help="Let rows publish records that were withdrawn (repair, expiry, revocation, objection); REASON is logged.",
    )
    @click.option(
        "--override-objection",
        metavar="REASON",
        default=None,
        help="Let rows change fields an upheld objection corrected; REASON is logged.",
    )
    @click.option(
        "--map",
        "column_map",
        metavar="列名=FIELD",
        multiple=True,
        help="Read the column 列名 as FIELD (English name or standard header), for a header the variants table does not know (repeatable).",
    )
    @click.option(
        "--default",
        "defaults",
        metavar="列名=值",
        multiple=True,
        help="Use 值 where the file lacks the column 列名 or leaves it blank (repeatable).",
    )
    @click.option(
        "--header-row",
        type=click.IntRange(min=1),
        default=None,
        metavar="N",
        help="The header is sheet row N (rows above it, such as a title, are skipped); default: the first non-blank row.",
    )
    @click.option(
        "--operator", metavar="NAME", default=None, help="Who runs this (default: $CREDGAP_OPERATOR, OS user)."
    )
    @json_option
    @pass_node_context
    @click.pass_context
    def ingest_cmd(
        ctx: click.Context,
        nctx: NodeContext,
        file: Path,
        kind: str,
        source: str,
        source_uscc: str | None,
        encoding: str | None,
        fmt: str | None,
        skip_invalid: bool,
        rejects: Path | None,
        reactivate: str | None,
        override_objection: str | None,
        operator: str | None,
        as_json: bool,
        column_map: tuple[str, ...] = (),
        defaults: tuple[str, ...] = (),
        header_row: int | None = None,
    ) -> None:
        """Load a department's file of KIND into the credit database (all rows or none, unless --skip-invalid)."""
        try:
            report = ingest_file(
                nctx.node(),
                file,
                kind=kind,
                source=source,
                source_uscc=source_uscc,
                encoding=encoding,
                fmt=fmt,
                skip_invalid=skip_invalid,
                rejects=rejects,
                show_progress=True,
                reactivate=_reason(reactivate, "--reactivate"),
                override_objection=_reason(override_objection, "--override-objection"),
                actor=operator_actor(operator) if operator or reactivate or override_objection else None,
                column_map=column_map,
                defaults=defaults,
                header_row=header_row,
            )
        except IngestRejected as exc:
            if as_json:
                doc = exc.report.to_dict()
                doc["error"] = {"reason": exc.reason, "message": exc.message}
                emit(doc, as_json=True)
                ctx.exit(int(ExitCode.REJECTED))
            for line in _listing(exc.report, warnings=False):
                click.echo(line, err=True)
            raise
        emit(report.to_dict(), lambda: click.echo(_summary(report)), as_json=as_json)

    @root.command("sample-data")
    @click.option("--subjects", type=click.IntRange(min=1), default=200, show_default=True, help="How many subjects.")
    @click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same files, byte for byte.")
    @click.option(
        "--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Folder for the department files."
    )
    @click.option(
        "--as-of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default="2026-11-01",
        show_default=True,
        help="The generated records' dates fall in the years before this date.",
    )
    @click.option("--load", is_flag=True, help="Also ingest the files into this node's database.")
    @json_option
    @pass_node_context
    def sample_data_cmd(
        nctx: NodeContext, subjects: int, seed: int, out: Path | None, as_of: datetime, load: bool, as_json: bool
    ) -> None:
        """Write realistic department files (several units, formats and encodings), deterministic by seed."""
        from internal_node import sample_data

        if out is None and not load:
            raise click.UsageError(_("give --out DIR, or --load to ingest into the node home"))
        day = as_of.date()
        result = sample_data.run(subjects=subjects, seed=seed, out=out, as_of=day, node=nctx.node() if load else None)
        emit(result, lambda: click.echo(sample_data.describe(result)), as_json=as_json)
