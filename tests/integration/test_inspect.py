"""`transfer inspect`: verify a suspicious file without applying it, labelling what did not verify."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from exchange.node import open_exchange
from keys import canonical
from nodekit import trust_store
from nodekit.models import ChannelRow
from tests.helpers import run_cli
from tests.nodes import trusted_pair
from transfer.header import parse_prefix
from transfer.limits import MAGIC

pytestmark = pytest.mark.db


@pytest.fixture
def sent(tmp_path: Path, database_factory: Any) -> tuple[Any, Any, Path]:
    a, b, medium, clock = trusted_pair(tmp_path, database_factory)
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
    assert pkg.medium is not None
    return a, b, pkg.medium


def test_inspect_verifies_without_applying(sent: Any) -> None:
    a, b, path = sent
    r = run_cli("public-node", "--home", str(b.node.config.home), "transfer", "inspect", str(path), "--json")
    assert r.code == 0, r.err
    rep: Any = r.json()
    assert rep["verified"] is True and rep["header_verified"] is True
    assert rep["payload"] == {"verified": True, "counts": {"manifest": 1, "checkpoint": 1, "record": 1}}
    assert rep["channel"]["verdict"] == "accept"
    assert path.exists(), "inspect never touches the medium"
    with b.node.sessions() as s:
        assert s.scalars(select(ChannelRow)).first() is None, "inspect never applies"
    human = run_cli("public-node", "--home", str(b.node.config.home), "transfer", "inspect", str(path))
    assert "signature VERIFIED" in human.out and "result    VERIFIED" in human.out


def rewrite_header(path: Path, out: Path, change: Any) -> Path:
    """Copy a package with its header document changed by ``change`` (re-encoded canonically, so it
    still parses) and its original signature, which therefore no longer verifies."""
    data = path.read_bytes()
    raw = parse_prefix(data)
    doc = raw.document
    change(doc)
    body = canonical.encode(doc)
    out.write_bytes(MAGIC + len(body).to_bytes(4, "big") + body + raw.signature + data[raw.prefix_len :])
    return out


def inspect(b: Any, path: Path, *args: str) -> Any:
    return run_cli("public-node", "--home", str(b.node.config.home), "transfer", "inspect", str(path), *args)


def raw_controls(text: str) -> list[str]:
    return [ch for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")]


def test_inspect_tampered_header_exits_4_and_labels_unverified(sent: Any, tmp_path: Path) -> None:
    a, b, path = sent

    def bump_nonce(doc: dict[str, Any]) -> None:  # one hex digit changed: the header still parses
        n = doc["nonce"]
        doc["nonce"] = ("1" if n[0] != "1" else "2") + n[1:]

    bad = rewrite_header(path, tmp_path / "bad.cgp", bump_nonce)
    r = inspect(b, bad)
    assert r.code == 4
    assert "header (UNVERIFIED: do not trust these values)" in r.out
    assert "result    NOT VERIFIED: bad-signature" in r.out
    rep = inspect(b, bad, "--json").json()
    assert (rep["header_verified"], rep["verified"], rep["reason"]) == (False, False, "bad-signature")


def test_inspect_unknown_signer_labels_the_parsed_header_unverified(sent: Any, tmp_path: Path) -> None:
    a, b, path = sent

    def stranger(doc: dict[str, Any]) -> None:
        doc["sender"]["key"] = "f" * 32

    forged = rewrite_header(path, tmp_path / "stranger.cgp", stranger)
    r = inspect(b, forged)
    assert r.code == 4
    assert "header (UNVERIFIED: do not trust these values)" in r.out
    assert "result    NOT VERIFIED: unknown-signer" in r.out
    assert "signature VERIFIED" not in r.out and "signer    " not in r.out
    rep = inspect(b, forged, "--json").json()
    assert rep["reason"] == "unknown-signer" and rep["header_verified"] is False
    assert rep["header"]["sender"]["key"] == "f" * 32
    assert "payload" not in rep and "channel" not in rep  # nothing past the header was read


def test_inspect_junk_exits_4_and_escapes(sent: Any, tmp_path: Path) -> None:
    a, b, path = sent
    junk = tmp_path / "junk.cgp"
    junk.write_bytes(b"\x1b]0;owned\x07" * 10)
    r = inspect(b, junk, "--json")
    assert r.code == 4
    assert r.json()["reason"] == "bad-magic"
    assert "\x1b" not in r.err


def test_inspect_escapes_strings_from_the_package(sent: Any, tmp_path: Path) -> None:
    a, b, path = sent
    evil = "\x1b]0;owned\x07\u202e"

    def hostile(doc: dict[str, Any]) -> None:  # canonical JSON carries any string; the grammar comes later
        doc["sender"]["node"] = evil + doc["sender"]["node"]
        doc["counts"]["\x1b[2J\x07"] = 1  # object keys are ASCII, control characters included

    forged = rewrite_header(path, tmp_path / "hostile.cgp", hostile)
    assert evil.encode() not in forged.read_bytes()  # JSON-escaped in the file, raw once decoded
    assert parse_prefix(forged.read_bytes()).document["sender"]["node"].startswith(evil)
    for args in ((), ("--json",)):
        r = inspect(b, forged, *args)
        assert r.code == 4
        assert raw_controls(r.out) == [] and raw_controls(r.err) == [], args
    human = inspect(b, forged).out
    assert "header (UNVERIFIED" in human and "x1b]0;owned" in human and "result    NOT VERIFIED: bad-signature" in human
    rep = inspect(b, forged, "--json").json()
    assert rep["header"]["sender"]["node"].startswith("\\x1b]0;owned\\x07\\u202e")
    # a genuine package whose payload carries an ANSI escape in a subject name: counted, never echoed raw
    r = inspect(b, path)
    assert r.code == 0 and raw_controls(r.out) == [] and raw_controls(r.err) == []


def test_inspect_shows_a_time_no_calendar_holds_as_its_number(sent: Any, tmp_path: Path) -> None:
    """An unverified header may carry any integer up to 2^53 as ``created``: shown as the number, never
    an internal error (datetime.fromtimestamp raises on it)."""
    a, b, path = sent

    def far(doc: dict[str, Any]) -> None:
        doc["created"] = 2**53 - 1

    forged = rewrite_header(path, tmp_path / "far.cgp", far)
    r = inspect(b, forged)
    assert r.code == 4 and "internal error" not in r.err.lower(), r.err
    assert f"created    {2**53 - 1}" in r.out
