"""How ``status`` reads to a person, and what ``status --check`` makes of it: one verdict for a
monitoring system (0 all well, 5 a warning: incomplete, action pending, 1 an alarm)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

import click

from nodekit.cli import table
from nodekit.errors import ExitCode
from nodekit.i18n import N_, _, ngettext
from nodekit.reasons import direction_word, key_status_word, reason_text, role_word
from nodekit.text import printable


@dataclass(frozen=True)
class Problem:
    """One thing ``status --check`` found: ``alarm`` (exit 1) or ``warning`` (exit 5). ``template`` is
    an English message id filled with ``params``: ``message`` in English (``--json``, logs), ``shown``
    in the operator's language."""

    level: str
    code: str
    template: str
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def message(self) -> str:
        return self.template.format(**dict(self.params))

    @property
    def shown(self) -> str:
        return _(self.template).format(**dict(self.params))

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level, "code": self.code, "message": self.message}


def _problem(level: str, code: str, template: str, **params: Any) -> Problem:
    return Problem(level, code, template, tuple(params.items()))


def other_program(role: str) -> str:
    return "public-node" if role == "internal" else "internal-node"


def node_label(name: str | None, node_id: str) -> str:
    """A node as a person knows it: its name, or its full id when this node has no name for it."""
    return printable(name, 200) if name else node_id


def resend_command(channel: dict[str, Any], seq: int, role: str) -> str:
    """The exact command that sends package ``seq`` of an inbound channel again, on its sender."""
    peer = channel.get("recipient_name") or channel["recipient"]
    return f"{other_program(role)} export --resend {seq} --peer {shlex.quote(str(peer))}"


_RESEND = {
    "public": N_("seq {seq} rejected ({reason}): run `{command}` on the internal node"),
    "internal": N_("seq {seq} rejected ({reason}): run `{command}` on the public node"),
}


def problems(data: dict[str, Any]) -> list[Problem]:
    """The alarms and warnings in a ``status`` document, most serious first."""
    out: list[Problem] = []
    role, program = str(data["role"]), f"{data['role']}-node"
    db = data["database"]
    if not db["schema_current"]:
        out.append(_problem("alarm", "schema", N_("the database schema is out of date: run `{program} db upgrade`"),
                            program=program))  # fmt: skip
    medium = data["medium"]
    if not medium["present"]:
        out.append(_problem("alarm", "medium-missing", N_("transfer medium {path} is missing: is it mounted?"),
                            path=medium["path"]))  # fmt: skip
    ex = data.get("exchange") or {}
    for alarm in ex.get("alarms", []):
        out.append(_problem("alarm", str(alarm.get("alarm", "alarm")), _ALARM, **_alarm_fields(alarm)))
    clock = ex.get("clock") or {}
    if clock.get("status") == "behind":
        out.append(_problem("alarm", "clock-behind", N_("the clock is behind by {hours}h"),
                            hours=clock["behind_seconds"] // 3600))  # fmt: skip
    own = ex.get("own_key") or {}
    if own.get("error"):
        out.append(_problem("alarm", "own-key", N_("own key: {error}"), error=own["error"]))
    for c in ex.get("channels", []):
        rejected = c.get("rejected", [])
        for r in rejected:
            out.append(_problem("warning", "rejected", _RESEND.get(role, _RESEND["public"]), seq=r["seq"],
                                reason=r["reason"], command=resend_command(c, int(r["seq"]), role)))  # fmt: skip
        missing = [q for q in c.get("missing", []) if q not in {r["seq"] for r in rejected}]
        if missing:
            out.append(_problem("warning", "gap", N_("missing before a parked package: seq {seqs} (still on their way?)"),
                                seqs=", ".join(map(str, missing))))  # fmt: skip
        if c.get("unwritten"):
            out.append(_problem("warning", "unwritten",
                                N_("seq {seqs} to {peer} still in the archive: the next `{program} export` delivers it"),
                                seqs=", ".join(map(str, c["unwritten"])), program=program,
                                peer=node_label(c.get("recipient_name"), c["recipient"])))  # fmt: skip
    if own.get("expires_soon"):
        out.append(_problem("warning", "key-expiry", N_("own key expires {expires}: rotate it (`{program} keys rotate`)"),
                            expires=own["expires"], program=program))  # fmt: skip
    for k in ex.get("trusted_keys", []):
        if k.get("expires_soon"):
            out.append(_problem("warning", "key-expiry",
                                N_("the key of {role} node {name} expires {expires}: ask its operator for the new card"),
                                role=k["role"], name=printable(k["node_name"], 200), expires=k["expires"]))  # fmt: skip
    review = data.get("review")
    if isinstance(review, dict) and review.get("held"):
        out.append(_problem("warning", "review", N_("record versions held for a person: {held} (`{program} review list`)"),
                            held=int(review["held"]), program=program))  # fmt: skip
    apps = data.get("applications")
    if isinstance(apps, dict):
        for late in apps.get("overdue", []):
            out.append(_problem("alarm", "application-overdue",
                                N_("application {id} ({type}) overdue since {due} (`{program} applications show {id}`)"),
                                id=late["id"][:12], type=late["type"], due=late["due"], program=program))  # fmt: skip
        if apps.get("calendar_missing") and int(apps.get("open", 0)) > 0:
            # a warning for --check only while an open application's deadline may need next year's days;
            # otherwise a note in the human status (every November a new install would exit 5 for it)
            out.append(_problem("warning", "calendar-missing", CALENDAR_MISSING, year=apps["calendar_missing"]))
    return out


CALENDAR_MISSING = N_("no holiday calendar for {year}: add it to workflow.toml (deadlines count working days)")


def verdict(found: list[Problem]) -> int:
    """The exit code of ``status --check``."""
    if any(p.level == "alarm" for p in found):
        return int(ExitCode.FAILURE)
    return int(ExitCode.PENDING) if found else int(ExitCode.OK)


_ALARM = N_("{alarm} on {where} since {since}")


def _alarm_fields(alarm: dict[str, Any]) -> dict[str, Any]:
    where = alarm.get("peer_name") or alarm.get("channel", "")
    return {"alarm": alarm.get("alarm", "alarm"), "where": printable(where, 200), "since": alarm.get("since", "?")}


def echo_status(data: dict[str, Any], found: list[Problem], *, check: bool) -> None:
    """The human rendering of ``status``: what each part is, in words, with full names and numbers."""
    program = f"{data['role']}-node"
    db = data["database"]
    click.echo(f"{program} {printable(data['name'], 200)}  ({data['home']})")
    schema = (
        _("current") if db["schema_current"] else _("NOT current: run `{program} db upgrade`").format(program=program)
    )
    click.echo(
        _("  database   {url} [{dialect}] schema {schema}").format(url=db["url"], dialect=db["dialect"], schema=schema)
    )
    med = data["medium"]
    click.echo(
        _("  medium     {path}").format(path=med["path"])
        + ("" if med["present"] else _(" (MISSING: is the device mounted?)"))
    )
    ex = data.get("exchange")
    if ex:
        period = _duration(int(ex["expected_period_seconds"]))
        click.echo(
            _("  freshness  {freshness} (expected period {period})").format(freshness=ex["freshness"], period=period)
        )
        for alarm in ex.get("alarms", []):
            click.echo(_("  ALARM      {line}").format(line=_(_ALARM).format(**_alarm_fields(alarm))))
        clock = ex.get("clock") or {}
        if clock.get("status") == "behind":
            click.echo(
                _("  clock      BEHIND by {hours}h: it reads {now}, the newest package seen was created {newest}: "
                  "set the clock right").format(hours=clock["behind_seconds"] // 3600, now=clock["now"],
                                                 newest=clock["newest_created"])
            )  # fmt: skip
        quarantine, latest = ex["quarantine"]["count"], ex["quarantine"]["latest"]
        count = ngettext("{n} package", "{n} packages", quarantine).format(n=quarantine) if quarantine else _("empty")
        if latest:
            count += _("; latest {folder}: {reason}: {message}").format(
                folder=printable(latest.get("folder"), 200), reason=printable(latest.get("reason"), 64),
                message=printable(reason_text(latest.get("reason"), latest.get("message", "")), 300),
            )  # fmt: skip
        click.echo(_("  quarantine {count}").format(count=count))
        rows = [
            [direction_word(c["direction"]), node_label(c.get("sender_name"), c["sender"]),
             node_label(c.get("recipient_name"), c["recipient"]), c["last_seq"], c["last_created"] or "-",
             c.get("last_applied_at") or "-", ",".join(map(str, c.get("pending", []))) or "-",
             ",".join(map(str, c.get("missing", c.get("unwritten", [])))) or "-"]
            for c in ex["channels"]
        ]  # fmt: skip
        headers = [_("dir"), _("from"), _("to"), _("last seq"), _("last created"), _("last applied"), _("pending"),
                   _("missing/unsent")]  # fmt: skip
        if rows:
            click.echo(table(rows, headers))
        for p in found:
            if p.code == "rejected":
                click.echo("  " + p.shown)
        own = ex.get("own_key") or {}
        if own.get("expires_soon"):
            click.echo(
                _("  WARNING own key {key} expires {expires}: rotate it (`{program} keys rotate`)").format(
                    key=own["key_id"], expires=own["expires"], program=program
                )
            )
        for k in ex["trusted_keys"]:
            soon = _("; WARNING: expires {expires}").format(expires=k["expires"]) if k.get("expires_soon") else ""
            click.echo(
                _("  trusts {role} node {name} key {key} ({status}{soon})").format(
                    role=role_word(k["role"]),
                    name=printable(k["node_name"], 200),
                    key=k["key_id"],
                    status=key_status_word(k["status"]),
                    soon=soon,
                )
            )
    if isinstance(data.get("review"), dict):
        held = int(data["review"]["held"])
        click.echo(
            ngettext(
                "  review     {n} record version held for a person (`{program} review list`)",
                "  review     {n} record versions held for a person (`{program} review list`)",
                held,
            ).format(n=held, program=program)
        )
    apps = data.get("applications")
    if isinstance(apps, dict):
        click.echo(
            ngettext(
                "  applications {n} open (`{program} applications list`)",
                "  applications {n} open (`{program} applications list`)",
                int(apps["open"]),
            ).format(n=int(apps["open"]), program=program)
        )
        if apps.get("calendar_missing") and not int(apps["open"]):
            click.echo("  " + _(CALENDAR_MISSING).format(year=apps["calendar_missing"]))
    records = data.get("records")
    if isinstance(records, dict):
        listed = ", ".join(f"{k} {v}" for k, v in records.items()) or _("none")
        click.echo(_("  records    {records}").format(records=listed))
    if check:
        if not found:
            click.echo(_("check: ok"))
        for p in found:
            click.echo((_("check: ALARM {message}") if p.level == "alarm" else _("check: WARNING {message}")).format(
                message=p.shown))  # fmt: skip


def _duration(seconds: int) -> str:
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
