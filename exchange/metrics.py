"""Prometheus metrics of a node (issue 18, point 19; docs/OPERATIONS.md, "Metrics"): what the
exchange did, read from the node's own records at each collection, so that every process of a node
reports the same numbers and a restart loses none.

- counters from the transfer log (append-only): packages sealed, applied, rejected by reason,
  alarms by kind;
- gauges: records per kind (the node says how to count them), the lag of each inbound channel
  (seconds since its last applied package), the quarantine's files and bytes;
- durations: ``credgap_import_duration_seconds`` and ``credgap_export_duration_seconds``, observed
  by the process that imports or exports, and each command's last duration and exit code in the
  internal node's textfile (:func:`write_textfile`).

The public node serves them on ``/metrics`` of an admin port (``public-node watch --metrics-port``),
the internal node writes them after each command to a file for node_exporter's textfile collector.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nodekit.models import ChannelPackageRow, ChannelRow, TransferLogRow, TrustedKeyRow
from nodekit.runtime import Node
from transfer.files import atomic_write_bytes
from transfer.log import EventCode
from transfer.quarantine import Quarantine

RecordCounter = Callable[[Session, Node], dict[str, int]]
TEXTFILE_ENV = "CREDGAP_METRICS_TEXTFILE"
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class ExchangeCollector(Collector):
    """The node's exchange metrics, computed from its database and home at each collection."""

    def __init__(self, node: Node, records: RecordCounter | None = None, *, clock: Callable[[], float] = time.time):
        self.node = node
        self.records = records
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        role, name = self.node.spec.role, self.node.config.name
        info = GaugeMetricFamily("credgap_node_info", "This node: its role and name.", labels=["role", "name"])
        info.add_metric([role, name], 1)
        yield info
        with self.node.sessions() as s:
            yield from self._from_log(s)
            yield self._lag(s)
            if self.records is not None:
                records = GaugeMetricFamily("credgap_records", "Records held, per kind.", labels=["kind"])
                for kind, n in sorted(self.records(s, self.node).items()):
                    records.add_metric([kind], n)
                yield records
        entries = Quarantine(self.node.config.quarantine_dir).entries()
        yield GaugeMetricFamily("credgap_quarantine_files", "Packages in quarantine.", value=len(entries))
        size = sum(_size(self.node.config.quarantine_dir / str(e["folder"])) for e in entries)
        yield GaugeMetricFamily("credgap_quarantine_bytes", "Bytes of the packages in quarantine.", value=size)

    def _from_log(self, s: Session) -> Iterator[Metric]:
        t = TransferLogRow
        counts = {
            (event, reason): int(n)
            for event, reason, n in s.execute(
                select(t.event, t.reason, func.count())
                .where(
                    (t.event.in_([EventCode.PACKAGE_SEALED, EventCode.PACKAGE_APPLIED, EventCode.PACKAGE_REJECTED]))
                    | t.event.like("alarm.%")
                )
                .group_by(t.event, t.reason)
            )
        }

        def total(event: str) -> int:
            return sum(n for (e, _), n in counts.items() if e == event)

        yield CounterMetricFamily(
            "credgap_packages_sealed", "Packages sealed by this node.", value=total(EventCode.PACKAGE_SEALED)
        )
        yield CounterMetricFamily(
            "credgap_packages_applied", "Packages applied by this node.", value=total(EventCode.PACKAGE_APPLIED)
        )
        rejected = CounterMetricFamily("credgap_packages_rejected", "Packages rejected, per reason.", labels=["reason"])
        for (event, reason), n in sorted(counts.items()):
            if event == EventCode.PACKAGE_REJECTED:
                rejected.add_metric([reason or "unknown"], n)
        yield rejected
        alarms = CounterMetricFamily("credgap_alarms", "Alarms raised, per kind.", labels=["alarm"])
        per_alarm: dict[str, int] = {}
        for (event, _), n in counts.items():
            if event.startswith("alarm."):
                per_alarm[event.removeprefix("alarm.")] = per_alarm.get(event.removeprefix("alarm."), 0) + n
        for alarm, n in sorted(per_alarm.items()):
            alarms.add_metric([alarm], n)
        yield alarms

    def _lag(self, s: Session) -> Metric:
        lag = GaugeMetricFamily(
            "credgap_channel_lag_seconds",
            "Seconds since the last package applied from each sending node (inbound channels).",
            labels=["peer"],
        )
        names = {node_id: name for node_id, name in s.execute(select(TrustedKeyRow.node_id, TrustedKeyRow.node_name))}
        last = s.execute(
            select(ChannelRow.sender_node, func.max(ChannelPackageRow.recorded_at))
            .join(ChannelPackageRow, ChannelPackageRow.channel_id == ChannelRow.id)
            .where(ChannelRow.outbound.is_(False), ChannelPackageRow.status == "applied")
            .group_by(ChannelRow.sender_node)
        )
        now = self.clock()
        for sender, at in sorted(last, key=lambda r: str(r[0])):
            if at is not None:
                lag.add_metric([names.get(sender, sender)], max(0.0, now - at.timestamp()))
        return lag


def _size(folder: Path) -> int:
    """Bytes of the files in one quarantine entry's folder (vanishing ones count nothing)."""
    total = 0
    try:
        for p in folder.iterdir():
            try:
                total += p.stat().st_size if p.is_file() else 0
            except OSError:
                continue
    except OSError:
        return 0
    return total


def duration_histogram(registry: CollectorRegistry, what: str) -> Histogram:
    """``credgap_import_duration_seconds`` or ``credgap_export_duration_seconds`` in ``registry``."""
    return Histogram(
        f"credgap_{what}_duration_seconds", f"Seconds one {what} took.", registry=registry, buckets=DURATION_BUCKETS
    )


def node_registry(node: Node, records: RecordCounter | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(ExchangeCollector(node, records))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


COMMAND_FAMILIES = (
    "credgap_command_duration_seconds",
    "credgap_command_exit_code",
    "credgap_command_last_run_timestamp_seconds",
)


def write_textfile(
    path: Path,
    node: Node,
    records: RecordCounter | None,
    *,
    command: str,
    seconds: float,
    exit_code: int,
    now: float | None = None,
) -> None:
    """Write the node's metrics, and this command's duration and exit code beside the other commands'
    last ones (kept from the previous file), atomically to ``path`` for node_exporter."""
    runs: dict[str, dict[str, float]] = {}
    try:
        for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
            for sample in family.samples:
                if sample.name in COMMAND_FAMILIES and "command" in sample.labels:
                    runs.setdefault(sample.labels["command"], {})[sample.name] = sample.value
    except (OSError, ValueError):
        pass  # no earlier file, or one we cannot read: this command's numbers start it again
    runs[command] = {
        "credgap_command_duration_seconds": seconds,
        "credgap_command_exit_code": float(exit_code),
        "credgap_command_last_run_timestamp_seconds": time.time() if now is None else now,
    }
    registry = node_registry(node, records)
    registry.register(_CommandRuns(runs))
    data = render(registry)
    atomic_write_bytes(path, data, mode=0o644)  # whole or absent for node_exporter, another user
    path.chmod(0o644)  # whatever the umask narrowed: node_exporter must read it


class _CommandRuns(Collector):
    def __init__(self, runs: dict[str, dict[str, float]]) -> None:
        self.runs = runs

    def collect(self) -> Iterator[Metric]:
        helps = {
            "credgap_command_duration_seconds": "Seconds the last run of each command took.",
            "credgap_command_exit_code": "Exit code of the last run of each command (0 ok, 5 pending, …).",
            "credgap_command_last_run_timestamp_seconds": "When each command last ran (Unix time).",
        }
        for name, text in helps.items():
            family = GaugeMetricFamily(name, text, labels=["command"])
            for command, values in sorted(self.runs.items()):
                if name in values:
                    family.add_metric([command], values[name])
            yield family
