"""Receipts: signed and verified under their own context, strict shape, nested checkpoints bound to the
issuer and the addressee; and the standalone evidence verifier imports nothing but the standard
library and ``cryptography``."""

from __future__ import annotations

import ast
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keys import Purpose, SecretKeys
from transfer import evidence_verify
from transfer.checkpoint import sign_checkpoint
from transfer.errors import LogVerificationError
from transfer.receipt import Receipt, parse_receipt, sign_receipt

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
PUB = SecretKeys(b"\x05" * 32, b"\x06" * 32)
INT = SecretKeys(b"\x07" * 32, b"\x08" * 32)


def receipt(**kw: Any) -> Receipt:
    args: dict[str, Any] = {
        "node": "pub-node", "sender": "int-node", "seq": 7, "digest": "ab" * 32, "outcome": "applied",
        "reason": "", "at": T0,
        "checkpoint": sign_checkpoint(PUB, node="pub-node", size=12, root="cd" * 32, at=T0),
        "acknowledges": sign_checkpoint(INT, node="int-node", size=30, root="ef" * 32, at=T0),
    }  # fmt: skip
    args.update(kw)
    return sign_receipt(PUB, **args)


def test_a_receipt_round_trips_and_verifies() -> None:
    r = receipt()
    item = r.item()
    back = parse_receipt(item["receipt"], item["sig"])
    assert back == r
    back.verify(PUB.public)
    assert back.acknowledges is not None
    back.acknowledges.verify(INT.public)


def test_the_signature_covers_every_member_and_the_context() -> None:
    r = receipt()
    with pytest.raises(LogVerificationError):
        replace(r, outcome="duplicate").verify(PUB.public)
    with pytest.raises(LogVerificationError):
        replace(r, seq=8).verify(PUB.public)
    with pytest.raises(LogVerificationError):
        r.verify(INT.public)  # another key
    as_checkpoint = PUB.sign(Purpose.CHECKPOINT, r.signed_bytes())
    with pytest.raises(LogVerificationError):
        replace(r, sig=as_checkpoint).verify(PUB.public)


def test_reasons_only_for_rejections() -> None:
    assert receipt(outcome="applied", reason="bad-ciphertext").reason == ""
    r = receipt(outcome="rejected", reason="bad-ciphertext", acknowledges=None, seq=None)
    assert parse_receipt(r.document(), r.sig.hex()).reason == "bad-ciphertext"
    with pytest.raises(ValueError):
        receipt(outcome="lost")


@pytest.mark.parametrize(
    "change",
    [
        {"outcome": "maybe"},
        {"reason": "Bad Reason"},
        {"digest": "AB" * 32},
        {"seq": 0},
        {"type": "credgap-log-checkpoint"},
        {"extra": 1},
        {"at": "2026-11-26 08:00"},
        {"checkpoint": {"checkpoint": {}, "sig": "00"}},
    ],
)
def test_malformed_receipts_are_bad_receipts(change: dict[str, Any]) -> None:
    r = receipt()
    doc = {**r.document(), **change}
    with pytest.raises(LogVerificationError) as e:
        parse_receipt(doc, r.sig.hex())
    assert e.value.reason == "bad-receipt"


def test_nested_checkpoints_must_belong_to_issuer_and_addressee() -> None:
    foreign = sign_checkpoint(INT, node="int-node", size=1, root="00" * 32, at=T0)
    r = receipt(checkpoint=foreign)
    with pytest.raises(LogVerificationError, match="carries a checkpoint of node int-node"):
        parse_receipt(r.document(), r.sig.hex())
    r = receipt(acknowledges=sign_checkpoint(PUB, node="pub-node", size=1, root="00" * 32, at=T0))
    with pytest.raises(LogVerificationError, match="acknowledges a checkpoint of node pub-node"):
        parse_receipt(r.document(), r.sig.hex())


def test_the_standalone_verifier_needs_only_python_and_cryptography() -> None:
    tree = ast.parse(Path(evidence_verify.__file__).read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    outside = {m for m in modules if m not in sys.stdlib_module_names and m != "__future__"}
    assert outside == {"cryptography"}
