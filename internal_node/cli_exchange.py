"""The internal node's exchange commands: ``export`` and ``import``."""

from __future__ import annotations

import base64
import hashlib
import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from exchange.cli_outcomes import (
    echo_outcomes,
    finish,
    finish_sent,
    node_names,
    sent_dict,
    sent_line,
    undelivered_dicts,
)
from exchange.engine import every_package
from internal_node.documents import queue_document, withdraw_document
from internal_node.errors import ContentChanged, ExportError, ReviewStale
from internal_node.export import SUMMARY_COLUMNS, ExportReport, export, heartbeat_only, resend
from internal_node.returns import import_returns
from keys.strict import whole
from nodekit.cli import NodeContext, ProgressBars, display_width, emit, json_option, one_line, pass_node_context
from nodekit.errors import shown
from nodekit.home import parse_duration
from nodekit.i18n import N_, _, ngettext
from nodekit.text import printable

_RANGE = whole(r"([0-9]{1,18})(?:\.\.([0-9]{1,18}))?")
_DIGEST = whole(r"[0-9a-fA-F]{64}")


def _digest_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """``--expect``: a content digest as ``--dry-run`` prints it, or a usage error (exit 2) before
    anything is read, refreshed or sealed."""
    if value is None:
        return None
    text = value.strip().lower()
    if not _DIGEST.match(text):
        raise click.BadParameter(
            _("expected the 64 hexadecimal digits of a content digest, as `export --dry-run` prints it"),
            param_hint="--expect",
        )
    return text


def _report_dict(r: ExportReport, dry_run: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "policy_digest": r.policy_digest,
        "refresh": r.refresh.counts(),
        "review": r.refresh.review,
        "sent": [sent_dict(p) for p in every_package(r.sent)],
        "undelivered": undelivered_dicts(every_package(r.sent)),
        "skipped": r.skipped,
        "alarms": [o.message() for o in r.alarms],
        "notes": [n.text for n in r.notes],
    }
    if dry_run:
        out["peers"] = [
            {
                "peer": p.peer.node_id,
                "name": p.peer.node_name,
                "full": p.full,
                "count": p.count,
                "digest": p.digest,
                "summary": p.summary,
                "reversals": p.reversals,
                "items": p.items,
            }
            for p in r.plans
        ]
    return out


_HEADER = frozenset({"kind", "op", "table", "key", "version"})


def _shown(value: object) -> str:
    """A value in full, as in the item: null, an integer, or a string in quotes with only the
    characters that could drive a terminal escaped (nodekit.text.printable, without its limit)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return '"' + printable(value, len(value)) + '"'
    return printable(value, 1_000)


def _item_lines(it: dict[str, Any]) -> list[str]:
    """One item of a dry run: a header line, then every field on its own line, nulls included and
    nothing shortened; a document's bytes (``data``) are shown by size and SHA-256."""
    out = [f"  {it['op']} {it.get('table', it['kind'])} {it['key']} v{it['version']}"]
    for name, value in it.items():
        if name in _HEADER:
            continue
        if isinstance(value, dict):
            for field, v in value.items():
                out.append(f"    {name}.{printable(field, 64)}: {_shown(v)}")
        elif name == "data" and isinstance(value, str):
            data = base64.b64decode(value)
            out.append(f"    data: {len(data)} bytes, SHA-256 {hashlib.sha256(data).hexdigest()} (--json has them)")
        else:
            out.append(f"    {printable(name, 64)}: {_shown(value)}")
    return out


def _human(
    r: ExportReport,
    dry_run: bool,
    *,
    command: str = "internal-node",
    limit: int | None = None,
    names: Mapping[str, str] | None = None,
) -> None:
    if dry_run:
        _dry_run(r, command=command, limit=limit)
        return
    c = r.refresh.counts()
    click.echo(_("policy {digest}").format(digest=r.policy_digest))
    click.echo(
        _("publication refreshed: {counts}").format(counts=", ".join(f"{k} {v}" for k, v in c.items() if v))
        + (" " + _("(policy changed: everything re-projected)") if r.refresh.policy_changed else "")
        if any(c.values())
        else _("publication up to date")
    )
    _held(r)
    for sp in every_package(r.sent):
        click.echo(sent_line(sp, names))
    for note in r.notes:
        # a peer's name comes from its card: any string, so escaped like everything a terminal shows
        safe = {k: printable(v, 200) if isinstance(v, str) else v for k, v in note.params.items()}
        click.echo(_(note.template).format(**safe))
    for o in r.alarms:
        click.echo(o.message(), err=True)


def _held(r: ExportReport) -> None:
    waiting = [b for b in r.refresh.review if not b.get("decided")]
    for b in waiting[:20]:
        click.echo(
            _("HELD FOR REVIEW {table} {key} v{version}: {findings}").format(
                table=b["table"], key=b["key"], version=b["version"], findings=printable("; ".join(b["findings"]), 300)
            ),
            err=True,
        )
    if len(waiting) > 20:
        click.echo(
            _("... and {n} more held for review (`internal-node review list`)").format(n=len(waiting) - 20), err=True
        )


# the dry run's summary columns (internal_node.export.SUMMARY_COLUMNS) as a person reads them
_COLUMNS = {
    "new": N_("new"),
    "changed": N_("changed"),
    "withdrawn": N_("withdrawn"),
    "held": N_("held"),
    "reversed": N_("reversed"),
}


def _pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded to ``width`` terminal columns (a CJK character takes two)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def _dry_run(r: ExportReport, *, command: str, limit: int | None) -> None:
    """A dry run for a person: per public node a summary by kind, then the exact command that seals
    exactly that, then the items one by one (the first ``limit``); through a pager on a terminal."""
    lines: list[str] = []
    say = lines.append
    c = r.refresh.counts()
    say(_("policy {digest}").format(digest=r.policy_digest))
    if any(c.values()):
        changed = " " + _("(policy changed: everything re-projected)") if r.refresh.policy_changed else ""
        refreshed = ", ".join(f"{k} {v}" for k, v in c.items() if v)
        say(_("the export would first refresh the publication: {counts}").format(counts=refreshed) + changed)
    else:
        say(_("publication up to date"))
    _held(r)
    several = len(r.plans) > 1
    for p in r.plans:
        say("")
        items = ngettext("{n} item", "{n} items", p.count).format(n=p.count)
        say(
            _("== {peer}: {items}, content digest {digest}").format(
                peer=printable(p.peer.node_name), items=items, digest=p.digest
            )
        )
        say("  " + _pad(_("kind"), 11) + "".join(_pad(_(_COLUMNS[col]), 10, right=True) for col in SUMMARY_COLUMNS))
        for kind, per_kind in p.summary.items():
            say(f"  {kind:<11}" + "".join(f"{per_kind[col]:>10}" for col in SUMMARY_COLUMNS))
        if not p.summary:
            say(_("  (nothing new: a heartbeat)"))
        for rv in p.reversals:
            say(
                "  "
                + _("REVERSED {table} {key} v{version}: a withdrawn record published again").format(
                    table=rv["table"], key=rv["key"], version=rv["version"]
                )
            )
    say("")
    say(_("nothing sealed (--dry-run); to seal exactly this after review:"))
    for p in r.plans:
        # by name when it prints as itself, else by node id: a card's name may hold control characters
        who = p.peer.node_name if printable(p.peer.node_name, 200) == p.peer.node_name else p.peer.node_id
        peer = f" --peer {shlex.quote(who)}" if several else ""
        full = " --full" if p.full else ""
        say(f"  {command} export{full} --expect {p.digest}{peer}")
    shown = 0
    for p in r.plans:
        if limit is not None and shown >= limit:
            break
        say("")
        say(_("== items for {peer}").format(peer=printable(p.peer.node_name)))
        for it in p.items:
            if limit is not None and shown >= limit:
                break
            lines.extend(_item_lines(it))
            shown += 1
    total = sum(len(p.items) for p in r.plans)
    if total > shown:
        more = total - shown
        say(
            ngettext(
                "... {n} more item not shown (--limit {limit}; --json has them all)",
                "... {n} more items not shown (--limit {limit}; --json has them all)",
                more,
            ).format(n=more, limit=limit)
        )
    text = "\n".join(lines)
    if sys.stdout.isatty() and len(lines) > shutil.get_terminal_size().lines:
        click.echo_via_pager(text + "\n")
    else:
        click.echo(text)


def register(root: click.Group) -> None:
    @root.command("export")
    @click.option(
        "--full", is_flag=True, help="Seal a snapshot of the whole publication (bootstrap or recover a public node)."
    )
    @click.option(
        "--dry-run", is_flag=True, help="Show exactly what would be published, record by record, and its digest."
    )
    @click.option(
        "--expect",
        metavar="DIGEST",
        callback=_digest_option,
        help="Seal only if the content digest still equals this reviewed one.",
    )
    @click.option(
        "--expect-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Read the reviewed digest of --expect from this file (written after the review; the scheduled export).",
    )  # fmt: skip
    @click.option(
        "--stale-heartbeat", is_flag=True,
        help="With --expect: when the content changed since the review, send a heartbeat only and exit 5.",
    )  # fmt: skip
    @click.option(
        "--limit",
        type=click.IntRange(min=0),
        default=None,
        help="With --dry-run: show only the first N items after the summary (--json has them all).",
    )
    @click.option("--no-heartbeat", is_flag=True, help="Send nothing when nothing changed.")
    @click.option("--peer", metavar="NODE", help="Only this public node (node id or name).")
    @click.option(
        "--resend", metavar="SEQ[..SEQ]", help="Copy already-sealed packages from the archive to the medium again."
    )
    @click.option("--every", metavar="DURATION", help="Run in the foreground, exporting every DURATION (e.g. 1h).")
    @click.option(
        "--allow-missing-medium",
        is_flag=True,
        help="Exit 0 when the medium is not there: the package waits in the archive for the next export.",
    )
    @json_option
    @pass_node_context
    def export_cmd(
        nctx: NodeContext, full: bool, dry_run: bool, expect: str | None, expect_file: Path | None,
        stale_heartbeat: bool, no_heartbeat: bool, peer: str | None, limit: int | None, resend: str | None,
        every: str | None, allow_missing_medium: bool, as_json: bool,
    ) -> None:  # fmt: skip
        """Export the publishable changes since the last export to each trusted public node.

        Policy, masking and the leak guard run on every path (--full included); a record the leak
        guard blocks is reported and not sealed. A delta with nothing in it is a heartbeat."""
        if expect_file is not None:
            if expect is not None:
                raise click.UsageError(_("give --expect or --expect-file, not both"))
            expect = read_expect_file(expect_file)
        if stale_heartbeat and expect is None:
            raise click.UsageError(_("--stale-heartbeat needs --expect or --expect-file"))
        node = nctx.node()
        identity = nctx.identity()
        if resend is not None:
            m = _RANGE.match(resend)
            if not m:
                raise click.BadParameter(_("expected SEQ or SEQ..SEQ"), param_hint="--resend")
            first, last = int(m.group(1)), int(m.group(2) or m.group(1))
            sent = resend_packages(node, identity, first, last, peer)
            emit(
                {"sent": [sent_dict(p) for p in sent], "undelivered": undelivered_dicts(sent)},
                "\n".join(sent_line(p, node_names(node)) for p in sent), as_json=as_json,
            )  # fmt: skip
            _finish(sent, allow_missing_medium=allow_missing_medium, names=node_names(node))
            return
        if every is not None:
            if dry_run or expect:
                raise click.UsageError(_("--every cannot be combined with --dry-run or --expect"))
            _loop(nctx, parse_duration(every), full=full, heartbeat=not no_heartbeat, peer=peer)
            return
        with ProgressBars() as bars:
            try:
                report = export(
                    node, identity, full=full, dry_run=dry_run, expect=expect, heartbeat=not no_heartbeat, peer=peer,
                    progress=None if as_json else bars.update,
                )  # fmt: skip
            except ContentChanged as exc:
                if not stale_heartbeat:
                    raise
                stale_review(node, identity, peer, exc, as_json=as_json)
        command = f"internal-node --home {shlex.quote(str(node.config.home))}"
        emit(
            _report_dict(report, dry_run),
            lambda: _human(report, dry_run, command=command, limit=limit, names=node_names(node)),
            as_json=as_json,
        )
        _finish(every_package(report.sent), allow_missing_medium=allow_missing_medium, names=node_names(node))

    @root.command("publish")
    @click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--title", help="Title shown on the public platform (e.g. 行政处罚决定书).")
    @click.option("--approved-by", metavar="NAME", help="The operator approving publication (recorded in the log).")
    @click.option("--publish-until", type=click.DateTime(["%Y-%m-%d"]), help="Last day the document is shown.")
    @click.option("--subject-uscc", metavar="USCC", help="Attach the document to this subject's page.")
    @click.option("--withdraw", "withdraw_key", metavar="KEY", help="Withdraw a published document instead.")
    @click.option("--reason", default="revoked", show_default=True, help="Reason of a withdrawal.")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @json_option
    @pass_node_context
    def publish_cmd(
        nctx: NodeContext, file: Path | None, title: str | None, approved_by: str | None, publish_until: Any,
        subject_uscc: str | None, withdraw_key: str | None, reason: str, yes: bool, as_json: bool,
    ) -> None:  # fmt: skip
        """Queue a document (PDF, OFD, PNG, JPEG) for the next export, with an operator's approval.

        The leak guard cannot read inside documents, so publishing one needs --approved-by NAME and a
        confirmation; the approval is recorded in the transfer log with the file's SHA-256."""
        node = nctx.node()
        if not approved_by:
            raise click.UsageError(
                "--approved-by NAME is required: documents are published only with an operator's approval"
            )
        if withdraw_key is not None:
            with node.transaction() as s:
                withdraw_document(s, withdraw_key, reason=reason, approved_by=approved_by, at=node.clock())
            emit(
                {"withdrawn": withdraw_key},
                f"document {withdraw_key} will be withdrawn at the next export",
                as_json=as_json,
            )
            return
        if file is None or not title:
            raise click.UsageError(_("give FILE and --title (or --withdraw KEY)"))
        if not yes and not click.confirm(
            f"{approved_by}: publish {file.name} ({file.stat().st_size} bytes) as {title!r}? Its content is not "
            "checked by the leak guard",
            err=True,
        ):
            raise click.Abort()
        with node.transaction() as s:
            subject_key = None
            if subject_uscc:
                from internal_node.projection import subject_key as make_subject_key
                from internal_node.publication import pseudonym_key

                subject_key = make_subject_key(pseudonym_key(s), {"uscc": subject_uscc})
            q = queue_document(
                s, file, title=title, approved_by=approved_by, at=node.clock(),
                publish_until=publish_until.date() if publish_until else None, subject_key=subject_key,
            )  # fmt: skip
        emit(q.__dict__, f"queued {q.name} ({q.media_type}, {q.size} bytes) as document {q.key}", as_json=as_json)

    @root.command("import")
    @json_option
    @pass_node_context
    def import_cmd(nctx: NodeContext, as_json: bool) -> None:
        """Verify and apply the return packages waiting on the medium (receipts, key announcements).

        Exit 4 when a package was rejected (quarantined with its reason; the others are processed)."""
        outcomes = import_returns(nctx.node(), nctx.identity(unlock=True))
        emit({"outcomes": [o.as_dict() for o in outcomes]}, lambda: echo_outcomes(outcomes), as_json=as_json)
        finish(outcomes)


def _finish(packages: list[Any], *, allow_missing_medium: bool, names: Mapping[str, str] | None = None) -> None:
    """Exit 1 for a package the medium did not take (as ``import`` does), unless the medium is simply
    absent and ``--allow-missing-medium`` says that is expected (a device carried away between runs)."""
    missed = [p for p in packages if not p.delivered]
    if allow_missing_medium and missed and all(p.reason == "medium-missing" for p in missed):
        click.echo(
            ngettext(
                "medium missing: {n} package kept in the archive for the next export (--allow-missing-medium)",
                "medium missing: {n} packages kept in the archive for the next export (--allow-missing-medium)",
                len(missed),
            ).format(n=len(missed)),
            err=True,
        )
        return
    finish_sent(packages, names)


def read_expect_file(path: Path) -> str:
    """The reviewed digest in ``path`` (64 hex digits, surrounding blanks ignored)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise click.BadParameter(
            f"{path}: no such file (write the digest of a review there)", param_hint="--expect-file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(
            _("{path}: cannot read: {problem}").format(path=path, problem=shown(exc)), param_hint="--expect-file"
        ) from None
    if not _DIGEST.fullmatch(text):
        raise click.BadParameter(
            _("{path}: expected a digest of 64 hex digits").format(path=path), param_hint="--expect-file"
        )
    return text.lower()


def stale_review(node: Any, identity: Any, peer: str | None, exc: ContentChanged, *, as_json: bool) -> None:
    """The reviewed digest is stale: send a heartbeat only (the link is alive), then exit 5 (a review waits)."""
    sent = heartbeat_only(node, identity, peer=peer)
    emit(
        {"sent": [sent_dict(p) for p in sent], "undelivered": undelivered_dicts(sent), "awaiting_review": True},
        "\n".join(sent_line(p, node_names(node)) for p in sent), as_json=as_json,
    )  # fmt: skip
    finish_sent(sent, node_names(node))
    raise ReviewStale(N_("{problem}; sent a heartbeat only, the changes wait for that review"), params={"problem": exc})


def resend_packages(node: Any, identity: Any, first: int, last: int, peer: str | None) -> Any:
    if first > last:
        raise ExportError(
            N_("--resend {first}..{last}: the range is empty"),
            params={"first": first, "last": last},
            reason="bad-range",
        )
    return resend(node, identity, first, last, peer=peer)


def _loop(nctx: NodeContext, period: int, *, full: bool, heartbeat: bool, peer: str | None) -> None:
    """Export now and then every ``period`` seconds until SIGTERM/SIGINT (docs show a systemd timer too)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    node = nctx.node()
    identity = nctx.identity()
    while not stop.is_set():
        try:
            report = export(node, identity, full=full, heartbeat=heartbeat, peer=peer)
            _human(report, False, names=node_names(node))
        except Exception as exc:  # one failed round must not end the schedule
            reason, message, _code = one_line(exc)  # never SQL or a row, as for a single export
            click.echo(
                _("internal-node: export failed ({reason}): {message}").format(
                    reason=reason,
                    # a translatable error in the operator's language; anything else (a database fault) as
                    # one_line put it, never its SQL
                    message=printable(shown(exc), 2000) if isinstance(getattr(exc, "template", None), str) else message,
                ),
                err=True,
            )
        stop.wait(period)
