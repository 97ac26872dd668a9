"""The ``transfer`` commands both node programs have: ``transfer inspect``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from exchange.inspect import inspect_package
from nodekit.cli import NodeContext, emit, json_option, pass_node_context
from nodekit.errors import ExitCode, NodeError
from nodekit.text import human, printable


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
                f"{file}: does not verify: {report.get('reason', '?')}: {report.get('message', '')}",
                reason=str(report.get("reason", "verification-failed")),
            )


def _human(r: dict[str, Any]) -> None:
    click.echo(f"file      {printable(r['file'], 300)}")
    click.echo(f"size      {r['size']} bytes")
    if "digest" in r:
        click.echo(f"digest    {r['digest']}")
    header = r.get("header")
    if header is not None:
        label = (
            "header (signature VERIFIED)"
            if r.get("header_verified")
            else "header (UNVERIFIED: do not trust these values)"
        )
        click.echo(label)
        for k in sorted(header):
            value = header[k]
            if k in ("created", "not_after") and isinstance(value, int):
                when = datetime.fromtimestamp(value, UTC).isoformat(timespec="seconds")
                click.echo(f"  {k:<10} {when} ({value})")
            else:
                click.echo(f"  {k:<10} {printable(value, 1000)}")
    if "signer" in r:
        sg = r["signer"]
        click.echo(f"signer    {printable(sg['node_name'])} ({sg['node_id']}) key {sg['key_id']}")
    if "channel" in r:
        ch = r["channel"]
        click.echo(
            f"channel   {ch['verdict']} (last applied {ch['last_applied']})"
            + (f": {printable(ch.get('message', ''))}" if ch["verdict"] == "rejected" else "")
        )
    if isinstance(r.get("payload"), dict) and r["payload"].get("verified"):
        click.echo(f"payload   verified: {human(r['payload']['counts'])}")
    elif "payload" in r:
        click.echo(f"payload   {printable(r['payload'])}")
    click.echo("result    " + ("VERIFIED" if r["verified"] else f"NOT VERIFIED: {r.get('reason', '?')}"))
