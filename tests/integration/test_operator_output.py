"""Issue 18 point 12: output people read. A walkthrough of the commands an operator runs, each read as
a person would: no Python repr anywhere, channels by node names, nothing cut, plurals right."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import CliResult
from tests.integration.operator_support import Pair, make_pair, ok, penalty

pytestmark = pytest.mark.db

REPR = re.compile(r"\{'|\['|': |\bNone\b|\bTrue\b|\bFalse\b|\(s\)")


def readable(r: CliResult) -> str:
    text = r.out + r.err
    found = REPR.search(text)
    assert found is None, f"a Python repr or a (s) plural in: {text[max(0, found.start() - 200) : found.end() + 200]}"
    return text


@pytest.fixture
def pair(tmp_path: Path, database_factory: Callable[[str], str]) -> Pair:
    return make_pair(tmp_path, (database_factory("int"), database_factory("pub")))


def test_what_an_operator_reads(pair: Pair) -> None:
    ids = []
    for program in (pair.i, pair.p):
        doc = ok(program("keys", "show", "--json")).json()
        assert isinstance(doc, dict)
        ids.append(str(doc["node_id"]))
    pair.ingest([penalty(1), penalty(2, violation_facts="在其网站发布虚假广告，" * 20)])
    readable(ok(pair.i("export", "--dry-run")))
    sealed = readable(ok(pair.i("export")))
    assert "sealed city-internal → city-public seq 1 (" in sealed
    [package] = list(pair.medium.rglob("*.cgp"))
    inspected = readable(ok(pair.p("transfer", "inspect", str(package))))
    assert "payload   verified: manifest 1, checkpoint 1, record 4" in inspected
    assert re.search(r"created    \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 \(\d+\)", inspected), inspected
    readable(ok(pair.p("import")))
    doc = readable(ok(pair.p("query", "doc", "昆市监罚〔2026〕2号")))
    assert "  violation_facts: " + "在其网站发布虚假广告，" * 20 in doc, "a long value is shown whole"
    assert "  confiscation_amount: -" in doc
    for program in (pair.i, pair.p):
        status = readable(ok(program("status")))
        assert "city-internal  city-public" in status, status
        assert not any(i[:13] in status for i in ids), "channels by node names, not by ids"
        readable(ok(program("keys", "list")))
        readable(ok(program("audit", "verify")))
        shown = readable(ok(program("audit", "show")))
        assert "…" not in shown, "no subject cut: the channel, the seq and the file stay whole"
    returned = readable(ok(pair.p("export")))
    assert "sealed city-public → city-internal seq 1 (" in returned
    readable(ok(pair.i("import")))
