"""The ``transfer`` commands both node programs have: ``transfer inspect``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from exchange.cli_outcomes import kind_word, result_word
from exchange.inspect import inspect_package
from nodekit.cli import NodeContext, display_width, emit, json_option, pass_node_context
from nodekit.errors import ExitCode, NodeError
from nodekit.i18n import N_, _, ngettext
from nodekit.reasons import reason_param, reason_text
from nodekit.text import printable


class InspectFailed(NodeError):
    exit_code = ExitCode.VERIFICATION
    reason = "verification-failed"


def register(root: click.Group) -> None:
    @root.group("transfer")
    def transfer_group() -> None:
        """Packages on the transfer medium."""

    @transfer_group.command("inspect")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--header-only", is_flag=True, help="Verify the signed header only (no passphrase needed).")
    @json_option
    @pass_node_context
    def inspect_cmd(nctx: NodeContext, file: Path, header_only: bool, as_json: bool) -> None:
        """Show a package's header and verify it (signature, recipient, channel rules and, unless
        --header-only, the whole payload) without applying anything. Exit 4 if it does not verify."""
        report = inspect_package(nctx.node(), nctx.identity(), file, payload=not header_only)
        emit(report, lambda: _human(report), as_json=as_json)
        if not report["verified"]:
            raise InspectFailed(
                N_("does not verify: {reason}: {message}"),
                reason=str(report.get("reason", "verification-failed")),
                params={
                    "reason": report.get("reason", "?"),
                    "message": reason_param(report.get("reason"), str(report.get("message", ""))),
                },
                where=f"{file}: ",
            )


def _label(word: str) -> str:
    """A field name of the listing, in the operator's language, padded to the value column."""
    return word + " " * max(1, 10 - display_width(word))


def _human(r: dict[str, Any]) -> None:
    click.echo(_label(_("file")) + printable(r["file"], 300))
    click.echo(_label(_("size")) + ngettext("{n} byte", "{n} bytes", r["size"]).format(n=r["size"]))
    if "digest" in r:
        click.echo(_label(_("digest")) + str(r["digest"]))
    header = r.get("header")
    if header is not None:
        label = (
            _("header (signature VERIFIED)")
            if r.get("header_verified")
            else _("header (UNVERIFIED: do not trust these values)")
        )
        click.echo(label)
        for k in sorted(header):  # the header's own field names: codes of docs/FORMAT.md
            value = header[k]
            when = _instant(value) if k in ("created", "not_after") else None
            if when is not None:
                click.echo(f"  {k:<10} {when} ({value})")
            else:
                click.echo(f"  {k:<10} {printable(value, 1000)}")
    if "signer" in r:
        sg = r["signer"]
        click.echo(
            _label(_("signer"))
            + _("{name} ({node}) key {key}").format(
                name=printable(sg["node_name"]), node=sg["node_id"], key=sg["key_id"]
            )
        )
    if "channel" in r:
        ch = r["channel"]
        fields = {"verdict": result_word(ch["verdict"]), "seq": ch["last_applied"]}
        click.echo(
            _label(_("channel"))
            + (
                _("{verdict} (last applied {seq}): {why}").format(
                    **fields, why=printable(reason_text(ch.get("reason"), ch.get("message", "")))
                )
                if ch["verdict"] == "rejected"
                else _("{verdict} (last applied {seq})").format(**fields)
            )
        )
    if isinstance(r.get("payload"), dict) and r["payload"].get("verified"):
        counts = ", ".join(f"{kind_word(k)} {v}" for k, v in r["payload"]["counts"].items())
        click.echo(_label(_("payload")) + _("verified: {counts}").format(counts=counts))
    elif isinstance(r.get("payload"), dict):  # it failed part way: what verified before the failure
        counts = ", ".join(f"{kind_word(k)} {v}" for k, v in r["payload"].get("counts_so_far", {}).items())
        click.echo(
            _label(_("payload"))
            + _("NOT VERIFIED (items before the failure: {counts})").format(counts=counts or _("none"))
        )
    elif "payload" in r:
        click.echo(_label(_("payload")) + printable(_(str(r["payload"]))))
    click.echo(
        _label(_("result"))
        + (_("VERIFIED") if r["verified"] else _("NOT VERIFIED: {reason}").format(reason=r.get("reason", "?")))
    )


def _instant(value: object) -> str | None:
    """A header time as ISO 8601, or None when it is no instant a calendar holds (an unverified header
    may carry any integer up to 2^53: shown as the number, never an internal error)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")
    except (ValueError, OverflowError, OSError):
        return None
