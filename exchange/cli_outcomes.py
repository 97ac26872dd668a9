"""Printing exchange outcomes the same way on both node programs (import, watch, export)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from exchange.engine import Outcome, SentPackage
from nodekit.cli import table
from nodekit.errors import ExitCode, NodeError
from nodekit.i18n import ENGLISH, N_, _, language, ngettext
from nodekit.reasons import reason_param, reason_text
from nodekit.runtime import Node
from nodekit.text import plural, printable


class PackagesRejected(NodeError):
    """At least one package was rejected (and quarantined); the others were processed."""

    exit_code = ExitCode.VERIFICATION
    reason = "package-rejected"


Names = Mapping[str, str]

# the words a person reads for a package's result and an item kind (--json and the logs keep the codes)
_RESULTS = {
    "applied": N_("applied"),
    "rebased": N_("rebased"),
    "duplicate": N_("duplicate"),
    "pending": N_("pending"),
    "rejected": N_("rejected"),
    "skipped": N_("skipped"),
    # the channel's verdict on a package (transfer.channel.Verdict), which `transfer inspect` shows
    "accept": N_("accept"),
    "gap": N_("gap"),
    "rebase": N_("rebase"),
}
_ITEM_KINDS = {
    "manifest": N_("manifest"),
    "record": N_("record"),
    "document": N_("document"),
    "snapshot": N_("snapshot"),
    "heartbeat": N_("heartbeat"),
    "key-announcement": N_("key-announcement"),
    "receipt": N_("receipt"),
    "checkpoint": N_("checkpoint"),
    "objection": N_("objection"),
    "objection-resolution": N_("objection-resolution"),
    "binding-request": N_("binding-request"),
    "binding-decision": N_("binding-decision"),
    "application": N_("application"),
    "application-status": N_("application-status"),
    "application-decision": N_("application-decision"),
}


def result_word(result: str) -> str:
    """A package's result in the operator's language (the code itself when it has no word)."""
    return _(_RESULTS[result]) if result in _RESULTS else result


def kind_word(kind: str) -> str:
    """An item kind in the operator's language; a dotted count (``upserted.penalty``) stays a code."""
    return _(_ITEM_KINDS[kind]) if kind in _ITEM_KINDS else kind


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
        [
            o.file,
            o.seq if o.seq is not None else "-",
            result_word(o.result),
            o.reason or "-",
            _counts(o) or reason_text(o.reason, o.message),
        ]
        for o in outcomes
    ]
    return table(rows, [_("file"), _("seq"), _("result"), _("reason"), _("details")])


def _counts(o: Outcome) -> str:
    return ", ".join(f"{kind_word(k)} {v}" for k, v in sorted(o.counts.items()))


def outcome_line(o: Outcome, names: Names | None = None) -> str:
    """One line per package for ``watch``; the file name and message may come from the medium or an
    unverified header, so they are escaped like every table cell."""
    extra = (
        f" {printable(o.reason, 64)}: {printable(reason_text(o.reason, o.message), 500)}"
        if o.result in ("rejected", "skipped")
        else (f" {_counts(o)}" if o.counts else "")
    )
    seq = o.seq if o.seq is not None else "?"
    return (
        _("{result} {channel} seq {seq} {file}").format(
            result=result_word(o.result), channel=channel_label(o.channel, names), seq=seq, file=printable(o.file, 200)
        )
        + extra
    )


def finish(outcomes: list[Outcome]) -> None:
    """Exit 4 when a package was rejected, after everything else was processed."""
    rejected = [o for o in outcomes if o.result == "rejected"]
    if rejected:
        raise PackagesRejected(
            N_("{packages} rejected and quarantined (first: {file}: {reason})"),
            params={
                "packages": _Counted(len(rejected)),
                "file": rejected[0].file,
                "reason": rejected[0].reason,
            },
        )


class _Counted:
    """``N package(s)``: English in str() (logs, --json), in the operator's language when shown."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __str__(self) -> str:
        return plural(self.n, "package")

    def shown(self) -> str:
        return ngettext("{n} package", "{n} packages", self.n).format(n=self.n)


class _Listed:
    """``seq 1 on a → b, …``: English in str() (logs, --json), in the operator's language when shown."""

    def __init__(self, packages: list[tuple[int, str]]) -> None:
        self.packages = packages

    def __str__(self) -> str:
        return ", ".join(f"seq {seq} on {channel}" for seq, channel in self.packages)

    def shown(self) -> str:
        separator = ", " if language() == ENGLISH else "，"
        return separator.join(_("seq {seq} on {channel}").format(seq=seq, channel=ch) for seq, ch in self.packages)


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
    fields = {"channel": channel_label(p.channel, names), "seq": p.seq, "size": p.size, "medium": p.medium}
    if not p.delivered:
        return _(
            "NOT DELIVERED {channel} seq {seq} ({size} bytes) kept in the archive: {reason}: {message}; "
            "the next export delivers it"
        ).format(**fields, reason=p.reason or "medium", message=printable(reason_text(p.reason, p.message), 500))
    if p.earlier:
        return _(
            "delivered {channel} seq {seq} ({size} bytes, sealed by an earlier export) written to {medium}"
        ).format(**fields)
    return _("sealed {channel} seq {seq} ({size} bytes, {counts}) written to {medium}").format(
        **fields, counts=_counted(p.counts)
    )


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{kind_word(k)} {v}" for k, v in sorted(counts.items())) or _("empty")


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
        raise PackagesUndelivered(
            N_("{packages} not delivered, kept in the archive ({listed}): {message}; the next export delivers them"),
            reason=first.reason or "medium",
            params={
                "packages": _Counted(len(missed)),
                "listed": _Listed([(p.seq, channel_label(p.channel, names)) for p in missed[:10]]),
                "message": reason_param(first.reason, printable(first.message, 500)),
            },
        )


def echo_outcomes(outcomes: list[Outcome]) -> None:
    if outcomes:
        click.echo(outcomes_table(outcomes))
    else:
        click.echo(_("nothing to import"))
