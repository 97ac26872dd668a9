"""Printing exchange outcomes the same way on both node programs (import, watch, export)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from exchange.engine import Outcome, SentPackage
from nodekit.cli import table
from nodekit.errors import ExitCode, NodeError
from nodekit.runtime import Node
from nodekit.text import plural, printable


class PackagesRejected(NodeError):
    """At least one package was rejected (and quarantined); the others were processed."""

    exit_code = ExitCode.VERIFICATION
    reason = "package-rejected"


Names = Mapping[str, str]


def node_names(node: Node) -> dict[str, str]:
    """Node id → node name for this node and every peer in its trust store (how channels are shown)."""
    from nodekit import trust_store

    with node.sessions() as s:
        names = {r.node_id: r.node_name for r in trust_store.trusted_rows(s)}
        me = trust_store.own_node_id(s)
    if me is not None:
        names[me] = node.config.name
    return names


def channel_label(channel: str | None, names: Names | None) -> str:
    """A channel as a person reads it, ``城市内网 → 城市公网``; its folder name when a node is unknown."""
    if not channel:
        return "?"
    sender, sep, recipient = channel.partition("_to_")
    if sep and names and sender in names and recipient in names:
        return f"{printable(names[sender], 100)} → {printable(names[recipient], 100)}"
    return printable(channel, 140)


def outcomes_table(outcomes: list[Outcome]) -> str:
    rows = [
        [o.file, o.seq if o.seq is not None else "-", o.result, o.reason or "-", _counts(o) or o.message]
        for o in outcomes
    ]
    return table(rows, ["file", "seq", "result", "reason", "details"])


def _counts(o: Outcome) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(o.counts.items()))


def outcome_line(o: Outcome, names: Names | None = None) -> str:
    """One line per package for ``watch``; the file name and message may come from the medium or an
    unverified header, so they are escaped like every table cell."""
    extra = (
        f" {printable(o.reason, 64)}: {printable(o.message, 500)}"
        if o.result in ("rejected", "skipped")
        else (f" {_counts(o)}" if o.counts else "")
    )
    seq = o.seq if o.seq is not None else "?"
    return f"{o.result} {channel_label(o.channel, names)} seq {seq} {printable(o.file, 200)}{extra}"


def finish(outcomes: list[Outcome]) -> None:
    """Exit 4 when a package was rejected, after everything else was processed."""
    rejected = [o for o in outcomes if o.result == "rejected"]
    if rejected:
        raise PackagesRejected(
            f"{plural(len(rejected), 'package')} rejected and quarantined "
            f"(first: {rejected[0].file}: {rejected[0].reason})"
        )


class PackagesUndelivered(NodeError):
    """At least one package could not be written to the medium: it stays in the archive, and the next
    export (or ``export --resend``) delivers it. The reason is the first package's medium reason."""

    exit_code = ExitCode.FAILURE
    reason = "medium"


def sent_dict(p: SentPackage) -> dict[str, Any]:
    """One package of an export for ``--json`` (flatten with :func:`exchange.engine.every_package` first)."""
    out: dict[str, Any] = {
        "channel": p.channel,
        "seq": p.seq,
        "digest": p.digest,
        "size": p.size,
        "counts": p.counts,
        "archive": str(p.archive),
        "medium": str(p.medium) if p.medium else None,
        "delivered": p.delivered,
    }
    if p.earlier:
        out["earlier"] = True
    if not p.delivered:
        out["reason"], out["message"] = p.reason or "medium", p.message
    return out


def sent_line(p: SentPackage, names: Names | None = None) -> str:
    """One package of an export for a person: sealed (or delivered, for an earlier one) and where, or
    NOT DELIVERED with the medium's reason."""
    what = f"{channel_label(p.channel, names)} seq {p.seq} ({p.size} bytes"
    if not p.delivered:
        return (
            f"NOT DELIVERED {what}) kept in the archive: {p.reason or 'medium'}: {printable(p.message, 500)}; "
            "the next export delivers it"
        )
    if p.earlier:
        return f"delivered {what}, sealed by an earlier export) written to {p.medium}"
    return f"sealed {what}, {_counted(p.counts)}) written to {p.medium}"


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"


def undelivered_dicts(packages: list[SentPackage]) -> list[dict[str, Any]]:
    """The packages not delivered, for ``--json``: channel, seq, reason and message each."""
    return [
        {"channel": p.channel, "seq": p.seq, "reason": p.reason or "medium", "message": p.message}
        for p in packages
        if not p.delivered
    ]


def finish_sent(packages: list[SentPackage], names: Names | None = None) -> None:
    """Exit 1 with the medium's reason when a package was not delivered, after all were listed."""
    missed = [p for p in packages if not p.delivered]
    if missed:
        first = missed[0]
        listed = ", ".join(f"seq {p.seq} on {channel_label(p.channel, names)}" for p in missed[:10])
        raise PackagesUndelivered(
            f"{plural(len(missed), 'package')} not delivered, kept in the archive ({listed}): "
            f"{printable(first.message, 500)}; the next export delivers them",
            reason=first.reason or "medium",
        )


def echo_outcomes(outcomes: list[Outcome]) -> None:
    if outcomes:
        click.echo(outcomes_table(outcomes))
    else:
        click.echo("nothing to import")
