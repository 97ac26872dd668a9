"""``public-node admin``: administrator accounts are managed only here, on the host (三员分立: the
web's system administrator cannot take over the auditor). Each use is recorded in the web audit log
with the operator as actor. Also the web audit key's rotation and the retention purge."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from nodekit import i18n
from nodekit.cli import NodeContext, emit, json_option, pass_node_context
from nodekit.errors import ExitCode, NodeError, shown_value
from nodekit.events import default_actor
from nodekit.home import NodeConfig, parse_duration
from nodekit.i18n import N_
from public_node.web import accounts
from public_node.web import audit as weblog
from public_node.web.accounts import AccountProblem
from public_node.web.authmodels import Account, RecoveryCode
from public_node.web.config import load_web_config
from public_node.web.db import upgrade_web_database, web_engine
from public_node.web.render import translations
from transfer.log import EventCode

CONTACT_RETENTION = "1095d"  # three years  # documented in docs/OPERATIONS.md ("Accounts and retention")


def _(message: str) -> str:
    """``message`` in the operator's language, from the platform's catalogue (its account messages are
    there), which falls back to the operators' one; the English id itself in English."""
    language = i18n.language()
    return message if language == i18n.ENGLISH else translations(language).gettext(message)


class AdminError(NodeError):
    """An administrator command that cannot be done as asked (no such account, a person's account).
    Its message id is in the platform's catalogue: English in node.log and --json, translated on screen."""

    exit_code = ExitCode.USAGE
    reason = "admin"

    def shown(self) -> str:
        params = {k: shown_value(v) for k, v in self.params.items()}
        try:
            return self.where + (_(self.template).format(**params) if params else _(self.template))
        except (KeyError, IndexError, ValueError):  # a translation that lost a field: the English stands
            return str(self)


@contextmanager
def _web(nctx: NodeContext) -> Iterator[tuple[Session, NodeConfig, weblog.AuditSigner]]:
    node = nctx.node()
    config = node.config
    node.close()
    engine = web_engine(load_web_config(config).web_database_url)
    try:
        upgrade_web_database(engine)
        weblog.ensure_key(config.home, config.name, datetime.now(UTC))
        signer = weblog.load_signer(config.home, config.name)
        with Session(engine) as s, s.begin():
            yield s, config, signer
    finally:
        engine.dispose()


def _log(s: Session, signer: weblog.AuditSigner, action: str, **subject: Any) -> None:
    weblog.record(
        s, signer, EventCode.ADMIN_ACTION, at=datetime.now(UTC), actor=default_actor(),
        subject={"action": action, "via": "host", **subject},
    )  # fmt: skip


def _admin(s: Session, username: str) -> Account:
    account = accounts.find_account(s, username)
    if account is None or account.role not in accounts.ADMIN_ROLES:
        raise AdminError(N_("no administrator account named {username!r}"), params={"username": username})
    return account


def _initial_password() -> str:
    return secrets.token_urlsafe(15)  # 120 bits; the administrator changes it on /account


def _problem(exc: AccountProblem) -> AdminError:
    return AdminError(exc.message)


@click.group("admin")
def admin() -> None:
    """Administrator accounts (system, security, auditor), the web audit key, retention."""


@admin.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(accounts.ADMIN_ROLES), help="The one role of the account.")
@json_option
@pass_node_context
def create_cmd(nctx: NodeContext, username: str, role: str, as_json: bool) -> None:
    """Create an administrator; print its initial password once. TOTP is enrolled at the first login."""
    password = _initial_password()
    with _web(nctx) as (s, _config, signer):
        try:
            account = accounts.create_account(s, username, password, role=role, now=datetime.now(UTC))
        except AccountProblem as exc:
            raise _problem(exc) from None
        account.must_change_password = True  # the printed password is a one-time secret (ASVS 2.3.1)
        _log(s, signer, "admin.create", account=account.id, role=role)
    emit(
        {"username": username, "role": role, "password": password},
        _("created {role} {username}; initial password (shown once): {password}").format(
            role=role, username=username, password=password
        )
        + "\n"
        + _("log in at /login, enrol the authenticator (TOTP) shown there, then change the password on /account"),
        as_json=as_json,
    )


@admin.command("reset")
@click.argument("username")
@click.option("--totp", "reset_totp", is_flag=True, help="Also forget the authenticator (re-enrol at next login).")
@json_option
@pass_node_context
def reset_cmd(nctx: NodeContext, username: str, reset_totp: bool, as_json: bool) -> None:
    """Give an administrator a new password (and with --totp a new second factor); end their sessions."""
    password = _initial_password()
    with _web(nctx) as (s, _config, signer):
        account = _admin(s, username)
        account.password_hash = accounts.hash_secret(password)
        account.must_change_password = True
        if reset_totp:
            account.totp_secret = None
            account.totp_last_step = 0
            s.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
        accounts.end_sessions(s, account.id)
        _log(s, signer, "admin.reset", account=account.id, totp=reset_totp)
    emit({"username": username, "password": password, "totp_reset": reset_totp},
         _("reset {username}; new password (shown once): {password}").format(username=username, password=password),
         as_json=as_json)  # fmt: skip


@admin.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
@pass_node_context
def disable_cmd(nctx: NodeContext, username: str, enable: bool) -> None:
    """Disable (or with --enable, enable) an administrator; a disabled account's sessions end."""
    with _web(nctx) as (s, _config, signer):
        account = _admin(s, username)
        account.disabled = not enable
        accounts.end_sessions(s, account.id)
        _log(s, signer, "admin.enable" if enable else "admin.disable", account=account.id)
    click.echo((_("enabled {username}") if enable else _("disabled {username}")).format(username=username))


@admin.command("list")
@json_option
@pass_node_context
def list_cmd(nctx: NodeContext, as_json: bool) -> None:
    """The administrator accounts, their roles and whether TOTP is enrolled."""
    with _web(nctx) as (s, _config, _signer):
        rows = [
            {"username": a.username, "role": a.role, "disabled": a.disabled, "totp": a.totp_last_step > 0}
            for a in s.scalars(select(Account).where(Account.role.in_(accounts.ADMIN_ROLES)).order_by(Account.id))
        ]
    state = {True: _("disabled"), False: _("active")}
    totp = {True: _("TOTP enrolled"), False: _("TOTP not enrolled")}
    lines = [f"{r['username']}\t{r['role']}\t{state[bool(r['disabled'])]}\t{totp[bool(r['totp'])]}" for r in rows]
    emit(rows, "\n".join(lines), as_json=as_json)


@admin.command("audit-key")
@click.argument("action", type=click.Choice(["rotate", "show"]))
@pass_node_context
def audit_key_cmd(nctx: NodeContext, action: str) -> None:
    """Show the web audit keys, or rotate: a new key signs from now on, older keys stay to verify."""
    with _web(nctx) as (s, config, signer):
        if action == "rotate":
            new = weblog.generate_key(config.home, config.name, datetime.now(UTC))
            _log(s, signer, "audit-key.rotate", old=signer.secret.key_id, new=new)
            newer = weblog.load_signer(config.home, config.name)
            _log(s, newer, "audit-key.rotated", key=new)  # the first checkpoint under the new key
            click.echo(_("web audit key rotated: {old} -> {new}").format(old=signer.secret.key_id, new=new))
        else:
            for key_id in weblog.public_keys(config.home):
                click.echo(key_id + ("  " + _("(signing)") if key_id == signer.secret.key_id else ""))


@admin.command("purge")
@click.option("--contact-retention", default=CONTACT_RETENTION, show_default=True, metavar="DURATION",
              help="Erase contact details of accounts unused this long.")  # fmt: skip
@pass_node_context
def purge_cmd(nctx: NodeContext, contact_retention: str) -> None:
    """Retention: erase stale contact details, expired sessions and old throttles (never the audit log)."""
    seconds = parse_duration(contact_retention)
    with _web(nctx) as (s, _config, signer):
        done = accounts.purge(s, datetime.now(UTC), contact_retention=timedelta(seconds=seconds))
        _log(s, signer, "retention.purge", contacts=done.contacts, sessions=done.sessions)
    click.echo(
        _("erased {contacts} contact detail(s), {sessions} session(s), {throttles} throttle(s)").format(
            contacts=done.contacts, sessions=done.sessions, throttles=done.throttles
        )
    )


def web_log_summary(config: NodeConfig) -> dict[str, Any] | None:
    """Verify the web audit log for ``audit verify`` (None when this node never served the platform);
    raise :class:`~transfer.errors.LogVerificationError` naming the first bad entry."""
    url = load_web_config(config).web_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    engine = web_engine(url, immediate=False)  # a reader: never the write lock a running platform needs
    try:
        from public_node.web.db import web_schema_current

        if not web_schema_current(engine):
            return None
        result = weblog.verify(engine, config.home, config.name)
    finally:
        engine.dispose()
    return {"entries": result.size, "checkpoints": len(result.checkpoints), "covered": result.covered,
            "root": result.root}  # fmt: skip
