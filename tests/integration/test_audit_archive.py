"""Archiving old transfer-log entries as docs/OPERATIONS.md ("Keeping the log") tells operators to:
export a bundle, check it, delete the rows below its last checkpoint with the SQL the document gives,
then ``audit verify --base BUNDLE``. The log still verifies, keeps growing and being checkpointed,
and tampering after the archive is still named; a bundle exported with ``--base`` is complete again."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import delete, select, text, update

from internal_node.returns import ReturnApplier
from nodekit.events import record_event
from nodekit.models import TransferLogRow
from tests.integration.test_audit import MetaApplier, cli, rec, send, two_nodes
from tests.nodes import Home
from transfer.errors import LogVerificationError
from transfer.log import EventCode

pytestmark = pytest.mark.db

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "OPERATIONS.md"


@pytest.fixture
def nodes(tmp_path: Path, database_factory: Any) -> Iterator[Any]:
    yield from two_nodes(tmp_path, database_factory)


def documented_sql() -> str:
    """The statement the operator runs (step 3 of "Keeping the log"), as the document gives it."""
    section = OPERATIONS.read_text(encoding="utf-8").split("### Keeping the log", 1)[1]
    [block] = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    [stmt] = [line.strip() for line in block.splitlines() if line.strip().startswith("DELETE")]
    assert stmt.startswith('DELETE FROM transfer_log WHERE "index" < C AND '), stmt
    return stmt


def exchange(nodes: Any, first: int) -> None:
    a, b, ea, eb, clock = nodes
    for i in range(first, first + 2):
        send(ea, b, [rec(i)])
    assert {o.result for o in eb.receive(MetaApplier)} == {"applied"}
    clock.advance(minutes=10)
    send(eb, a, [])
    assert [o.result for o in ea.receive(ReturnApplier)] == ["applied"]
    clock.advance(minutes=10)


def archive(home: Home, folder: Path, *base: str) -> int:
    """Steps 1-3: sign a checkpoint, export (with the previous base), check the bundle with its own
    verifier, delete the rows below its last checkpoint but the last. Returns the first row left."""
    assert cli(home, "audit", "checkpoint").code == 0
    r = cli(home, "audit", "export", "-o", str(folder), *base, "--json")
    assert r.code == 0, r.err
    covered = orjson.loads((folder / "manifest.json").read_bytes())["covered"]
    assert covered == r.json()["covered"] > 0  # type: ignore[index]
    own = subprocess.run(
        [sys.executable, str(folder / "verify_log.py"), str(folder), "--key-fingerprint", home.identity.current_key_id],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert own.returncode == 0, own.stderr
    stmt = documented_sql().replace(" C ", f" {covered} ").rstrip(";")
    with home.node.transaction() as s:
        size = max(s.scalars(select(TransferLogRow.index))) + 1
        s.execute(text(stmt))
    with home.node.sessions() as s:
        first = min(s.scalars(select(TransferLogRow.index)))
    assert first == min(covered, size - 1), "the last entry stays"
    return int(first)


def verify(home: Home, *args: str) -> Any:
    return cli(home, "audit", "verify", "--json", *args)


def test_archived_entries_verify_from_the_bundle_and_the_log_goes_on(nodes: Any, tmp_path: Path) -> None:
    a, b, *_ = nodes
    exchange(nodes, 1)
    whole = verify(a).json()
    first = tmp_path / "int-archive-1"
    c1 = archive(a, first)

    # plain verify now sees the entries gone, and says where the log starts
    r = verify(a)
    assert r.code == 4 and (r.json()["index"], r.json()["reason"]) == (0, "deleted")  # type: ignore[index]
    assert f"the log starts at entry {c1}" in cli(a, "audit", "verify").err
    r = verify(a, "--base", str(first))
    assert r.code == 0, r.err
    doc = r.json()
    assert (doc["entries"], doc["root"]) == (whole["entries"], whole["root"]), "the same log as before"  # type: ignore[index]
    manifest = orjson.loads((first / "manifest.json").read_bytes())
    assert doc["base"] == {"bundle": str(first), "archived": c1, "entries": manifest["entries"],  # type: ignore[index]
                           "covered": manifest["covered"]}  # fmt: skip
    human = cli(a, "audit", "verify", "--base", str(first), "--key-fingerprint", a.identity.current_key_id)
    assert human.code == 0 and f"entries 0..{c1 - 1} from the archived bundle" in human.out

    # the node keeps working: new entries, new checkpoints over the archived ones too, peer proof
    exchange(nodes, 10)
    r = verify(a, "--base", str(first), "--against", "latest-peer")
    assert r.code == 0, r.err
    assert r.json()["checkpoints"] > doc["checkpoints"]  # type: ignore[index]

    # a second archive: exported with the first as base, the new bundle is complete on its own
    second = tmp_path / "int-archive-2"
    c2 = archive(a, second, "--base", str(first))
    assert c2 > c1
    assert orjson.loads((second / "manifest.json").read_bytes())["entries"] >= c2
    assert verify(a, "--base", str(second)).code == 0
    r = verify(a, "--base", str(first))
    assert r.code == 4 and r.json()["reason"] == "deleted", "the first bundle no longer reaches the live rows"  # type: ignore[index]
    assert f"nor in the base bundle {first}" in r.json()["message"]  # type: ignore[index]
    assert verify(b).code == 0, "the peer's log is untouched"


@pytest.fixture
def archived(nodes: Any, tmp_path: Path) -> tuple[Home, Path, int]:
    a, *_ = nodes
    exchange(nodes, 1)
    bundle = tmp_path / "int-archive"
    c = archive(a, bundle)
    exchange(nodes, 10)
    assert verify(a, "--base", str(bundle)).code == 0
    return a, bundle, c


def _fails(home: Home, bundle: Path) -> dict[str, Any]:
    r = verify(home, "--base", str(bundle))
    assert r.code == 4, r.out + r.err
    return r.json()  # type: ignore[return-value]


def test_a_live_entry_edited_after_the_archive_is_named(archived: tuple[Home, Path, int]) -> None:
    a, bundle, c = archived
    with a.node.transaction() as s:
        s.execute(update(TransferLogRow).where(TransferLogRow.index == c + 2).values(actor="operator:mallory"))
    doc = _fails(a, bundle)
    assert (doc["index"], doc["reason"]) == (c + 2, "edited")


def test_the_first_live_entries_deleted_are_named(archived: tuple[Home, Path, int], tmp_path: Path) -> None:
    a, bundle, c = archived
    with a.node.transaction() as s:
        s.execute(delete(TransferLogRow).where(TransferLogRow.index.in_([c + 3, c + 4])))
    doc = _fails(a, bundle)
    assert (doc["index"], doc["reason"]) == (c + 3, "deleted")
    # entries removed past the end of the bundle leave a gap the bundle cannot fill
    size = orjson.loads((bundle / "manifest.json").read_bytes())["entries"]
    with a.node.transaction() as s:
        s.execute(delete(TransferLogRow).where(TransferLogRow.index < size + 1))
    doc = _fails(a, bundle)
    assert (doc["index"], doc["reason"]) == (size, "deleted")


def test_an_edited_bundle_is_named(archived: tuple[Home, Path, int]) -> None:
    a, bundle, c = archived
    lines = (bundle / "entries.jsonl").read_bytes().splitlines()
    lines[2] = lines[2].replace(b'"actor":"', b'"actor":"x')
    (bundle / "entries.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    doc = _fails(a, bundle)
    assert (doc["index"], doc["reason"]) == (2, "edited") and f"base bundle {bundle}" in doc["message"]
    lines[2] = b"{"
    (bundle / "entries.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    doc = _fails(a, bundle)
    assert (doc["index"], doc["reason"]) == (2, "edited") and "line 3" in doc["message"]


def test_a_bundle_of_another_node_or_no_bundle_is_refused(archived: tuple[Home, Path, int], nodes: Any) -> None:
    a, bundle, c = archived
    _, b, *_ = nodes
    other = bundle.parent / "pub-bundle"
    assert cli(b, "audit", "export", "-o", str(other)).code == 0
    r = cli(a, "audit", "verify", "--base", str(other))
    assert r.code == 2 and f"a bundle of node '{b.id}', not of this node" in r.err
    r = cli(a, "audit", "verify", "--base", str(bundle.parent / "nowhere"))
    assert r.code == 2 and "nowhere" in r.err


def test_with_every_row_deleted_the_node_refuses_to_start_a_second_chain(archived: tuple[Home, Path, int]) -> None:
    a, bundle, c = archived
    with a.node.transaction() as s:
        s.execute(delete(TransferLogRow))
    with pytest.raises(LogVerificationError, match="rows were deleted") as err, a.node.transaction() as s:
        record_event(s, EventCode.ADMIN_ACTION, at=datetime.now(UTC))
    assert err.value.reason == "truncated"
    with a.node.sessions() as s:
        assert s.scalars(select(TransferLogRow)).all() == [], "nothing was logged as a new entry 0"
