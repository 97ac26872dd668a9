"""`transfer inspect`: verify a suspicious file without applying it, labelling what did not verify."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from internal_node import SPEC as INTERNAL
from nodekit import trust_store
from nodekit.models import ChannelRow
from nodekit.node_exchange import open_exchange
from public_node import SPEC as PUBLIC
from tests.helpers import run_cli
from tests.nodes import Clock, make_home, trust_each_other

pytestmark = pytest.mark.db


@pytest.fixture
def sent(tmp_path: Path, database_factory: Any) -> tuple[Any, Any, Path]:
    clock = Clock()
    medium = tmp_path / "medium"
    medium.mkdir()
    a = make_home(tmp_path, INTERNAL, "int", medium, clock, database_factory("int"))
    b = make_home(tmp_path, PUBLIC, "pub", medium, clock, database_factory("pub"))
    trust_each_other(a, b, clock)
    ex = open_exchange(a.node, a.identity)
    with a.node.sessions() as s:
        peer = trust_store.load_trust_state(s).current_for(b.id)
    name = "\x1b[31mEVIL\x1b[0m 昆明"
    row = {"subject_key": "a" * 32, "subject_name": name, "subject_category": "legal_person", "uscc": None,
           "doc_no": "1", "publish_until": None, "source_unit": "t"}  # fmt: skip
    pkg = ex.send(
        peer,
        lambda s, seq: [
            {"kind": "record", "op": "upsert", "table": "penalty", "key": "1" * 32, "version": 1, "row": row}
        ],
    )
    a.node.close()
    return a, b, pkg.medium


def test_inspect_verifies_without_applying(sent: Any) -> None:
    a, b, path = sent
    r = run_cli("public-node", "--home", str(b.node.config.home), "transfer", "inspect", str(path), "--json")
    assert r.code == 0, r.err
    rep = r.json()
    assert rep["verified"] is True and rep["header_verified"] is True
    assert rep["payload"] == {"verified": True, "counts": {"manifest": 1, "checkpoint": 1, "record": 1}}
    assert rep["channel"]["verdict"] == "accept"
    assert path.exists(), "inspect never touches the medium"
    with b.node.sessions() as s:
        assert s.scalars(select(ChannelRow)).first() is None, "inspect never applies"
    human = run_cli("public-node", "--home", str(b.node.config.home), "transfer", "inspect", str(path))
    assert "signature VERIFIED" in human.out and "result    VERIFIED" in human.out


def test_inspect_tampered_file_exits_4_and_labels_unverified(sent: Any, tmp_path: Path) -> None:
    a, b, path = sent
    bad = tmp_path / "bad.cgp"
    data = bytearray(path.read_bytes())
    data[60] ^= 1  # inside the header
    bad.write_bytes(bytes(data))
    r = run_cli("public-node", "--home", str(b.node.config.home), "transfer", "inspect", str(bad))
    assert r.code == 4
    assert "UNVERIFIED" in r.out or "not canonical" in r.err or "bad-header" in r.err
    junk = tmp_path / "junk.cgp"
    junk.write_bytes(b"\x1b]0;owned\x07" * 10)
    r = run_cli("public-node", "--home", str(b.node.config.home), "transfer", "inspect", str(junk), "--json")
    assert r.code == 4
    assert r.json()["reason"] == "bad-magic"  # type: ignore[index]
    assert "\x1b" not in r.err


def test_inspect_escapes_strings_from_the_package(sent: Any) -> None:
    a, b, path = sent
    # the header strings are safe ASCII by grammar; the opened payload is counted, never echoed raw
    r = run_cli("public-node", "--home", str(b.node.config.home), "transfer", "inspect", str(path))
    assert "\x1b" not in r.out and "\x1b" not in r.err
