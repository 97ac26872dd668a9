"""Issue 13 case 7: the signer key must be valid at the reader's own clock (with a grace), not only at the
``created`` its holder chose; the one exception is an expired (never a revoked) key's package filling a
gap that a parked package, vouched for by a currently valid key, commits to through ``prev``."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from keys import KeyStatus, TrustState
from tests.unit.transfer.conftest import Pair, fixed_keys, manifest, record, trusted
from transfer.channel import Parked, gap_anchors
from transfer.errors import PackageRejected
from transfer.limits import Limits
from transfer.opener import OpenContext, PackageOpener

EXPIRES = datetime(2026, 6, 1, tzinfo=UTC)
E = int(EXPIRES.timestamp())
DAY = 86400


def expiring(pair: Pair, status: KeyStatus = KeyStatus.TRUSTED) -> TrustState:
    """The internal node's key, valid until EXPIRES."""
    return TrustState([replace(trusted(pair.internal_id, "internal", pair.internal, status), expires=EXPIRES)])


def header_of(data: bytes, ctx: OpenContext, digest: str | None = None) -> None:
    PackageOpener([data], ctx, file_size=len(data), expected_digest=digest).header()


def refused(data: bytes, ctx: OpenContext, digest: str | None = None) -> PackageRejected:
    with pytest.raises(PackageRejected) as err:
        header_of(data, ctx, digest)
    return err.value


def test_a_key_that_expired_50_days_ago_is_refused_whatever_created_says(pair: Pair) -> None:
    # created inside the key's validity: the signer chooses it, so it proves nothing about now
    data, _ = pair.seal([manifest(), record(1)], created=E - DAY)
    header_of(data, pair.public_ctx(now=E - 60, trust=expiring(pair)))
    err = refused(data, pair.public_ctx(now=E + 50 * DAY, trust=expiring(pair)))
    assert err.reason == "expired-signer"
    assert "reader's clock" in str(err)


def test_the_grace_at_the_readers_clock_is_the_limits(pair: Pair) -> None:
    data, _ = pair.seal([manifest(), record(1)], created=E - DAY)
    grace = Limits().key_grace
    assert grace == 600, "FORMAT.md §9.1: the same ten minutes as the clock skew"
    header_of(data, pair.public_ctx(now=E + grace, trust=expiring(pair)))
    assert refused(data, pair.public_ctx(now=E + grace + 1, trust=expiring(pair))).reason == "expired-signer"
    strict = replace(pair.public_ctx(now=E + 1, trust=expiring(pair)), limits=Limits(key_grace=0))
    assert refused(data, strict).reason == "expired-signer"


def test_an_expired_key_fills_only_a_gap_a_parked_package_commits_to(pair: Pair) -> None:
    data, _ = pair.seal([manifest(), record(1)], created=E - DAY)
    digest = hashlib.sha256(data).hexdigest()
    late = E + 50 * DAY
    anchored = replace(pair.public_ctx(now=late, trust=expiring(pair)), gap_anchors=frozenset({digest}))
    header_of(data, anchored, digest)
    other = replace(anchored, gap_anchors=frozenset({"e" * 64}))
    assert refused(data, other, digest).reason == "expired-signer"
    assert refused(data, anchored, None).reason == "expired-signer", "no staged digest, no exception"
    # a revoked key is never accepted again, not even to fill a gap
    revoked = replace(anchored, trust=expiring(pair, KeyStatus.REVOKED))
    assert refused(data, revoked, digest).reason == "revoked-signer"


def test_only_a_currently_valid_key_vouches_for_a_gap_and_then_transitively(pair: Pair) -> None:
    old = replace(trusted("int-a", "internal", fixed_keys(7)), expires=EXPIRES)
    new = trusted("int-a", "internal", fixed_keys(8))
    gone = trusted("int-a", "internal", fixed_keys(9), KeyStatus.REVOKED)
    trust = TrustState([old, new, gone])
    now = E + 50 * DAY
    d3, d4, d5 = "3" * 64, "4" * 64, "5" * 64

    def anchors(*parked: Parked) -> frozenset[str]:
        return gap_anchors(parked, trust, role="internal", now=now, grace=600)

    top = Parked(seq=5, digest=d5, prev=d4, signer=new.key_id)
    mid = Parked(seq=4, digest=d4, prev=d3, signer=old.key_id)  # itself parked by the exception
    assert anchors(top, mid) == {d4, d3}
    assert anchors(mid) == frozenset(), "an expired key vouches for nothing on its own"
    assert anchors(replace(top, signer=gone.key_id), mid) == frozenset(), "nor does a revoked one"
    assert anchors(replace(top, signer=None), mid) == frozenset(), "nor a parked package of unknown signer"
    assert anchors(replace(top, signer="f" * 32)) == frozenset(), "nor a key the trust store lost"
    # a key superseded after sequence 4 vouches for package 4's predecessor, not for 6's
    sup = replace(new, status=KeyStatus.SUPERSEDED, last_seq=4)
    trust = TrustState([old, sup])
    assert anchors(Parked(seq=4, digest=d4, prev=d3, signer=sup.key_id)) == {d3}
    assert anchors(Parked(seq=6, digest="6" * 64, prev=d5, signer=sup.key_id)) == frozenset()


def test_the_parked_anchor_must_itself_be_valid_now(pair: Pair) -> None:
    """A parked package whose own key has since expired vouches only if something valid vouches for it."""
    k = replace(trusted("int-a", "internal", fixed_keys(7)), expires=EXPIRES)
    trust = TrustState([k])
    parked = Parked(seq=5, digest="5" * 64, prev="4" * 64, signer=k.key_id)
    assert gap_anchors([parked], trust, role="internal", now=E - 60, grace=600) == {"4" * 64}
    assert gap_anchors([parked], trust, role="internal", now=E + timedelta(days=1).total_seconds(), grace=600) == (
        frozenset()
    )
