"""Printing exchange outcomes the same way on both node programs (import, watch, export)."""

from __future__ import annotations

from typing import Any

import click

from exchange.engine import Outcome, SentPackage
from nodekit.cli import table
from nodekit.errors import ExitCode, NodeError
from nodekit.text import printable


class PackagesRejected(NodeError):
    """At least one package was rejected (and quarantined); the others were processed."""

    exit_code = ExitCode.VERIFICATION
    reason = "package-rejected"


def outcomes_table(outcomes: list[Outcome]) -> str:
    rows = [
        [o.file, o.seq if o.seq is not None else "-", o.result, o.reason or "-", _counts(o) or o.message[:80]]
        for o in outcomes
    ]
    return table(rows, ["file", "seq", "result", "reason", "details"])


def _counts(o: Outcome) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(o.counts.items()))


def outcome_line(o: Outcome) -> str:
    """One line per package for ``watch``; the file name and message may come from the medium or an
    unverified header, so they are escaped like every table cell."""
    extra = (
        f" {printable(o.reason, 64)}: {printable(o.message, 500)}"
        if o.result in ("rejected", "skipped")
        else (f" {_counts(o)}" if o.counts else "")
    )
    seq = o.seq if o.seq is not None else "?"
    return f"{o.result} {printable(o.channel or '', 140)} seq {seq} {printable(o.file, 200)}{extra}"


def finish(outcomes: list[Outcome]) -> None:
    """Exit 4 when a package was rejected, after everything else was processed."""
    rejected = [o for o in outcomes if o.result == "rejected"]
    if rejected:
        raise PackagesRejected(
            f"{len(rejected)} package(s) rejected and quarantined (first: {rejected[0].file}: {rejected[0].reason})"
        )


def sent_dict(p: SentPackage) -> dict[str, Any]:
    return {
        "channel": p.channel,
        "seq": p.seq,
        "digest": p.digest,
        "size": p.size,
        "counts": p.counts,
        "archive": str(p.archive),
        "medium": str(p.medium) if p.medium else None,
    }


def sent_line(p: SentPackage) -> str:
    where = f"written to {p.medium}" if p.medium else "kept in the archive (medium unavailable: rerun to deliver)"
    return f"sealed {p.channel} seq {p.seq} ({p.size} bytes, {p.counts}) {where}"


def echo_outcomes(outcomes: list[Outcome]) -> None:
    if outcomes:
        click.echo(outcomes_table(outcomes))
    else:
        click.echo("nothing to import")
