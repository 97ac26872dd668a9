"""The scheduled export keeps the review gate (issue 18, point 17): it seals only the reviewed digest
read from a file; when new data made that digest stale it sends a heartbeat only and exits 5, so the
public side sees a live link awaiting review, and the unreviewed changes travel only after a review."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nodekit.errors import ExitCode
from public_node.importer import import_packages
from public_node.queries import record_counts
from tests.helpers import run_cli
from tests.integration.test_export import homes, ingest, items_of, kinds, penalty

pytestmark = pytest.mark.db
__all__ = ["homes"]  # the fixture, imported for this module's tests


def _dry_digest(home: Path) -> str:
    dry = run_cli("internal-node", "--home", str(home), "export", "--dry-run", "--json")
    assert dry.code == 0, dry.err
    return str(dry.json()["peers"][0]["digest"])  # type: ignore[index]


def test_a_stale_review_sends_a_heartbeat_only_and_exits_5(homes: Any) -> None:
    a, b, clock, tmp = homes
    clock.now = datetime.now(UTC)  # the CLI seals at the real time; the public node must not see the future
    home = a.node.config.home
    ingest(a, tmp, [penalty(1)])
    reviewed = tmp / "reviewed.digest"
    reviewed.write_text(_dry_digest(home) + "\n")
    ingest(a, tmp, [penalty(2)], "unreviewed.jsonl")  # new data after the review

    r = run_cli("internal-node", "--home", str(home), "export", "--expect-file", str(reviewed), "--stale-heartbeat")
    assert r.code == ExitCode.PENDING, r.err
    assert "review-stale" not in r.err and "heartbeat only" in r.err and len(r.err.splitlines()) == 1
    [p] = list(a.node.config.medium.rglob("*.cgp"))
    got = items_of(p, b)
    assert kinds(got) == {"manifest": 1, "heartbeat": 1}, "nothing unreviewed crossed"
    assert got[0]["note"] == "awaiting-review" and got[0]["content"] is None
    assert [o.result for o in import_packages(b.node, b.identity)] == ["applied"]
    with b.node.sessions() as s:
        assert record_counts(s, today=b.node.today()).get("penalty", 0) == 0

    # after a new review, the same command seals everything reviewed, the unreviewed row included
    reviewed.write_text(_dry_digest(home))
    r = run_cli("internal-node", "--home", str(home), "export", "--expect-file", str(reviewed), "--stale-heartbeat")
    assert r.code == 0, r.err
    assert [o.result for o in import_packages(b.node, b.identity)] == ["applied"]
    with b.node.sessions() as s:
        assert record_counts(s, today=b.node.today())["penalty"] == 2


def test_without_the_flag_a_stale_review_seals_nothing(homes: Any) -> None:
    a, _b, _clock, tmp = homes
    home = a.node.config.home
    ingest(a, tmp, [penalty(1)])
    reviewed = tmp / "reviewed.digest"
    reviewed.write_text(_dry_digest(home))
    ingest(a, tmp, [penalty(2)], "more.jsonl")
    r = run_cli("internal-node", "--home", str(home), "export", "--expect-file", str(reviewed))
    assert r.code == ExitCode.REJECTED
    assert not list(a.node.config.medium.rglob("*.cgp"))


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        (None, [], "no such file"),
        ("not a digest", [], "64 hex digits"),
        ("a" * 64, ["--expect", "b" * 64], "not both"),
    ],
)
def test_bad_digest_files_are_usage_errors(homes: Any, content: str | None, args: list[str], needle: str) -> None:
    a, _b, _clock, tmp = homes
    f = tmp / "digest"
    if content is not None:
        f.write_text(content)
    r = run_cli("internal-node", "--home", str(a.node.config.home), "export", "--expect-file", str(f), *args)
    assert r.code == ExitCode.USAGE and needle in r.err, r.err


def test_stale_heartbeat_needs_a_reviewed_digest(homes: Any) -> None:
    a, _b, _clock, _tmp = homes
    r = run_cli("internal-node", "--home", str(a.node.config.home), "export", "--stale-heartbeat")
    assert r.code == ExitCode.USAGE and "--expect" in r.err
