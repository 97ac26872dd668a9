"""Every refusal of the header verifier and of the channel rules with its reason code and the words the
operator reads (what was expected, what was found), and the channel state after an apply.

Written after ``make mutate`` (docs/SECURITY.md, "Mutation testing"): these decisions were held by
their reason codes in other tests, their messages and some boundaries by none.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from keys import KeyStatus, Purpose, TrustState, canonical
from tests.unit.transfer.conftest import NOW, Pair, fixed_keys, manifest, record, trusted
from transfer.channel import ChannelState, Verdict, after_apply, check
from transfer.errors import PackageRejected
from transfer.header import Header, parse_prefix, signed_prefix
from transfer.limits import SIG_LEN, Limits
from transfer.opener import OpenContext, verify_header

PAIR = Pair()
DATA, SEALED = PAIR.seal([manifest(), record(1)])
RAW = parse_prefix(DATA)
KID = PAIR.internal.key_id


def _signed(doc: dict[str, Any], signer: Any = PAIR.internal) -> bytes:
    prefix = signed_prefix(canonical.encode(doc))
    return prefix + signer.sign(Purpose.PACKAGE_HEADER, prefix) + DATA[RAW.prefix_len :]


def _doc(**changes: Any) -> dict[str, Any]:
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in RAW.document.items()}
    for path, value in changes.items():
        outer, _, inner = path.partition("__")
        if inner:
            doc[outer][inner] = value
        else:
            doc[outer] = value
    return doc


def _refused(data: bytes, ctx: OpenContext | None = None, size: int | None = None) -> tuple[str, str]:
    with pytest.raises(PackageRejected) as err:
        verify_header(data, len(data) if size is None else size, ctx or PAIR.public_ctx())
    return err.value.reason, str(err.value)


def test_the_header_verifier_refusals() -> None:
    unsigned = signed_prefix(canonical.encode(_doc(sender="int-a"))) + bytes(SIG_LEN)
    assert _refused(unsigned) == ("bad-header", "header has no sender key id")
    assert _refused(_signed(_doc(sender__key="\x1b[31m"))) == (
        "unknown-signer",
        "header field sender.key is not a key id (32 hex digits): no such signer in the trust store",
    )
    assert _refused(_signed(_doc(sender__key="ab" * 16))) == (
        "unknown-signer",
        f"signer key {'ab' * 16} is not in the trust store",
    )
    revoked = TrustState([trusted("int-a", "internal", PAIR.internal, status=KeyStatus.REVOKED)])
    assert _refused(DATA, PAIR.public_ctx(trust=revoked)) == ("revoked-signer", f"signer key {KID} is revoked")
    as_public = TrustState([trusted("int-a", "public", PAIR.internal)])
    assert _refused(DATA, PAIR.public_ctx(trust=as_public)) == (
        "wrong-role",
        f"signer key {KID} belongs to public node int-a; a public node accepts packages from internal nodes only",
    )
    forged = DATA[: RAW.prefix_len - SIG_LEN] + bytes(SIG_LEN) + DATA[RAW.prefix_len :]
    assert _refused(forged) == ("bad-signature", f"header signature does not verify under key {KID}")
    assert _refused(_signed(_doc(sender__node="int-z"))) == (
        "wrong-sender",
        f"header names sender int-z but key {KID} belongs to node int-a",
    )
    assert _refused(_signed(_doc(recipient__node="pub-z"))) == (
        "wrong-recipient",
        "package is for node pub-z, not for this node (pub-b)",
    )
    other = fixed_keys(9).key_id
    assert _refused(_signed(_doc(recipient__key=other))) == (
        "unknown-recipient-key",
        f"package is sealed to key {other}, which this node does not hold",
    )
    small = replace(PAIR.public_ctx(), limits=Limits(max_plain=SEALED.header.plain - 1))
    assert _refused(DATA, small) == (
        "oversized",
        f"declared payload of {SEALED.header.plain} bytes exceeds the limit {SEALED.header.plain - 1}",
    )
    assert verify_header(DATA, len(DATA), replace(PAIR.public_ctx(), limits=Limits(max_plain=SEALED.header.plain)))
    assert _refused(DATA, size=len(DATA) - 1) == (
        "truncated",
        f"file is {len(DATA) - 1} bytes; the header declares {len(DATA)}",
    )
    assert _refused(DATA, size=len(DATA) + 1) == (
        "extended",
        f"file is {len(DATA) + 1} bytes; the header declares {len(DATA)}",
    )


# --- the channel rules ---------------------------------------------------------------------------

D1, D2, D3, D9 = "1" * 64, "2" * 64, "3" * 64, "9" * 64


def _header(seq: int = 1, prev: str = "0" * 64, created: int = NOW - 60, **kw: Any) -> Header:
    return PAIR.seal([manifest(), record(seq)], seq=seq, prev=prev, created=created, **kw)[1].header


def _check(h: Header, state: ChannelState, digest: str = D9, now: int = NOW, **kw: Any) -> Verdict | tuple[str, str]:
    try:
        return check(h, digest, state, now=now, skew=600, pending_quota=kw.pop("quota", 10), **kw)
    except PackageRejected as exc:
        return exc.reason, str(exc)


def test_the_channel_refusals() -> None:
    ch = PAIR.channel
    assert _check(_header(), ChannelState("int-a", "pub-z")) == (
        "wrong-sender",
        "package of channel int-a->pub-b checked against int-a->pub-z",
    )
    assert _check(replace(_header(), suite=2), ch(suite=1)) == (
        "downgraded-suite",
        "channel is pinned to suite 1; package uses suite 2",
    )
    assert _check(replace(_header(), suite=2), ch()) == ("unsupported-suite", "cipher suite 2 is not supported")
    assert _check(_header(created=NOW + 700), ch()) == (
        "future-dated",
        "created 700s in the future (allowed skew 600s)",
    )
    assert _check(_header(created=NOW + 600), ch()) is Verdict.ACCEPT, "the skew itself is allowed"
    assert _check(_header(), ch(applied={1: D1}), digest=D2) == (
        "equivocation",
        f"sequence 1 already has package {D1[:16]}…; this one is {D2[:16]}…",
    )
    assert _check(_header(3, D2), ch(last_seq=3, last_digest=D3)) == (
        "replay",
        "sequence 3 is at or below the last applied 3",
    )
    assert _check(_header(3, D2), ch(last_seq=5, last_digest=D3, rebase_seq=3)) == (
        "superseded",
        "sequence 3 is older than the snapshot the channel was rebased on (3)",
    )
    assert _check(_header(4, D2), ch(last_seq=5, last_digest=D3, rebase_seq=3))[0] == "replay"
    expired = _header(created=NOW - 10 * 86400, validity=86400)
    assert _check(expired, ch()) == (
        "expired",
        f"package expired {NOW - expired.not_after}s ago and is the newest on its channel",
    )
    assert _check(_header(2, D2), ch(last_seq=1, last_digest=D1, applied={1: D1})) == (
        "fork",
        f"previous digest {D2[:16]}… does not match package 1's {D1[:16]}…",
    )
    assert _check(_header(2, D1, created=NOW - 100), ch(last_seq=1, last_digest=D1, last_created=NOW - 40)) == (
        "clock-regression",
        "created 60s before the previous package",
    )
    assert _check(_header(3, D2), ch(pending={5: D1, 6: D2}), quota=2) == (
        "pending-quota",
        "pending quota of 2 packages is full",
    )


def test_a_state_after_an_apply() -> None:
    h2 = _header(2, D1)
    s = PAIR.channel(suite=1, last_seq=1, last_digest=D1, applied={1: D1}, pending={2: D2, 3: D3}, rebase_seq=1)
    after = after_apply(s, h2, D2, Verdict.ACCEPT)
    assert (after.last_seq, after.last_digest, after.last_created) == (2, D2, h2.created)
    assert dict(after.applied) == {1: D1, 2: D2}
    assert dict(after.pending) == {3: D3}, "the applied package leaves the pending set"
    assert (after.suite, after.rebase_seq) == (1, 1), "an accept keeps the rebase point"
    rebased = after_apply(PAIR.channel(), h2, D2, Verdict.REBASE)
    assert (rebased.suite, rebased.rebase_seq) == (h2.suite, 2)
    with pytest.raises(ValueError, match="no state change for duplicate"):
        after_apply(s, h2, D2, Verdict.DUPLICATE)
