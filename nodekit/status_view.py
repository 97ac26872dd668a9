"""How ``status`` reads to a person, and what ``status --check`` makes of it: one verdict for a
monitoring system (0 all well, 5 a warning: incomplete, action pending, 1 an alarm)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

import click

from nodekit.cli import table
from nodekit.errors import ExitCode
from nodekit.text import plural, printable


@dataclass(frozen=True)
class Problem:
    """One thing ``status --check`` found: ``alarm`` (exit 1) or ``warning`` (exit 5)."""

    level: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level, "code": self.code, "message": self.message}


def other_program(role: str) -> str:
    return "public-node" if role == "internal" else "internal-node"


def node_label(name: str | None, node_id: str) -> str:
    """A node as a person knows it: its name, or its full id when this node has no name for it."""
    return printable(name, 200) if name else node_id


def resend_hint(channel: dict[str, Any], seq: int, role: str) -> str:
    """The exact command that sends package ``seq`` of an inbound channel again, on its sender."""
    peer = channel.get("recipient_name") or channel["recipient"]
    return f"`{other_program(role)} export --resend {seq} --peer {shlex.quote(str(peer))}` on the {_other(role)} node"


def _other(role: str) -> str:
    return "public" if role == "internal" else "internal"


def problems(data: dict[str, Any]) -> list[Problem]:
    """The alarms and warnings in a ``status`` document, most serious first."""
    out: list[Problem] = []
    role, program = str(data["role"]), f"{data['role']}-node"
    db = data["database"]
    if not db["schema_current"]:
        out.append(Problem("alarm", "schema", f"the database schema is out of date: run `{program} db upgrade`"))
    medium = data["medium"]
    if not medium["present"]:
        out.append(Problem("alarm", "medium-missing", f"transfer medium {medium['path']} is missing: is it mounted?"))
    ex = data.get("exchange") or {}
    for alarm in ex.get("alarms", []):
        out.append(Problem("alarm", str(alarm.get("alarm", "alarm")), _alarm_line(alarm)))
    clock = ex.get("clock") or {}
    if clock.get("status") == "behind":
        out.append(Problem("alarm", "clock-behind", f"the clock is behind by {clock['behind_seconds'] // 3600}h"))
    own = ex.get("own_key") or {}
    if own.get("error"):
        out.append(Problem("alarm", "own-key", f"own key: {own['error']}"))
    for c in ex.get("channels", []):
        for r in c.get("rejected", []):
            out.append(
                Problem(
                    "warning",
                    "rejected",
                    f"seq {r['seq']} rejected ({r['reason']}): run {resend_hint(c, int(r['seq']), role)}",
                )
            )
        missing = [q for q in c.get("missing", []) if q not in {r["seq"] for r in c.get("rejected", [])}]
        if missing:
            out.append(
                Problem(
                    "warning",
                    "gap",
                    f"{plural(len(missing), 'package')} missing before a parked one: "
                    f"seq {', '.join(map(str, missing))} (are they still on their way?)",
                )
            )
        if c.get("unwritten"):
            seqs = ", ".join(map(str, c["unwritten"]))
            out.append(
                Problem(
                    "warning",
                    "unwritten",
                    f"seq {seqs} to {node_label(c.get('recipient_name'), c['recipient'])} "
                    f"still in the archive: the next `{program} export` delivers it",
                )
            )
    if own.get("expires_soon"):
        out.append(
            Problem("warning", "key-expiry", f"own key expires {own['expires']}: rotate it (`{program} keys rotate`)")
        )
    for k in ex.get("trusted_keys", []):
        if k.get("expires_soon"):
            out.append(
                Problem(
                    "warning",
                    "key-expiry",
                    f"the key of {k['role']} node {printable(k['node_name'], 200)} "
                    f"expires {k['expires']}: ask its operator for the new card",
                )
            )
    review = data.get("review")
    if isinstance(review, dict) and review.get("held"):
        out.append(
            Problem(
                "warning",
                "review",
                f"{plural(int(review['held']), 'record version')} held for a person: `{program} review list`",
            )
        )
    return out


def verdict(found: list[Problem]) -> int:
    """The exit code of ``status --check``."""
    if any(p.level == "alarm" for p in found):
        return int(ExitCode.FAILURE)
    return int(ExitCode.PENDING) if found else int(ExitCode.OK)


def _alarm_line(alarm: dict[str, Any]) -> str:
    where = alarm.get("peer_name") or alarm.get("channel", "")
    return f"{alarm.get('alarm', 'alarm')} on {printable(where, 200)} since {alarm.get('since', '?')}"


def echo_status(data: dict[str, Any], found: list[Problem], *, check: bool) -> None:
    """The human rendering of ``status``: what each part is, in words, with full names and numbers."""
    program = f"{data['role']}-node"
    db = data["database"]
    click.echo(f"{program} {printable(data['name'], 200)}  ({data['home']})")
    click.echo(
        f"  database   {db['url']} [{db['dialect']}] schema "
        f"{'current' if db['schema_current'] else f'NOT current: run `{program} db upgrade`'}"
    )
    med = data["medium"]
    click.echo(f"  medium     {med['path']}" + ("" if med["present"] else " (MISSING: is the device mounted?)"))
    ex = data.get("exchange")
    if ex:
        period = int(ex["expected_period_seconds"])
        click.echo(f"  freshness  {ex['freshness']} (expected period {_duration(period)})")
        for alarm in ex.get("alarms", []):
            click.echo(f"  ALARM      {_alarm_line(alarm)}")
        clock = ex.get("clock") or {}
        if clock.get("status") == "behind":
            click.echo(
                f"  clock      BEHIND by {clock['behind_seconds'] // 3600}h: it reads {clock['now']}, the newest "
                f"package seen was created {clock['newest_created']}: set the clock right"
            )
        quarantine, latest = ex["quarantine"]["count"], ex["quarantine"]["latest"]
        click.echo(
            "  quarantine "
            + (plural(quarantine, "package") if quarantine else "empty")
            + (
                f"; latest {printable(latest.get('folder'), 200)}: {printable(latest.get('reason'), 64)}: "
                f"{printable(latest.get('message', ''), 300)}"
                if latest
                else ""
            )
        )
        rows = [
            [c["direction"], node_label(c.get("sender_name"), c["sender"]),
             node_label(c.get("recipient_name"), c["recipient"]), c["last_seq"], c["last_created"] or "-",
             c.get("last_applied_at") or "-", ",".join(map(str, c.get("pending", []))) or "-",
             ",".join(map(str, c.get("missing", c.get("unwritten", [])))) or "-"]
            for c in ex["channels"]
        ]  # fmt: skip
        headers = ["dir", "from", "to", "last seq", "last created", "last applied", "pending", "missing/unsent"]
        if rows:
            click.echo(table(rows, headers))
        for c in ex["channels"]:
            for r in c.get("rejected", []):
                click.echo(
                    f"  seq {r['seq']} rejected ({r['reason']}): run {resend_hint(c, int(r['seq']), data['role'])}"
                )
        own = ex.get("own_key") or {}
        if own.get("expires_soon"):
            click.echo(
                f"  WARNING own key {own['key_id']} expires {own['expires']}: rotate it (`{program} keys rotate`)"
            )
        for k in ex["trusted_keys"]:
            soon = f"; WARNING: expires {k['expires']}" if k.get("expires_soon") else ""
            click.echo(
                f"  trusts {k['role']} node {printable(k['node_name'], 200)} key {k['key_id']} ({k['status']}{soon})"
            )
    if isinstance(data.get("review"), dict):
        held = int(data["review"]["held"])
        click.echo(f"  review     {plural(held, 'record version')} held for a person ({program} review list)")
    records = data.get("records")
    if isinstance(records, dict):
        click.echo("  records    " + (", ".join(f"{k} {v}" for k, v in records.items()) or "none"))
    if check:
        if not found:
            click.echo("check: ok")
        for p in found:
            click.echo(f"check: {p.level.upper()} {p.message}")


def _duration(seconds: int) -> str:
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
