"""Freshness alarms: no package from a peer within the expected exchange period, or packages sent to a
peer whose receipts are overdue; and a clock far behind the packages the node has seen. Each alarm is
logged once per period in the transfer log, and also goes to the system log (syslog/journald through
``/dev/log``) so existing monitoring sees it.

``[alarms] syslog`` in ``node.toml`` names the syslog socket (default ``/dev/log``; empty disables
it). Where the socket does not exist (containers, macOS) the alarm still reaches the transfer log
and the node's file log.
"""

from __future__ import annotations

import logging
import logging.handlers
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nodekit import trust_store
from nodekit.events import record_event
from nodekit.models import ChannelPackageRow, ChannelRow, ReceiptRow, TransferLogRow, TrustedKeyRow
from nodekit.runtime import Node
from nodekit.text import plural, printable
from transfer.log import EventCode
from transfer.medium import channel_dirname

alarm_log = logging.getLogger("credgap.alarm")
DEFAULT_SYSLOG = "/dev/log"
_syslog_handlers: dict[str, logging.Handler] = {}


def syslog_address(node: Node) -> str:
    value = node.config.section("alarms").get("syslog", DEFAULT_SYSLOG)
    return value if isinstance(value, str) else DEFAULT_SYSLOG


def ensure_syslog(address: str) -> logging.Handler | None:
    """Attach one syslog handler for ``address`` (a Unix socket path) to the alarm logger, if it exists."""
    if not address:
        return None
    if address in _syslog_handlers:
        return _syslog_handlers[address]
    if not Path(address).exists():
        return None
    try:
        handler = logging.handlers.SysLogHandler(
            address=address, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV, socktype=socket.SOCK_DGRAM
        )
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("credgap[%(process)d]: %(message)s"))
    handler.setLevel(logging.WARNING)
    alarm_log.addHandler(handler)
    alarm_log.setLevel(logging.INFO)
    _syslog_handlers[address] = handler
    return handler


def close_syslog(address: str) -> None:
    """Detach and close the syslog handler of ``address`` (tests; a service keeps it for its lifetime)."""
    handler = _syslog_handlers.pop(address, None)
    if handler is not None:
        alarm_log.removeHandler(handler)
        handler.close()


@dataclass(frozen=True)
class Overdue:
    """One overdue condition: ``kind`` is ``no-package`` (inbound) or ``no-receipt`` (outbound)."""

    kind: str
    peer: str
    channel: str
    since: datetime  # the last arrival, or the oldest unacknowledged package
    age: int  # seconds
    count: int = 0  # packages waiting for a receipt
    peer_name: str = ""  # the peer's node name, as its card gives it

    def as_dict(self) -> dict[str, Any]:
        return {
            "alarm": self.kind,
            "peer": self.peer,
            "channel": self.channel,
            "since": self.since.isoformat(timespec="seconds"),
            "age_seconds": self.age,
            "count": self.count,
            "peer_name": self.peer_name,
        }

    def message(self) -> str:
        who = f"{printable(self.peer_name, 100)} ({self.peer})" if self.peer_name else self.peer
        if self.kind == "no-package":
            return f"ALARM overdue: no package from {who} since {self.since:%Y-%m-%d %H:%M:%S}Z ({self.age}s)"
        return (
            f"ALARM overdue: {plural(self.count, 'package')} without a receipt from {who}, "
            f"the oldest sealed {self.since:%Y-%m-%d %H:%M:%S}Z ({self.age}s ago)"
        )


def _peers(s: Session, role: str) -> dict[str, datetime]:
    """Trusted peer nodes of ``role`` and when they were first trusted."""
    return {
        node: at
        for node, at in s.execute(
            select(TrustedKeyRow.node_id, func.min(TrustedKeyRow.trusted_at))
            .where(TrustedKeyRow.role == role, TrustedKeyRow.status.in_(("trusted", "superseded")))
            .group_by(TrustedKeyRow.node_id)
        )
    }


def inbound_overdue(s: Session, node: Node, now: datetime) -> list[Overdue]:
    """Peers from which no package arrived within the expected period (counted from when the peer was
    trusted, if nothing ever arrived)."""
    me, period = trust_store.own_node_id(s) or "", node.config.exchange_period
    peer_role = "internal" if node.config.role == "public" else "public"
    out: list[Overdue] = []
    for peer, trusted_at in sorted(_peers(s, peer_role).items()):
        ch = s.scalars(
            select(ChannelRow).where(ChannelRow.sender_node == peer, ChannelRow.recipient_node == me)
        ).first()
        last = None
        if ch is not None:
            last = s.scalar(
                select(func.max(ChannelPackageRow.recorded_at)).where(ChannelPackageRow.channel_id == ch.id)
            )
        since = last or trusted_at
        age = int((now - since).total_seconds())
        if age > period:
            out.append(Overdue("no-package", peer, channel_dirname(peer, me), since, age, peer_name=_name(s, peer)))
    return out


def _name(s: Session, node_id: str) -> str:
    name = s.scalar(select(TrustedKeyRow.node_name).where(TrustedKeyRow.node_id == node_id).limit(1))
    return name or ""


def receipts_overdue(s: Session, node: Node, now: datetime, *, peer: str | None = None) -> list[Overdue]:
    """Channels on which a package older than the expected period has no receipt from the peer yet."""
    period = node.config.exchange_period
    me = trust_store.own_node_id(s) or ""
    acked = select(ReceiptRow.digest).where(ReceiptRow.direction == "in")
    out: list[Overdue] = []
    stmt = select(ChannelRow).where(ChannelRow.outbound.is_(True), ChannelRow.sender_node == me)
    if peer is not None:
        stmt = stmt.where(ChannelRow.recipient_node == peer)
    for ch in s.scalars(stmt.order_by(ChannelRow.id)):
        waiting = s.execute(
            select(func.count(), func.min(ChannelPackageRow.recorded_at)).where(
                ChannelPackageRow.channel_id == ch.id, ChannelPackageRow.digest.not_in(acked)
            )
        ).one()
        count, oldest = int(waiting[0]), waiting[1]
        if count and oldest is not None:
            age = int((now - oldest).total_seconds())
            if age > period:
                out.append(
                    Overdue(
                        "no-receipt",
                        ch.recipient_node,
                        channel_dirname(me, ch.recipient_node),
                        oldest,
                        age,
                        count,
                        peer_name=_name(s, ch.recipient_node),
                    )
                )
    return out


def raise_alarms(s: Session, node: Node, found: list[Overdue], now: datetime) -> list[Overdue]:
    """Log each overdue condition once per period (transfer log + system log); returns those newly raised."""
    period = node.config.exchange_period
    raised: list[Overdue] = []
    for o in found:
        if _raised_recently(s, o, now, period):
            continue
        record_event(
            s, EventCode.ALARM_OVERDUE, at=now, result="alarm", reason=o.kind,
            subject={"peer": o.peer, "channel": o.channel, "since": o.since.isoformat(timespec="seconds")},
            counts={"age_seconds": o.age, "packages": o.count},
        )  # fmt: skip
        raised.append(o)
    if raised:
        ensure_syslog(syslog_address(node))
        for o in raised:
            alarm_log.warning("%s: %s", node.config.name, o.message())
    return raised


def _raised_recently(s: Session, o: Overdue, now: datetime, period: int) -> bool:
    rows = s.execute(
        select(TransferLogRow.at, TransferLogRow.reason, TransferLogRow.subject)
        .where(TransferLogRow.event == EventCode.ALARM_OVERDUE.value)
        .order_by(TransferLogRow.index.desc())
        .limit(200)
    ).all()
    for at, reason, subject in rows:
        if reason != o.kind:
            continue
        try:
            channel = orjson.loads(subject).get("channel")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if channel == o.channel:
            return (now - at).total_seconds() < period
    return False


CLOCK_TOLERANCE = 86400  # seconds: "far off" is more than a day behind (docs/FORMAT.md §9.1)


@dataclass(frozen=True)
class ClockBehind:
    """This node's clock is more than :data:`CLOCK_TOLERANCE` behind the newest ``created`` it has sealed
    or received: only a clock put back can see that (a peer's clock never moves this node's values, as
    what a reader applies or parks is never more than the skew ahead of it)."""

    newest: datetime  # the newest ``created`` of a package this node sealed, applied or parked
    behind: int  # seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "alarm": "clock-behind",
            "newest_created": self.newest.isoformat(timespec="seconds"),
            "behind_seconds": self.behind,
        }

    def message(self) -> str:
        return (
            f"ALARM clock: this node's clock is {self.behind // 3600}h behind the newest package time it has sealed "
            f"or received ({self.newest:%Y-%m-%d %H:%M:%S}Z): set the clock right"
        )


def newest_created(s: Session) -> int | None:
    """The newest ``created`` among the packages this node has sealed, applied or parked."""
    return s.scalar(select(func.max(ChannelPackageRow.created)))


def clock_behind(s: Session, now: datetime) -> ClockBehind | None:
    """Whether the clock ``now`` is far behind what this node has seen (None when it is not, or nothing is)."""
    newest = newest_created(s)
    if newest is None:
        return None
    behind = newest - int(now.timestamp())
    return ClockBehind(datetime.fromtimestamp(newest, UTC), behind) if behind > CLOCK_TOLERANCE else None


def check_clock(s: Session, node: Node) -> ClockBehind | None:
    """Raise ``alarm.clock`` (reason ``clock-behind``) once per period when the node's clock is far behind;
    returns the condition when it was newly raised."""
    now = node.clock()
    found = clock_behind(s, now)
    if found is None:
        return None
    last = s.scalar(
        select(TransferLogRow.at)
        .where(TransferLogRow.event == EventCode.ALARM_CLOCK.value)
        .order_by(TransferLogRow.index.desc())
        .limit(1)
    )
    if last is not None and 0 <= (now - last).total_seconds() < node.config.exchange_period:
        return None  # raised within the period (a clock put back further since raises it again)
    record_event(
        s, EventCode.ALARM_CLOCK, at=now, result="alarm", reason="clock-behind",
        subject={"newest_created": found.newest.isoformat(timespec="seconds")},
        counts={"behind_seconds": found.behind},
    )  # fmt: skip
    ensure_syslog(syslog_address(node))
    alarm_log.warning("%s: %s", node.config.name, found.message())
    return found


class MediumAlarm:
    """``ALARM medium-missing`` while the transfer medium is not there: on stderr and in the system log
    at once, then again every ``every`` seconds while it stays missing (a removable device left
    unmounted must not go unnoticed until the overdue alarm a day later)."""

    def __init__(self, node: Node, every: float, echo: Callable[[str], None]) -> None:
        self.node, self.every, self.echo = node, every, echo
        self._last: float | None = None

    def check(self, now: float) -> str | None:
        """Raise the alarm if the medium is missing and it was not raised within ``every``; the message."""
        medium = self.node.config.medium
        if medium.is_dir():
            self._last = None
            return None
        if self._last is not None and now - self._last < self.every:
            return None
        self._last = now
        message = f"ALARM medium-missing: transfer medium {medium} not found (is the device mounted?)"
        ensure_syslog(syslog_address(self.node))
        alarm_log.warning("%s: %s", self.node.config.name, message)
        self.echo(message)
        return message


def check_inbound(node: Node) -> list[Overdue]:
    """The watcher's idle check: raise ``no-package`` alarms (once per period each)."""
    now = node.clock()
    with node.transaction() as s:
        return raise_alarms(s, node, inbound_overdue(s, node, now), now)


def check_receipts(s: Session, node: Node, peer: str | None = None) -> list[Overdue]:
    """The sender's check at each package sealed: raise ``no-receipt`` alarms (once per period each)."""
    now = node.clock()
    return raise_alarms(s, node, receipts_overdue(s, node, now, peer=peer), now)
