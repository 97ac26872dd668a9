"""The pure transfer-log verifier: a good log verifies; every kind of tampering is caught and the first bad
entry named; checkpoints must match the entries and verify with a trusted key; a peer-held checkpoint
catches tail truncation through a consistency proof."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from keys import SecretKeys
from transfer import merkle
from transfer.checkpoint import Checkpoint, encode_checkpoint, parse_checkpoint, read_checkpoint, sign_checkpoint
from transfer.errors import LogVerificationError
from transfer.log import GENESIS, EventCode, LogEntry
from transfer.logverify import StoredEntry, UndecodableEntry, verify_against, verify_entries, verify_log

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
KEY = SecretKeys(b"\x01" * 32, b"\x02" * 32)
OTHER = SecretKeys(b"\x03" * 32, b"\x04" * 32)
KEYS = {KEY.key_id: KEY.public}
NODE = "int-node"


def chain(n: int) -> list[LogEntry]:
    out: list[LogEntry] = []
    prev = GENESIS
    for i in range(n):
        e = LogEntry(
            index=i, at=T0 + timedelta(seconds=i), actor="service:test", event=EventCode.PACKAGE_APPLIED,
            subject={"seq": i, "digest": f"{i:064x}"}, counts={"records": i}, prev=prev,
        )  # fmt: skip
        out.append(e)
        prev = e.leaf_hash
    return out


def checkpoint(entries: list[LogEntry], size: int, key: SecretKeys = KEY) -> Checkpoint:
    root = merkle.root([bytes.fromhex(e.leaf_hash) for e in entries[:size]]).hex()
    return sign_checkpoint(key, node=NODE, size=size, root=root, at=T0)


def rows(entries: list[LogEntry], recorded: list[str] | None = None) -> list[tuple[LogEntry, str | None]]:
    rec = recorded if recorded is not None else [e.leaf_hash for e in entries]
    return list(zip(entries, rec, strict=True))


def fails(entries_rows: list[tuple[LogEntry, str | None]], cps: list[Checkpoint]) -> LogVerificationError:
    with pytest.raises(LogVerificationError) as e:
        verify_log(entries_rows, cps, KEYS, node=NODE)
    return e.value


def test_a_good_log_verifies() -> None:
    es = chain(12)
    cps = [checkpoint(es, 5), checkpoint(es, 12)]
    v = verify_log(rows(es), cps, KEYS, node=NODE)
    assert (v.size, v.covered) == (12, 12)
    assert v.root == merkle.root([bytes.fromhex(e.leaf_hash) for e in es]).hex()
    assert verify_entries(es, cps, KEYS).size == 12


def test_an_edited_entry_is_named() -> None:
    es = chain(10)
    recorded = [e.leaf_hash for e in es]
    es[4] = replace(es[4], subject={"seq": 4, "digest": "f" * 64})
    err = fails(rows(es, recorded), [checkpoint(chain(10), 10)])
    assert (err.index, err.reason) == (4, "edited")
    assert "entry 4" in str(err)


def test_an_edit_with_its_recorded_hash_rewritten_is_named_by_the_next_link() -> None:
    es = chain(10)
    es[4] = replace(es[4], actor="operator:mallory")
    err = fails(rows(es), [])
    assert (err.index, err.reason) == (4, "edited")


def test_a_deleted_entry_is_named() -> None:
    es = chain(10)
    del es[6]
    err = fails(rows(es), [])
    assert (err.index, err.reason) == (6, "deleted")


def test_a_deletion_hidden_by_renumbering_is_named() -> None:
    es = chain(10)
    recorded = [e.leaf_hash for e in es]
    del es[6], recorded[6]
    es = [replace(e, index=i) for i, e in enumerate(es)]
    err = fails(rows(es, recorded), [])
    assert (err.index, err.reason) == (6, "deleted")


def test_swapped_entries_are_reported_as_reordered() -> None:
    es = chain(10)
    recorded = [e.leaf_hash for e in es]
    # what swapping the index column of two rows does: each keeps its content and recorded hash
    es[3], es[6] = replace(es[6], index=3), replace(es[3], index=6)
    recorded[3], recorded[6] = recorded[6], recorded[3]
    err = fails(rows(es, recorded), [])
    assert (err.index, err.reason) == (3, "reordered")
    es = chain(10)
    recorded = [e.leaf_hash for e in es]
    es[3], es[4] = replace(es[4], index=3), replace(es[3], index=4)
    recorded[3], recorded[4] = recorded[4], recorded[3]
    err = fails(rows(es, recorded), [])
    assert (err.index, err.reason) == (3, "reordered")


def test_an_inserted_entry_is_named() -> None:
    es = chain(10)
    recorded = [e.leaf_hash for e in es]
    forged = LogEntry(index=5, at=T0, actor="operator:mallory", event=EventCode.ADMIN_ACTION, prev=es[4].leaf_hash)
    tail = [replace(e, index=e.index + 1) for e in es[5:]]
    es2 = [*es[:5], forged, *tail]
    rec2 = [*recorded[:5], forged.leaf_hash, *recorded[5:]]
    err = fails(rows(es2, rec2), [])
    assert (err.index, err.reason) == (5, "inserted")


def test_a_rewritten_chain_is_caught_by_the_checkpoint() -> None:
    original = chain(10)
    cp = checkpoint(original, 8)
    # rebuild the whole chain after an edit of entry 2, recorded hashes and all
    es: list[LogEntry] = []
    prev = GENESIS
    for e in original:
        e2 = replace(e, prev=prev, actor="operator:mallory" if e.index == 2 else e.actor)
        es.append(e2)
        prev = e2.leaf_hash
    err = fails(rows(es), [cp])
    assert err.reason == "inconsistent" and "size 8" in str(err)


def test_tail_truncation_behind_a_held_checkpoint_is_caught() -> None:
    es = chain(10)
    err = fails(rows(es[:7]), [checkpoint(es, 9)])
    assert (err.index, err.reason) == (7, "truncated")
    assert "7..8" in str(err)


def test_checkpoint_signatures_must_verify_with_a_trusted_key() -> None:
    es = chain(6)
    err = fails(rows(es), [checkpoint(es, 6, key=OTHER)])
    assert err.reason == "bad-checkpoint" and OTHER.key_id in str(err)
    good = checkpoint(es, 6)
    forged = replace(good, root="0" * 64)
    assert fails(rows(es), [forged]).reason == "bad-checkpoint"
    with pytest.raises(LogVerificationError):
        verify_log(rows(es), [good], KEYS, node="another-node")


def test_two_checkpoints_of_one_size_must_agree() -> None:
    es = chain(6)
    other = chain(7)[1:]  # different entries
    a = checkpoint(es, 5)
    b = sign_checkpoint(
        KEY, node=NODE, size=5, root=merkle.root([bytes.fromhex(e.leaf_hash) for e in other[:5]]).hex(), at=T0
    )
    with pytest.raises(LogVerificationError) as e:
        verify_log(rows(es), [a, b], KEYS)
    assert e.value.reason == "inconsistent"


def test_against_a_peer_held_checkpoint() -> None:
    es = chain(20)
    held = checkpoint(es, 15)
    local = verify_log(rows(es[:12]), [checkpoint(es, 10)], KEYS, node=NODE)  # tail cut back to 12, past 15
    with pytest.raises(LogVerificationError) as e:
        verify_against(local, held, KEYS)
    assert (e.value.index, e.value.reason) == (12, "truncated")
    whole = verify_log(rows(es), [], KEYS, node=NODE)
    proof = verify_against(whole, held, KEYS)
    merkle.verify_consistency(15, 20, proof, bytes.fromhex(held.root), bytes.fromhex(whole.root))
    # a log rewritten consistently (chain, recorded hashes, its own checkpoints) still fails against the peer
    rewritten: list[LogEntry] = []
    prev = GENESIS
    for e2 in es:
        e3 = replace(e2, prev=prev, reason="x" if e2.index == 3 else "")
        rewritten.append(e3)
        prev = e3.leaf_hash
    forged = verify_log(rows(rewritten), [checkpoint(rewritten, 20)], KEYS, node=NODE)
    with pytest.raises(LogVerificationError) as e:
        verify_against(forged, held, KEYS)
    assert e.value.reason == "inconsistent"


def test_checkpoint_envelopes_round_trip_and_reject_junk() -> None:
    cp = checkpoint(chain(3), 3)
    assert read_checkpoint(encode_checkpoint(cp)) == cp
    env = cp.envelope()
    for bad in (
        {**env, "extra": 1},
        {"checkpoint": {**env["checkpoint"], "size": -1}, "sig": env["sig"]},
        {"checkpoint": {**env["checkpoint"], "root": "AB" * 32}, "sig": env["sig"]},
        {"checkpoint": {**env["checkpoint"], "type": "other"}, "sig": env["sig"]},
        {"checkpoint": env["checkpoint"], "sig": "00"},
        [],
    ):
        with pytest.raises(LogVerificationError) as e:
            parse_checkpoint(bad)
        assert e.value.reason == "bad-checkpoint"
    with pytest.raises(LogVerificationError):
        read_checkpoint(b'{"checkpoint": 1}')


def test_an_entry_that_does_not_decode_is_named_edited_even_with_its_hash_recomputed() -> None:
    es = chain(8)
    e = es[3]
    raw = UndecodableEntry(
        index=3, at=e.at, actor=e.actor, event="x", result=e.result, reason=e.reason, subject="{",
        counts=e.counts, prev=e.prev, problem="its event 'x' is not an event code",
    )  # fmt: skip
    entries: list[tuple[StoredEntry, str | None]] = [(x, x.leaf_hash) for x in es]
    entries[3] = (raw, raw.leaf_hash)  # the attacker recorded a matching hash too
    with pytest.raises(LogVerificationError) as err:
        verify_log(entries, [], KEYS, node=NODE)
    assert (err.value.index, err.value.reason) == (3, "edited")
    assert "not an event code" in str(err.value)
