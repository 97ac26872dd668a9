"""``public-node import`` shows a progress bar per package (records applied of the package's records)
on a terminal, and none when stderr is not a terminal or under ``--json``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from exchange.engine import SentPackage
from internal_node import SPEC as INTERNAL
from internal_node.export import export
from public_node import SPEC as PUBLIC
from public_node import importer
from public_node.importer import import_packages
from tests.helpers import run_cli
from tests.integration.public_support import channel_packages, ingest_rows, penalty
from tests.nodes import Clock, Home, make_home, trust_each_other

pytestmark = pytest.mark.db


class Pair:
    def __init__(self, tmp: Path, internal: Home, public: Home) -> None:
        self.tmp, self.internal, self.public = tmp, internal, public
        self.n = 0

    def seal(self, penalties: int) -> SentPackage:
        """One package of ``penalties`` new penalties, written to the shared medium."""
        decided = date.today() - timedelta(days=20)
        rows = [penalty(self.n + i, decided, uscc=i % 2) for i in range(1, penalties + 1)]
        self.n += penalties
        assert ingest_rows(self.internal.node, "penalty", rows, self.tmp / "department-files").accepted
        [pkg] = export(self.internal.node, self.internal.identity).sent
        return pkg

    def import_cli(self, *args: str) -> Any:
        return run_cli("public-node", "--home", str(self.public.node.config.home), "import", *args)

    def applied(self) -> list[int]:
        rows = channel_packages(self.public.node, self.internal.id, self.public.id)
        return [seq for seq, status in rows if status == "applied"]


@pytest.fixture
def pair(tmp_path: Path, database_factory: Any) -> Iterator[Pair]:
    medium = tmp_path / "medium"
    medium.mkdir()
    clock = Clock(datetime.now(UTC).replace(microsecond=0))  # the program reads the real clock
    internal = make_home(tmp_path, INTERNAL, "int", medium, clock, database_factory("int"))
    public = make_home(tmp_path, PUBLIC, "pub", medium, clock, database_factory("pub"))
    trust_each_other(internal, public, clock)
    yield Pair(tmp_path, internal, public)
    internal.node.close()
    public.node.close()


def test_the_applier_reports_records_applied_per_package(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "BATCH", 2)  # several batches in a small package
    first, second = pair.seal(3), pair.seal(2)
    calls: list[tuple[str, int, int]] = []
    outcomes = import_packages(pair.public.node, pair.public.identity, progress=lambda *a: calls.append(a))
    assert [o.result for o in outcomes] == ["applied", "applied"]
    totals = {f"package {p.seq}": p.counts.get("record", 0) + p.counts.get("document", 0) for p in (first, second)}
    # the first package also carries the two companies' subject records
    assert totals == {"package 1": 5, "package 2": 2}
    assert calls == [("package 1", 2, 5), ("package 1", 4, 5), ("package 1", 5, 5), ("package 2", 2, 2)]


def test_import_shows_a_bar_on_a_terminal_only_and_never_with_json(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    # not a terminal (the test runner's stderr): no bar
    pair.seal(3)
    r = pair.import_cli()
    assert r.code == 0, r.err
    assert "package 1" not in r.err and pair.applied() == [1]

    # a terminal: stderr is one, and click draws on it
    monkeypatch.setattr("nodekit.cli.on_terminal", lambda: True)
    monkeypatch.setattr("click._termui_impl.isatty", lambda _f: True)
    pair.seal(3)
    r = pair.import_cli("--json")
    assert r.code == 0, r.err
    assert r.err == "", "--json: nothing but the document"
    assert [o["result"] for o in orjson.loads(r.out)["outcomes"]] == ["applied"]
    pair.seal(4)
    r = pair.import_cli()
    assert r.code == 0, r.err
    assert "package 3" in r.err and "4/4" in r.err, r.err
    assert pair.applied() == [1, 2, 3]
