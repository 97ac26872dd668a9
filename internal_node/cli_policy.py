"""The ``policy`` commands of ``internal-node``: check the home's disclosure policy, show or write the default."""

from __future__ import annotations

from pathlib import Path

import click

from internal_node.policy import DEFAULT_POLICY_TOML, check_policy, init_policy
from nodekit.cli import NodeContext, emit, json_option, pass_node_context
from nodekit.i18n import _


def register(root: click.Group) -> None:
    @root.group("policy")
    def policy_group() -> None:
        """The disclosure policy (policy.toml): what may be published, masked or dropped."""

    @policy_group.command("check")
    @click.option(
        "--file",
        "file_",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Check this file instead of the home's policy file (e.g. before installing it).",
    )
    @json_option
    @pass_node_context
    def check_cmd(nctx: NodeContext, file_: Path | None, as_json: bool) -> None:
        """Validate the policy file and print its digest (the digest every package will carry)."""
        path = file_ if file_ is not None else nctx.node(check_schema=False).config.policy_file
        data = check_policy(path)
        digest = _("digest {digest}").format(digest=data["digest"])
        emit(data, _("{path}: ok").format(path=path) + "\n  " + digest, as_json=as_json)

    @policy_group.command("show-default")
    def show_default_cmd() -> None:
        """Print the default policy file (safe defaults, commented)."""
        click.echo(DEFAULT_POLICY_TOML, nl=False)

    @policy_group.command("init")
    @click.option("--force", is_flag=True, help="Replace an existing policy file with the default.")
    @json_option
    @pass_node_context
    def init_cmd(nctx: NodeContext, force: bool, as_json: bool) -> None:
        """Write the default policy file into the node home (init does this for a new home)."""
        data = init_policy(nctx.node(check_schema=False).config.policy_file, force=force)
        digest = _("digest {digest}").format(digest=data["digest"])
        emit(data, _("wrote {path}").format(path=data["file"]) + "\n  " + digest, as_json=as_json)
