"""Junk on the transfer medium, end to end through `public-node import`: files named like packages
that are not even a parsable header are quarantined by size and digest only (their bytes are not
kept), and anything else unexpected is reported once, with its reason code — not again by the next
import."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import run_cli
from tests.integration.public_support import log_events
from tests.nodes import Home, trusted_pair
from transfer.limits import MAGIC
from transfer.medium import channel_dirname

pytestmark = pytest.mark.db


@pytest.fixture
def nodes(tmp_path: Path, database_factory: Any) -> tuple[Home, Home, Path]:
    a, b, medium, clock = trusted_pair(tmp_path, database_factory)
    a.node.close()
    return a, b, medium


def test_junk_is_recorded_by_size_and_digest_and_odd_files_are_reported_once(nodes: Any) -> None:
    a, b, medium = nodes
    folder = medium / channel_dirname(a.id, b.id)
    folder.mkdir()
    junk = {
        f"p{1:012d}-{'a' * 16}.cgp": (os.urandom(3000), "bad-magic"),
        f"p{2:012d}-{'b' * 16}.cgp": (MAGIC + b"\xff\xff\xff\xff" + b"x" * 500, "bad-header"),  # length out of range
        f"p{3:012d}-{'c' * 16}.cgp": (MAGIC[:7], "truncated"),
    }
    for name, (data, _) in junk.items():
        (folder / name).write_bytes(data)
        os.utime(folder / name, (1, 1))  # long finished: not a package still being written
    odd = [folder / "notes.txt", medium / "README", medium / "stray", folder / f"p{4:012d}-{'d' * 16}.cgp"]
    odd[0].write_text("hello")
    odd[1].write_text("readme")
    odd[2].mkdir()
    odd[3].symlink_to(odd[0])
    (folder / ".p000000000005-eeeeeeeeeeeeeeee.cgp.tmp").write_bytes(b"being written")  # a writer's temp name

    home = str(b.node.config.home)
    first = run_cli("public-node", "--home", home, "import", "--json")
    assert first.code == 4, first.err
    outcomes: Any = first.json()
    odd_reasons = ["not-a-package-name", "not-a-channel", "not-a-channel", "not-regular"]
    assert sorted((o["file"], o["result"], o["reason"]) for o in outcomes["outcomes"]) == sorted(
        [(name, "rejected", reason) for name, (_, reason) in junk.items()]
        + [(p.name, "skipped", reason) for p, reason in zip(odd, odd_reasons, strict=True)]
    )
    assert not any((folder / name).exists() for name in junk), "junk is moved off the medium"
    assert all(p.exists() or p.is_symlink() for p in odd), "unexpected files are never read or removed"

    second = run_cli("public-node", "--home", home, "import", "--json")
    assert second.code == 0, second.err
    assert second.json() == {"outcomes": []}

    entries = sorted(p for p in b.node.config.quarantine_dir.iterdir() if not p.name.startswith("."))
    assert len(entries) == len(junk)
    by_digest = {hashlib.sha256(data).hexdigest(): (len(data), reason) for data, reason in junk.values()}
    for folder_of_one in entries:
        assert [p.name for p in folder_of_one.iterdir()] == ["reason.json"], "junk bytes are not kept"
        doc = orjson.loads((folder_of_one / "reason.json").read_bytes())
        assert (doc["size"], doc["reason"]) == by_digest[doc["digest"]]
        assert doc["header"] is None and doc["bytes_kept"] is False and doc["header_verified"] is False

    alarms = log_events(b.node, "alarm.junk")
    assert sorted((e["file"], e["reason"]) for e in alarms) == sorted(
        (p.name, reason) for p, reason in zip(odd, odd_reasons, strict=True)
    ), "each reported once, over two imports"
    assert {e["result"] for e in alarms} == {"alarm"}
    log_text = (b.node.config.log_dir / "node.log").read_text(encoding="utf-8")
    assert log_text.count("unexpected files on the medium") == 1
