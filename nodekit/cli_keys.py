"""The ``keys`` command group of both node programs: the node's own identity and its trust store.

Thin: each command parses its options, finds the passphrase source, calls one function of
``nodekit.identity_ops`` and prints. Nothing here ever prints private key material.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from keys.errors import EncodingError, KeySetupError, KeyStoreError
from keys.identity import format_fingerprint, parse_fingerprint
from keys.keyfile import INSECURE_TEST_ENV, atomic_write, insecure_test_kdf_allowed
from keys.statements import REVOCATION_REASONS, RevocationStatement, SuccessionChange
from keys.times import format_time, parse_validity
from nodekit import identity_ops
from nodekit.cli import NodeContext, NodeGroup, display_width, emit, json_option, pass_node_context, table
from nodekit.errors import shown, shown_value
from nodekit.i18n import N_, _, ngettext
from nodekit.reasons import key_status_word, role_word
from nodekit.runtime import NodeSpec
from nodekit.text import printable
from transfer.limits import READS_FORMAT

EXPIRY_WARNING = timedelta(days=30)


def _validity(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    try:
        return parse_validity(value)
    except EncodingError as exc:
        raise click.BadParameter(shown(exc)) from None


def _prompt(confirm: bool) -> Callable[[], str]:
    def ask() -> str:
        try:
            text: str = click.prompt(
                _("Passphrase for this node's private keys"),
                hide_input=True,
                confirmation_prompt=confirm,
                err=True,
            )
        except click.Abort:
            raise KeySetupError(
                N_(
                    "no passphrase given: use --passphrase-file, CREDGAP_PASSPHRASE, [keys] passphrase_file or a terminal"
                ),
                reason="no-passphrase",
            ) from None
        return text

    return ask


def _source(nctx: NodeContext, *, confirm: bool = False) -> identity_ops.PassphraseSource:
    node = nctx.node()
    return identity_ops.passphrase_source(
        cli_file=nctx.passphrase_file, config=node.config, prompt=_prompt(confirm), warn=_warn
    )


def _warn(text: str) -> None:
    click.echo(_("warning: {text}").format(text=shown_value(text)), err=True)


def _warn_test_kdf() -> None:
    if insecure_test_kdf_allowed():
        _warn(
            _("{env}=1: key files use the insecure test-only Argon2id profile (tests only)").format(
                env=INSECURE_TEST_ENV
            )
        )


def _expiry_note(expires: datetime, now: datetime) -> str:
    if now >= expires:
        return "  " + _("EXPIRED")
    if expires - now <= EXPIRY_WARNING:
        days = (expires - now).days
        return "  " + ngettext(
            "(expires in {days} day: rotate soon)", "(expires in {days} days: rotate soon)", days
        ).format(days=days)
    return ""


def _write_public(path: Path, data: bytes) -> None:
    """Write a card or statement (public data) atomically, e.g. onto the transfer medium."""
    try:
        atomic_write(path.absolute(), data, replace=True, mode=0o644)
    except OSError as exc:
        raise KeyStoreError(
            N_("cannot write: {problem}"),
            reason="write-failed",
            exit_code=1,
            params={"problem": exc.strerror},
            where=f"{path}: ",
        ) from None


def _key_id_arg(value: str) -> str:
    try:
        return parse_fingerprint(value)
    except KeyStoreError as exc:
        raise click.BadParameter(f"KEYID: {shown(exc)}") from None


def register(root: click.Group, spec: NodeSpec) -> None:
    program = spec.program

    @root.group("keys", cls=NodeGroup)
    def keys_group() -> None:
        """The node's identity (its own keys) and its trust store (the peers' keys)."""

    @keys_group.command("init")
    @click.option("--name", default=None, help="The node name on its identity card (default: [node] name).")
    @click.option(
        "--no-passphrase", is_flag=True, help="Store the private key WITHOUT a passphrase (automation; logged)."
    )
    @click.option(
        "--validity", default="2y", show_default=True, callback=_validity, help="Key validity: e.g. 2y, 26w, 90d."
    )
    @json_option
    @pass_node_context
    def init_cmd(nctx: NodeContext, name: str | None, no_passphrase: bool, validity: timedelta, as_json: bool) -> None:
        """Make this node's identity: a node id, signing and encryption key pairs, the encrypted key file."""
        node = nctx.node()
        identity_ops.check_can_init(node)
        if no_passphrase:
            passphrase = None
            _warn(
                _(
                    "the private key is stored WITHOUT a passphrase: anyone who can read "
                    "{keys_dir} can act as this node (recorded in the transfer log)"
                ).format(keys_dir=node.config.keys_dir)
            )
        else:
            passphrase = _source(nctx, confirm=True)()
            identity_ops.check_new_passphrase(passphrase)
            _warn_test_kdf()
        identity = identity_ops.init_identity(
            node, name=name or node.config.name, passphrase=passphrase, now=node.clock(), validity=validity
        )
        data = identity_ops.own_report(identity, node.clock())
        emit(
            {"ok": True, **data},
            _(
                "created the identity of the {role} node {name} (node id {node})\n"
                "  fingerprint {fp}\n"
                "  next: `{program} keys export-card -o FILE`, carry the card to the peer, and read them the fingerprint"
            ).format(
                role=role_word(spec.role),
                name=printable(identity.name),
                node=identity.node_id,
                fp=data["fingerprint"],
                program=program,
            ),
            as_json=as_json,
        )

    @keys_group.command("show")
    @json_option
    @pass_node_context
    def show_cmd(nctx: NodeContext, as_json: bool) -> None:
        """Print this node's id and current key fingerprint."""
        node = nctx.node()
        now = node.clock()
        data = identity_ops.own_report(identity_ops.load_identity(node), now)

        def human() -> None:
            expires = datetime.fromisoformat(data["expires"].replace("Z", "+00:00"))
            protection = data["protection"]
            rows = [
                (
                    _("node"),
                    _("{name} ({role}), node id {node}").format(
                        name=printable(data["name"]), role=role_word(data["role"]), node=data["node_id"]
                    ),
                ),
                (_("key id"), data["key_id"]),
                (_("fingerprint"), data["fingerprint"]),
                (
                    _("valid"),
                    _("{start} to {end}").format(start=data["created"], end=data["expires"])
                    + _expiry_note(expires, now),
                ),
                (_("protection"), _("NONE (no passphrase)") if protection == "none" else "argon2id, " + protection),
            ]
            width = max(display_width(label) for label, _value in rows) + 2
            for label, value in rows:
                click.echo(label + " " * (width - display_width(label)) + value)

        emit({"ok": True, **data}, human, as_json=as_json)

    @keys_group.command("list")
    @json_option
    @pass_node_context
    def list_cmd(nctx: NodeContext, as_json: bool) -> None:
        """List own keys and trusted peer keys with their status."""
        node = nctx.node()
        report = identity_ops.key_report(node, node.clock())

        def human() -> None:
            if report.own is None:
                click.echo(_("own keys: none (run `{program} keys init`)").format(program=program))
            else:
                click.echo(
                    _("own keys of {name} ({node}):").format(
                        name=printable(report.own["name"]), node=report.own["node_id"]
                    )
                )
                rows = [
                    (k["fingerprint"], key_status_word(k["status"]), k["created"], k["expires"])
                    for k in report.own["keys"]
                ]
                click.echo(table(rows, [_("fingerprint"), _("status"), _("created"), _("expires")]))
            click.echo("")
            if not report.trusted:
                click.echo(
                    _("trusted keys: none (enrol a peer with `{program} keys trust CARD --fingerprint FP`)").format(
                        program=program
                    )
                )
                return
            click.echo(_("trusted keys:"))
            rows2: list[tuple[object, ...]] = []
            for k in report.trusted:
                status = key_status_word(k["status"])
                if k["status"] == "superseded":
                    status += " " + _("after seq {seq}").format(seq=k["last_seq"])
                status += _(", expired") if k["expired"] else ""
                rows2.append(
                    (k["fingerprint"], role_word(k["role"]), k["node_name"], k["node_id"], status, k["expires"])
                )
            click.echo(table(rows2, [_("fingerprint"), _("role"), _("node"), _("node id"), _("status"), _("expires")]))

        emit({"ok": True, "own": report.own, "trusted": report.trusted}, human, as_json=as_json)

    @keys_group.command("export-card")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the card to FILE.")
    @click.option(
        "--reads",
        type=click.IntRange(1, READS_FORMAT),
        default=READS_FORMAT,
        show_default=True,
        help="The highest package format the card advertises; 1 writes the version-1 card a peer older than "
        "format 2 reads (docs/OPERATIONS.md, Upgrading across the gap).",
    )
    @json_option
    @pass_node_context
    def export_card_cmd(nctx: NodeContext, output: Path | None, reads: int, as_json: bool) -> None:
        """Write this node's identity card (to stdout without -o), to carry to the peer once (and again after an
        upgrade: it advertises the package formats this node reads)."""
        node = nctx.node()
        identity = identity_ops.load_identity(node, _source(nctx))
        card = identity.card(reads=reads)
        if node.clock() >= card.expires:
            _warn(
                _("key {key} expired at {at}: a peer will refuse this card").format(
                    key=card.key_id, at=format_time(card.expires)
                )
            )
        fingerprint = format_fingerprint(card.key_id)
        if output is not None:
            _write_public(output, card.encode())
        data: dict[str, Any] = {
            "ok": True,
            "file": None if output is None else str(output),
            "key_id": card.key_id,
            "fingerprint": fingerprint,
            "card": card.document(),
            "reads": card.reads,
        }
        if as_json:
            emit(data, as_json=True)
        elif output is None:
            click.echo(card.encode().decode(), nl=False)
            click.echo(_("fingerprint {fp}").format(fp=fingerprint), err=True)
        else:
            click.echo(_("wrote the identity card of node {node} to {file}").format(node=identity.node_id, file=output))
            click.echo(_("fingerprint {fp}").format(fp=fingerprint))
            click.echo(_("give the peer's operator this fingerprint by another path than the card (phone, paper)"))

    @keys_group.command("trust")
    @click.argument("card", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--fingerprint", required=True, help="The peer's full fingerprint, obtained out of band.")
    @json_option
    @pass_node_context
    def trust_cmd(nctx: NodeContext, card: Path, fingerprint: str, as_json: bool) -> None:
        """Enrol a peer's identity card if its full fingerprint matches FP and its self-signature verifies."""
        node = nctx.node()
        key, added = identity_ops.trust_card_file(node, card, fingerprint, node.clock())
        data = {
            "ok": True,
            "added": added,
            "key_id": key.key_id,
            "fingerprint": format_fingerprint(key.key_id),
            "node_id": key.node_id,
            "node_name": key.node_name,
            "role": key.role,
            "expires": format_time(key.expires),
        }
        emit(
            data,
            (
                _("trusted key {fp} of {role} node {name} ({node}), valid to {expires}")
                if added
                else _("already trusted: key {fp} of {role} node {name} ({node}), valid to {expires}; nothing changed")
            ).format(
                fp=format_fingerprint(key.key_id),
                role=role_word(key.role),
                name=printable(key.node_name),
                node=key.node_id,
                expires=format_time(key.expires),
            ),
            as_json=as_json,
        )

    @keys_group.command("rotate")
    @click.option("--validity", default="2y", show_default=True, callback=_validity, help="Validity of the new key.")
    @click.option(
        "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Also write the statement to FILE."
    )
    @json_option
    @pass_node_context
    def rotate_cmd(nctx: NodeContext, validity: timedelta, output: Path | None, as_json: bool) -> None:
        """Replace the current key: new key pairs, same node id, a succession statement signed by both keys."""
        node = nctx.node()
        identity = identity_ops.load_identity(node, _source(nctx))
        _warn_test_kdf()
        statement = identity_ops.rotate_identity(node, identity, now=node.clock(), validity=validity)
        if output is not None:
            _write_public(output, statement.encode())
        data = {
            "ok": True,
            "node_id": identity.node_id,
            "old_key_id": statement.old_key_id,
            "new_key_id": statement.new_key_id,
            "fingerprint": format_fingerprint(statement.new_key_id),
            "last_seq": dict(statement.last_seq),
            "file": None if output is None else str(output),
        }

        def human() -> None:
            click.echo(
                _("rotated node {node}: key {old} -> {new}").format(
                    node=identity.node_id, old=statement.old_key_id, new=statement.new_key_id
                )
            )
            click.echo("  " + _("new fingerprint {fp}").format(fp=data["fingerprint"]))
            for peer, seq in sorted(statement.last_seq.items()):
                click.echo(
                    "  "
                    + _("to {peer}: the old key signs up to package {seq}, which carries the statement").format(
                        peer=peer, seq=seq
                    )
                )
            click.echo("  " + _("peers enrolling from now on need the new card (keys export-card)"))

        emit(data, human, as_json=as_json)

    @keys_group.command("revoke")
    @click.option("--key", "key_id", default=None, help="The own key to revoke (default: the current key).")
    @click.option("--reason", type=click.Choice(REVOCATION_REASONS), default="unspecified", show_default=True)
    @click.option(
        "--validity", default="2y", show_default=True, callback=_validity, help="Validity of a replacement key."
    )
    @click.option(
        "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Also write the statement to FILE."
    )
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @json_option
    @pass_node_context
    def revoke_cmd(
        nctx: NodeContext,
        key_id: str | None,
        reason: str,
        validity: timedelta,
        output: Path | None,
        yes: bool,
        as_json: bool,
    ) -> None:
        """Revoke an own key for good; revoking the current key makes a new one that peers must enrol."""
        node = nctx.node()
        identity = identity_ops.load_identity(node, _source(nctx))
        target = identity.key(_key_id_arg(key_id) if key_id else identity.current_key_id)
        if not yes:
            click.confirm(
                _("Revoke key {fp} for good?").format(fp=format_fingerprint(target.key_id)), abort=True, err=True
            )
        _warn_test_kdf()
        statement, replacement = identity_ops.revoke_identity(
            node, identity, now=node.clock(), key_id=target.key_id, reason=reason, validity=validity
        )
        if output is not None:
            _write_public(output, statement.encode())
        data = {
            "ok": True,
            "node_id": identity.node_id,
            "revoked_key_id": statement.key_id,
            "reason": reason,
            "new_key_id": None if replacement is None else replacement.key_id,
            "fingerprint": None if replacement is None else format_fingerprint(replacement.key_id),
            "file": None if output is None else str(output),
        }

        def human() -> None:
            click.echo(
                _("revoked key {key} of node {node} ({reason})").format(
                    key=statement.key_id, node=identity.node_id, reason=reason
                )
            )
            if replacement is not None:
                click.echo("  " + _("new key {fp}").format(fp=format_fingerprint(replacement.key_id)))
                click.echo(
                    "  "
                    + _(
                        "every peer must apply the revocation statement and enrol the new card, checked by fingerprint:"
                    )
                )
                click.echo(
                    "  "
                    + _("`{program} keys export-card -o FILE`, plus the statement (-o FILE)").format(program=program)
                )

        emit(data, human, as_json=as_json)

    @keys_group.command("distrust")
    @click.argument("key_id", metavar="KEYID")
    @json_option
    @pass_node_context
    def distrust_cmd(nctx: NodeContext, key_id: str, as_json: bool) -> None:
        """Remove a peer key from the trust store for good (local decision, takes effect at once)."""
        node = nctx.node()
        key, changed = identity_ops.distrust_key(node, _key_id_arg(key_id), node.clock())
        emit(
            {"ok": True, "key_id": key.key_id, "node_id": key.node_id, "status": key.status.value, "changed": changed},
            (
                _("distrusted key {key} of {role} node {name} ({node})")
                if changed
                else _("already {status}: key {key} of {role} node {name} ({node})")
            ).format(
                status=key_status_word(key.status.value),
                key=key.key_id,
                role=role_word(key.role),
                name=printable(key.node_name),
                node=key.node_id,
            ),
            as_json=as_json,
        )

    @keys_group.command("apply-statement")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @json_option
    @pass_node_context
    def apply_statement_cmd(nctx: NodeContext, file: Path, as_json: bool) -> None:
        """Apply a peer's succession or revocation statement carried out of band."""
        node = nctx.node()
        statement, change = identity_ops.apply_statement_file(node, file, node.clock())
        kind = "revocation" if isinstance(statement, RevocationStatement) else "succession"
        data: dict[str, Any] = {
            "ok": True,
            "kind": kind,
            "node_id": statement.node_id,
            "changed": not change.already_applied,
        }
        if isinstance(change, SuccessionChange):
            data.update(old_key_id=change.old.key_id, new_key_id=change.new.key_id, last_seq=change.last_seq)
            text = _("node {node}: key {old} -> {new} (old key up to seq {seq})").format(
                node=statement.node_id, old=change.old.key_id, new=change.new.key_id, seq=change.last_seq
            )
        else:
            data.update(key_id=change.key.key_id)
            text = _("node {node}: key {key} revoked").format(node=statement.node_id, key=change.key.key_id)
        emit(data, text + ("" if data["changed"] else " " + _("(already applied)")), as_json=as_json)
