"""A medium that cannot take a package (issue 12 cases 18 and 19), on real mounts: a read-only
filesystem, a tmpfs too small for the package, a folder that is not there. Every package not
delivered is listed, with its reason (``medium-read-only``, ``medium-full``, ``medium-missing``), in
the human output and in ``--json``, and the command exits 1; it stays in the archive, and once the
medium is fixed the next export delivers it before anything newer."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from internal_node.documents import queue_document
from nodekit.errors import ExitCode
from tests.faults import remount
from tests.helpers import CliResult, run_cli
from tests.integration.medium_support import tmpfs
from tests.integration.public_support import channel_packages, package_files
from tests.nodes import Home, trusted_pair
from transfer.medium import channel_dirname

pytestmark = pytest.mark.db


class Nodes:
    def __init__(self, a: Home, b: Home, medium: Path) -> None:
        self.internal, self.public, self.medium = a, b, medium

    def export(self, *args: str, json: bool = True) -> CliResult:
        return run_cli("internal-node", "--home", str(self.internal.node.config.home), "export", *args,
                       *(["--json"] if json else []))  # fmt: skip

    def run_public(self, *args: str) -> CliResult:
        return run_cli("public-node", "--home", str(self.public.node.config.home), *args, "--json")

    @property
    def channel(self) -> str:
        return channel_dirname(self.internal.id, self.public.id)

    def outbound(self) -> list[tuple[int, str]]:
        return channel_packages(self.internal.node, self.internal.id, self.public.id)


@pytest.fixture
def nodes(tmp_path: Path, database_factory: Callable[[str], str]) -> Iterator[Nodes]:
    a, b, medium, _ = trusted_pair(tmp_path, database_factory)
    yield Nodes(a, b, medium)
    a.node.close()
    b.node.close()


def undelivered(r: CliResult) -> list[tuple[int, str]]:
    doc: Any = r.json()
    listed = [(p["seq"], p["reason"]) for p in doc["sent"] if not p["delivered"]]
    assert listed == [(u["seq"], u["reason"]) for u in doc["undelivered"]]
    return listed


def assert_refused(r: CliResult, reason: str, seqs: list[int]) -> None:
    """Exit 1; one error line naming the reason's cause and the packages kept back."""
    assert r.code == ExitCode.FAILURE, r.err
    [line] = r.err.splitlines()
    assert line.startswith(
        f"internal-node: error: {len(seqs)} package{'s' if len(seqs) != 1 else ''} not delivered, kept in the archive ("
    ), line
    assert all(f"seq {q} on " in line for q in seqs), line
    assert "internal error" not in line and "Traceback" not in r.err


def test_a_read_only_medium_is_reported_on_export_and_the_next_export_delivers(nodes: Nodes) -> None:
    with tmpfs(nodes.medium, "4m"):
        remount(nodes.medium, "ro")
        r = nodes.export()
        assert_refused(r, "medium-read-only", [1])
        assert undelivered(r) == [(1, "medium-read-only")]
        assert nodes.outbound() == [(1, "sealed")], "sealed and kept in the archive"
        human = nodes.export(json=False)  # the same again, as a person reads it
        assert human.code == ExitCode.FAILURE
        assert [ln for ln in human.out.splitlines() if ln.startswith("NOT DELIVERED")] == [
            ln for ln in human.out.splitlines() if "medium-read-only" in ln
        ]
        assert sum(ln.startswith("NOT DELIVERED") for ln in human.out.splitlines()) == 2  # seq 1 again, and 2
        ret = nodes.run_public("export")  # the public node's return package: the same reasons
        assert ret.code == ExitCode.FAILURE and [u["reason"] for u in ret.json()["undelivered"]] == [  # type: ignore[index]
            "medium-read-only"
        ]
        remount(nodes.medium, "rw")
        r = nodes.export()
        assert r.code == 0, r.err
        doc: Any = r.json()
        assert [(p["seq"], p["delivered"], p.get("earlier", False)) for p in doc["sent"]] == [
            (1, True, True), (2, True, True), (3, True, False),
        ]  # fmt: skip
        assert doc["undelivered"] == []
        assert nodes.outbound() == [(1, "written"), (2, "written"), (3, "written")]


def test_a_full_medium_on_a_retry_lists_the_package_it_could_not_deliver(nodes: Nodes, tmp_path: Path) -> None:
    """The fault campaign's case: an undelivered seq 1 hits ENOSPC on the retry, the small seq 2 fits.
    The output and the exit status must name seq 1, not only the seq 2 that went out."""
    pdf = tmp_path / "decision.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + os.urandom(400_000) + b"\n%%EOF\n")  # incompressible: ~400 kB sealed
    with nodes.internal.node.transaction() as s:
        queue_document(s, pdf, title="行政处罚决定书", approved_by="李四", at=nodes.internal.node.clock())
    with tmpfs(nodes.medium, "256k"):
        r = nodes.export()
        assert_refused(r, "medium-full", [1])
        assert undelivered(r) == [(1, "medium-full")]
        assert package_files(nodes.medium) == [], "no partial file is left on the medium"
        r = nodes.export()  # retries seq 1 (still too big), seals the heartbeat seq 2, which fits
        assert_refused(r, "medium-full", [1])
        doc: Any = r.json()
        assert [(p["seq"], p["delivered"]) for p in doc["sent"]] == [(1, False), (2, True)]
        assert undelivered(r) == [(1, "medium-full")]
        assert [p.name[:13] for p in package_files(nodes.medium)] == ["p000000000002"]
        remount(nodes.medium, "size=4m")  # room again
        r = nodes.export()
        assert r.code == 0, r.err
        assert [(p["seq"], p["delivered"]) for p in r.json()["sent"]] == [(1, True), (3, True)]  # type: ignore[index]
        applied = nodes.run_public("import")
        assert applied.code == 0, applied.err
        assert [(o["seq"], o["result"]) for o in applied.json()["outcomes"]] == [  # type: ignore[index]
            (1, "applied"), (2, "applied"), (3, "applied"),
        ]  # fmt: skip


def test_a_missing_medium_is_reported_by_export_resend_and_import(nodes: Nodes, tmp_path: Path) -> None:
    assert nodes.export().code == 0
    away = tmp_path / "unplugged"
    nodes.medium.rename(away)  # the device is unplugged
    r = nodes.export()
    assert_refused(r, "medium-missing", [2])
    assert undelivered(r) == [(2, "medium-missing")]
    r = nodes.export("--resend", "1")
    assert_refused(r, "medium-missing", [1])
    assert undelivered(r) == [(1, "medium-missing")]
    imp = nodes.run_public("import")
    assert imp.code == ExitCode.FAILURE
    assert imp.json()["error"]["reason"] == "medium-missing"  # type: ignore[index]
    assert str(nodes.medium) in imp.json()["error"]["message"]  # type: ignore[index]
    away.rename(nodes.medium)
    r = nodes.export()
    assert r.code == 0, r.err
    assert [(p["seq"], p.get("earlier", False)) for p in r.json()["sent"]] == [(2, True), (3, False)]  # type: ignore[index]
