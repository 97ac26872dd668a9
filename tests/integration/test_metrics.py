"""Prometheus metrics of both nodes (issue 18, point 19): counters from the transfer log, records,
channel lag, quarantine; the public node's /metrics on its admin port, the internal node's textfile
written after each command."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exchange.metrics import ExchangeCollector, node_registry, render, write_textfile
from internal_node.export import export
from internal_node.metrics import published_records
from public_node.cli import serve_metrics
from public_node.importer import import_packages
from public_node.queries import record_counts
from tests.integration.test_export import homes, ingest, penalty

pytestmark = pytest.mark.db
__all__ = ["homes"]


def samples(text: str | bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    if isinstance(text, bytes):
        text = text.decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def public_records(s: Any, n: Any) -> dict[str, int]:
    return record_counts(s, today=n.today())


def test_the_exchange_counted_on_both_sides(homes: Any) -> None:
    a, b, clock, tmp = homes
    ingest(a, tmp, [penalty(1), penalty(2)])
    export(a.node, a.identity)
    clock.advance(minutes=1)
    ingest(a, tmp, [penalty(3)], "more.jsonl")
    [second] = export(a.node, a.identity).sent
    data = bytearray(second.archive.read_bytes())
    data[-100] ^= 1
    Path(second.medium).write_bytes(bytes(data))  # tampered on the medium
    clock.advance(minutes=1)
    assert [o.result for o in import_packages(b.node, b.identity)] == ["applied", "rejected"]
    clock.advance(minutes=10)

    pub = samples(render(_registry(b, public_records, clock)))
    assert pub[("credgap_packages_applied_total", ())] == 1
    assert pub[("credgap_packages_rejected_total", (("reason", "bad-ciphertext"),))] == 1
    assert pub[("credgap_quarantine_files", ())] == 1
    assert pub[("credgap_quarantine_bytes", ())] >= len(data) - 1000
    assert pub[("credgap_records", (("kind", "penalty"),))] == 2
    assert (
        pub[("credgap_channel_lag_seconds", (("peer", a.node.config.name),))] == 10 * 60
    )  # applied at the import, ten minutes ago
    assert pub[("credgap_node_info", (("name", b.node.config.name), ("role", "public")))] == 1

    internal = samples(render(_registry(a, published_records, clock)))
    assert internal[("credgap_packages_sealed_total", ())] == 2
    assert internal[("credgap_packages_applied_total", ())] == 0
    assert internal[("credgap_records", (("kind", "penalty"),))] == 3


def _registry(home: Any, records: Any, clock: Any) -> Any:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(ExchangeCollector(home.node, records, clock=lambda: clock().timestamp()))
    return registry


def test_alarms_are_counted_by_kind(homes: Any) -> None:
    a, b, clock, tmp = homes
    ingest(a, tmp, [penalty(1)])
    [p] = export(a.node, a.identity).sent
    import_packages(b.node, b.identity)
    from nodekit.events import record_event
    from transfer.log import EventCode

    with b.node.transaction() as s:
        record_event(s, EventCode.ALARM_OVERDUE, at=clock(), result="alarm", reason="overdue", subject={})
    got = samples(render(node_registry(b.node)))
    assert got[("credgap_alarms_total", (("alarm", "overdue"),))] == 1
    assert p.seq == 1


def test_the_admin_port_serves_metrics(homes: Any) -> None:
    _a, b, _clock, _tmp = homes
    from tests.web.server import free_port

    port = free_port()
    histogram = serve_metrics(b.node, "127.0.0.1", port)
    histogram.observe(0.3)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        got = samples(r.read())
    assert got[("credgap_import_duration_seconds_count", ())] == 1
    assert ("credgap_packages_applied_total", ()) in got


def test_the_textfile_keeps_each_commands_last_run(homes: Any, tmp_path: Path) -> None:
    a, _b, _clock, _tmp = homes
    (tmp_path / "textfile").mkdir()
    target = tmp_path / "textfile" / "credgap.prom"
    write_textfile(target, a.node, published_records, command="export", seconds=2.5, exit_code=5, now=100.0)
    write_textfile(target, a.node, published_records, command="ingest", seconds=1.0, exit_code=0, now=200.0)
    got = samples(target.read_text())
    assert got[("credgap_command_exit_code", (("command", "export"),))] == 5
    assert got[("credgap_command_duration_seconds", (("command", "export"),))] == 2.5
    assert got[("credgap_command_last_run_timestamp_seconds", (("command", "ingest"),))] == 200.0
    assert ("credgap_packages_sealed_total", ()) in got
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in target.parent.iterdir()] == ["credgap.prom"], "no temporary file left"


def test_every_internal_command_writes_the_textfile(
    homes: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from internal_node import cli

    a, _b, _clock, _tmp = homes
    target = tmp_path / "credgap.prom"
    monkeypatch.setenv("CREDGAP_METRICS_TEXTFILE", str(target))
    monkeypatch.setattr(sys, "argv", ["internal-node", "--home", str(a.node.config.home), "status"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    got = samples(target.read_text())
    assert got[("credgap_command_exit_code", (("command", "status"),))] == exit_.value.code
    assert ("credgap_node_info", (("name", a.node.config.name), ("role", "internal"))) in got
    # a command that never opened a node (its --help) writes nothing
    target.unlink()
    monkeypatch.setattr(sys, "argv", ["internal-node", "--help"])
    with pytest.raises(SystemExit):
        cli.main()
    assert not target.exists()


def test_the_grafana_dashboard_shows_only_metrics_the_nodes_export(homes: Any, tmp_path: Path) -> None:
    import json
    import re

    from prometheus_client import CollectorRegistry

    from exchange.metrics import duration_histogram

    a, b, _clock, _tmp = homes
    (tmp_path / "t").mkdir()
    write_textfile(tmp_path / "t" / "x.prom", a.node, published_records, command="export", seconds=1, exit_code=0)
    registry = CollectorRegistry()
    registry.register(ExchangeCollector(b.node, public_records))
    duration_histogram(registry, "import")
    texts = [render(registry).decode(), (tmp_path / "t" / "x.prom").read_text()]
    # every family, also one with no sample yet (no rejection, no alarm): its TYPE line names it
    declared = {m for t in texts for m in re.findall(r"^# TYPE (\S+) ", t, re.M)}
    exported = declared | {f"{d}_bucket" for d in declared} | {n for t in texts for n, _ in samples(t)}
    dashboard = json.loads(
        Path(__file__).resolve().parents[2].joinpath("deploy/grafana/credgap-exchange.json").read_text()
    )
    used = {m for p in dashboard["panels"] for t in p["targets"] for m in re.findall(r"\bcredgap_[a-z_]+", t["expr"])}
    assert used and used <= exported, used - exported
    assert {"credgap_channel_lag_seconds", "credgap_alarms_total", "credgap_quarantine_files"} <= used
