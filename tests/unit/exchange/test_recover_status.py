"""`channel recover --peer-status FILE` reads a file an operator carried over: every field it uses is
checked, and a wrong one is named in one line (exchange.recover.read_peer_status)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from exchange import recover
from exchange.recover import RecoverError, read_peer_status

ME, PEER = "pub-node", "int-node"
D = "ab" * 32


def status(**channel: Any) -> dict[str, Any]:
    ch = {"direction": "out", "sender": PEER, "recipient": ME, "last_seq": 7, "last_digest": D,
          "last_created": "2026-11-26T08:00:00+00:00", "recent": [[6, "cd" * 32], [7, D]], **channel}  # fmt: skip
    return {"exchange": {"node": PEER, "channels": [ch], "log": {"segments": [{"start": 40}]},
                         "peer_checkpoints": {ME: {"size": 12, "root": "ef" * 32}}}}  # fmt: skip


def write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "status.json"
    path.write_bytes(doc if isinstance(doc, bytes) else orjson.dumps(doc))
    return path


def test_a_status_file_gives_the_peer_s_position(tmp_path: Path) -> None:
    p = read_peer_status(write(tmp_path, status()), peer=PEER, me=ME, side="receiver")
    assert (p.node, p.last_seq, p.last_digest, p.source) == (PEER, 7, D, "peer-status")
    assert p.recent == {6: "cd" * 32, 7: D} and p.segment == 40 and p.holds == {"size": 12, "root": "ef" * 32}
    assert p.last_created == 1795680000


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        (b"not json", "not the JSON output"),
        ({"exchange": {"node": PEER}}, "exchange.channels"),
        ({"exchange": {"node": "bad\nnode", "channels": []}}, "exchange.node"),
        ({"exchange": {"node": "other", "channels": []}}, "is the status of node other"),
        (status(sender="someone"), "reports no channel"),
        (status(last_seq=True), "field last_seq"),
        (status(last_seq=10**12), "field last_seq"),
        (status(last_seq="7"), "field last_seq"),
        (status(last_digest="AB" * 32), "field last_digest"),
        (status(last_digest=D + "\n"), "field last_digest"),
    ],
)
def test_a_wrong_status_file_is_named_in_one_line(tmp_path: Path, doc: Any, says: str) -> None:
    with pytest.raises(RecoverError) as err:
        read_peer_status(write(tmp_path, doc), peer=PEER, me=ME, side="receiver")
    assert says in err.value.message and "\n" not in err.value.message


def test_malformed_optional_fields_are_ignored_not_trusted(tmp_path: Path) -> None:
    doc = status(recent=[[6, "zz"], ["7", D], [8, D, 1], [True, D]])
    doc["exchange"]["peer_checkpoints"] = {ME: {"size": "12", "root": "ef" * 32}}
    p = read_peer_status(write(tmp_path, doc), peer=PEER, me=ME, side="receiver")
    assert p.recent == {} and p.holds is None


def test_a_huge_status_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recover, "MAX_STATUS_FILE", 100)
    with pytest.raises(RecoverError, match="at most 100 bytes"):
        read_peer_status(write(tmp_path, status()), peer=PEER, me=ME, side="receiver")
