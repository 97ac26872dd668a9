"""Channel rules as a pure function: every verdict and every rejection, with a fixed clock."""

from __future__ import annotations

import pytest

from tests.unit.transfer.conftest import NOW, Pair, manifest, record
from transfer.channel import ChannelState, Equivocation, Verdict, after_apply, check
from transfer.errors import PackageRejected
from transfer.header import ZERO_DIGEST, Header
from transfer.items import RECORD_TABLES

D1, D2, D3, D9 = "1" * 64, "2" * 64, "3" * 64, "9" * 64


def header(
    pair: Pair,
    seq: int = 1,
    prev: str = ZERO_DIGEST,
    created: int = NOW - 60,
    validity: int = 86400,
    ptype: str = "delta",
) -> Header:
    items = [manifest(), record(1)]
    if ptype == "snapshot":
        items.append({"kind": "snapshot", "tables": sorted(RECORD_TABLES), "records": 1})
    return pair.seal(items, seq=seq, prev=prev, created=created, validity=validity, package_type=ptype)[1].header


def run(h: Header, digest: str, state: ChannelState, *, now: int = NOW, quota: int = 10) -> Verdict:
    return check(h, digest, state, now=now, skew=600, pending_quota=quota)


def reason(h: Header, digest: str, state: ChannelState, **kw: int) -> str:
    with pytest.raises(PackageRejected) as err:
        run(h, digest, state, **kw)
    return err.value.reason


def test_next_in_sequence_is_accepted_and_advances(pair: Pair) -> None:
    s0 = pair.channel()
    h1 = header(pair)
    assert run(h1, D1, s0) is Verdict.ACCEPT
    s1 = after_apply(s0, h1, D1, Verdict.ACCEPT)
    assert (s1.last_seq, s1.last_digest, s1.suite, s1.applied) == (1, D1, 1, {1: D1})
    h2 = header(pair, seq=2, prev=D1)
    assert run(h2, D2, s1) is Verdict.ACCEPT


def test_duplicate_of_any_applied_sequence(pair: Pair) -> None:
    s = pair.channel(last_seq=3, last_digest=D3, applied={1: D1, 2: D2, 3: D3})
    assert run(header(pair), D1, s) is Verdict.DUPLICATE
    assert run(header(pair, seq=2, prev=D1), D2, s) is Verdict.DUPLICATE


def test_equivocation_keeps_both_digests(pair: Pair) -> None:
    s = pair.channel(last_seq=1, last_digest=D1, applied={1: D1})
    with pytest.raises(Equivocation) as err:
        run(header(pair), D9, s)
    assert (err.value.seq, err.value.known_digest, err.value.new_digest) == (1, D1, D9)
    s = pair.channel(pending={3: D3})
    with pytest.raises(Equivocation):
        run(header(pair, seq=3, prev=D2), D9, s)


def test_replay_and_superseded(pair: Pair) -> None:
    assert reason(header(pair), D9, pair.channel(last_seq=2, last_digest=D2, applied={2: D2})) == "replay"
    assert (
        reason(header(pair), D9, pair.channel(last_seq=2, last_digest=D2, applied={2: D2}, rebase_seq=2))
        == "superseded"
    )


def test_fork_and_clock_regression(pair: Pair) -> None:
    s = pair.channel(last_seq=1, last_digest=D1, last_created=NOW - 30, applied={1: D1})
    assert reason(header(pair, seq=2, prev=D9), D2, s) == "fork"
    assert reason(header(pair, seq=2, prev=D1, created=NOW - 3600), D2, s) == "clock-regression"


def test_gap_is_parked_within_quota(pair: Pair) -> None:
    s = pair.channel()
    h3 = header(pair, seq=3, prev=D2)
    assert run(h3, D3, s) is Verdict.GAP
    full = pair.channel(pending={q: str(q % 10) * 64 for q in range(5, 15)})
    assert reason(h3, D3, full, quota=10) == "pending-quota"
    assert pair.channel(last_seq=1, pending={3: D3, 6: D9}).missing() == [2, 4, 5]


def test_parked_package_is_accepted_at_its_turn(pair: Pair) -> None:
    h2 = header(pair, seq=2, prev=D1, created=NOW - 10 * 86400, validity=86400)
    s = pair.channel(last_seq=1, last_digest=D1, applied={1: D1}, pending={2: D2})
    # expired now, but it was fresh when it was parked: expiry must not strand it
    assert run(h2, D2, s) is Verdict.ACCEPT
    # while its predecessor is missing, seeing it again is a duplicate
    assert run(h2, D2, pair.channel(pending={2: D2})) is Verdict.DUPLICATE


def test_expiry_only_stops_the_newest(pair: Pair) -> None:
    old = header(pair, created=NOW - 10 * 86400, validity=86400)
    assert reason(old, D1, pair.channel()) == "expired"
    # a newer package is known: only an applied or a parked one counts (issue 13 case 7)
    assert run(old, D1, pair.channel(pending={2: D2})) is Verdict.ACCEPT


def test_future_dated_beyond_skew_only(pair: Pair) -> None:
    assert run(header(pair, created=NOW + 500), D1, pair.channel()) is Verdict.ACCEPT
    assert reason(header(pair, created=NOW + 700), D1, pair.channel()) == "future-dated"


def test_snapshot_ahead_rebases(pair: Pair) -> None:
    snap = header(pair, seq=9, prev=D9, ptype="snapshot")
    s = pair.channel(last_seq=2, last_digest=D2, applied={2: D2}, pending={4: D3, 12: D9})
    assert run(snap, D9, s) is Verdict.REBASE
    s2 = after_apply(s, snap, D9, Verdict.REBASE)
    assert (s2.last_seq, s2.rebase_seq, dict(s2.pending)) == (9, 9, {12: D9})


def test_suite_is_pinned(pair: Pair) -> None:
    h = header(pair)
    object.__setattr__(h, "suite", 2)
    assert reason(h, D1, pair.channel(suite=1)) == "downgraded-suite"
    assert reason(h, D1, pair.channel()) == "unsupported-suite"


def test_wrong_channel(pair: Pair) -> None:
    s = ChannelState(sender_node="int-z", recipient_node=pair.public_id)
    assert reason(header(pair), D1, s) == "wrong-sender"


# -- issue 13 case 6: a forged snapshot must not rewind a channel for good ---------------------------


def test_a_snapshot_rebases_at_most_the_bound_ahead(pair: Pair) -> None:
    s = pair.channel(last_seq=5, last_digest=D3, applied={5: D3}, last_created=NOW - 3600)
    at_bound = header(pair, seq=5 + 10_000, prev=D9, ptype="snapshot")
    assert run(at_bound, D9, s) is Verdict.REBASE
    forged = header(pair, seq=10**12 - 1, prev=D9, ptype="snapshot")  # the stolen key's jump to the end
    assert reason(forged, D9, s) == "rebase-too-far"
    beyond = header(pair, seq=5 + 10_001, prev=D9, ptype="snapshot")
    assert reason(beyond, D9, s) == "rebase-too-far"
    # the bound is the reader's configuration
    assert check(beyond, D9, s, now=NOW, skew=600, pending_quota=10, rebase_bound=10_001) is Verdict.REBASE
    with pytest.raises(PackageRejected) as err:
        check(at_bound, D9, s, now=NOW, skew=600, pending_quota=10, rebase_bound=100)
    assert err.value.reason == "rebase-too-far"


def test_a_snapshot_is_not_older_than_the_last_applied_package(pair: Pair) -> None:
    s = pair.channel(last_seq=2, last_digest=D2, applied={2: D2}, last_created=NOW - 60)
    older = header(pair, seq=9, prev=D9, created=NOW - 3600, ptype="snapshot")
    assert reason(older, D9, s) == "clock-regression"
    assert run(header(pair, seq=9, prev=D9, created=NOW - 60, ptype="snapshot"), D9, s) is Verdict.REBASE


def test_an_expired_snapshot_is_never_accepted(pair: Pair) -> None:
    old = header(pair, seq=9, prev=D9, created=NOW - 10 * 86400, validity=86400, ptype="snapshot")
    # a newer package parked does not make an old snapshot a resend that fills a gap
    s = pair.channel(last_seq=2, last_digest=D2, applied={2: D2}, pending={12: D1})
    assert reason(old, D9, s) == "expired"
    nxt = header(pair, seq=3, prev=D2, created=NOW - 10 * 86400, validity=86400, ptype="snapshot")
    assert reason(nxt, D3, s) == "expired"
