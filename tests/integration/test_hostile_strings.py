"""Strings a hostile medium controls (an unverified header's fields, file names) never reach a terminal,
node.log, the transfer log or a reason file raw: `public-node import` and the `watch` outcome line
escape them (`transfer inspect`: test_inspect.py)."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from exchange.cli_outcomes import outcome_line
from exchange.engine import Outcome
from keys import canonical
from nodekit.models import TransferLogRow
from tests.helpers import run_cli
from tests.nodes import Home, trusted_pair
from transfer.limits import MAGIC, SIG_LEN
from transfer.medium import channel_dirname

pytestmark = pytest.mark.db

# ESC (an OSC title sequence), BEL, a right-to-left override and a zero-width joiner: 32 characters
EVIL_KEY = "\x1b]0;owned\x07\u202eevil\u200d" + "0" * 16
EVIL_KEY_SHOWN = "\\x1b]0;owned\\x07\\u202eevil\\u200d" + "0" * 16
EVIL_KEY_SHOWN_REVERSED = "0" * 16 + "\\u200dlive\\u202e\\x07denwo;0]\\x1b"
EVIL_NAME = "notes\x1b[2J\u202etxt.cgp"


def raw_controls(text: str) -> list[str]:
    """Characters that drive a terminal or reorder its text (newline is the outputs' own line break)."""
    return [ch for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")]


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def forged_package(sender: Home, recipient: Home, key: str, seq: int) -> bytes:
    """A header that parses (canonical JSON) and names a signer nobody trusts, then junk payload."""
    header = {
        "format": 1,
        "sender": {"node": sender.id, "key": key},
        "recipient": {"node": recipient.id, "key": recipient.identity.current_key_id},
        "seq": seq,
        "type": "delta",
    }
    body = canonical.encode(header)
    return MAGIC + len(body).to_bytes(4, "big") + body + b"\0" * SIG_LEN + b"payload" * 10


@pytest.fixture
def nodes(tmp_path: Path, database_factory: Any) -> tuple[Home, Home, Path]:
    a, b, medium, clock = trusted_pair(tmp_path, database_factory)
    folder = medium / channel_dirname(a.id, b.id)
    folder.mkdir()
    a.node.close()
    return a, b, folder


def test_unverified_header_strings_and_medium_names_are_escaped_everywhere(nodes: Any) -> None:
    a, b, folder = nodes
    home = str(b.node.config.home)
    (folder / f"p{1:012d}-{'1' * 16}.cgp").write_bytes(forged_package(a, b, EVIL_KEY, 1))
    (folder / EVIL_NAME).write_bytes(b"odd")
    (folder.parent / f"dir\x07{EVIL_NAME}").mkdir()

    human = run_cli("public-node", "--home", home, "import")
    assert human.code == 4, human.err
    assert "unknown-signer" in human.out
    assert raw_controls(human.out) == [] and raw_controls(human.err) == []

    (folder / f"p{2:012d}-{'2' * 16}.cgp").write_bytes(forged_package(a, b, EVIL_KEY[::-1], 2))
    as_json = run_cli("public-node", "--home", home, "import", "--json")
    assert as_json.code == 4, as_json.err
    assert raw_controls(as_json.out) == [] and raw_controls(as_json.err) == []
    [outcome] = as_json.json()["outcomes"]  # type: ignore[index]
    assert outcome["reason"] == "unknown-signer" and "sender.key is not a key id" in outcome["message"]

    # the line `public-node watch` prints for each outcome, fed the raw strings a hostile medium controls
    line = outcome_line(
        Outcome(file=EVIL_NAME, result="rejected", channel=EVIL_NAME, reason="bad\x1b", message=f"key {EVIL_KEY}")
    )
    assert raw_controls(line) == [] and "\\x1b]0;owned\\x07\\u202e" in line

    log_text = (b.node.config.log_dir / "node.log").read_text(encoding="utf-8")
    assert "unknown-signer" in log_text and "unexpected files" in log_text
    assert raw_controls(log_text) == []

    reasons = sorted((b.node.config.quarantine_dir).glob("*/reason.json"))
    assert len(reasons) == 2
    for rf in reasons:
        text = rf.read_text(encoding="utf-8")
        doc = orjson.loads(text)
        assert doc["reason"] == "unknown-signer" and doc["header_verified"] is False
        assert raw_controls(text) == [] and [s for s in strings(doc) if raw_controls(s)] == []
        assert doc["header"]["sender"]["key"] in (EVIL_KEY_SHOWN, EVIL_KEY_SHOWN_REVERSED)

    with b.node.sessions() as s:
        subjects = [orjson.loads(r.subject) for r in s.scalars(select(TransferLogRow))]
    junk_alarms = [sj for sj in subjects if "notes" in sj.get("file", "") or "dir" in sj.get("file", "")]
    assert {sj["file"][:5] for sj in junk_alarms} == {"notes", "dir\\x"}, subjects
    assert [st for sj in subjects for st in strings(sj) if raw_controls(st)] == []
