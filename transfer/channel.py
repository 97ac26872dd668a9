"""Channel rules: sequence, hash chain, duplicates, equivocation, gaps, freshness and suite pinning, as a
pure function of a verified header, the persisted channel state and the caller's clock (FORMAT.md §9)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from keys import KeyStatus, Role, TrustState
from transfer.errors import PackageRejected
from transfer.header import ZERO_DIGEST, Header
from transfer.limits import DEFAULT_REBASE_BOUND, SUITE_CG1

SUPPORTED_SUITES = frozenset({SUITE_CG1})


class Verdict(StrEnum):
    ACCEPT = "accept"  # the next package: apply it now
    DUPLICATE = "duplicate"  # already applied (or already pending) with the same digest: nothing to do
    GAP = "gap"  # a later package: park it until the missing ones arrive
    REBASE = "rebase"  # a snapshot ahead of us: apply it as the new base of the channel


class Equivocation(PackageRejected):
    """Two different packages signed for the same position of a channel: proof of a misbehaving sender
    (or a stolen key). Carries the digest of the package already known for that position."""

    reason = "equivocation"

    def __init__(self, message: str, *, seq: int, known_digest: str, new_digest: str) -> None:
        super().__init__(message)
        self.seq = seq
        self.known_digest = known_digest
        self.new_digest = new_digest


@dataclass(frozen=True)
class ChannelState:
    """What a reader persists for one incoming channel (the caller loads and stores it)."""

    sender_node: str
    recipient_node: str
    suite: int | None = None
    last_seq: int = 0
    last_digest: str = ZERO_DIGEST
    last_created: int = 0
    rebase_seq: int = 0
    applied: Mapping[int, str] = field(default_factory=dict)  # seq -> digest of every applied package
    pending: Mapping[int, str] = field(default_factory=dict)  # seq -> digest of parked packages

    def missing(self) -> list[int]:
        """The sequence numbers a pending package is waiting for."""
        if not self.pending:
            return []
        top = max(self.pending)
        return [s for s in range(self.last_seq + 1, top) if s not in self.pending]


def check(
    header: Header,
    digest: str,
    state: ChannelState,
    *,
    now: int,
    skew: int,
    pending_quota: int,
    rebase_bound: int = DEFAULT_REBASE_BOUND,
) -> Verdict:
    """Decide what to do with a package whose header verified. Raises ``PackageRejected`` (or
    :class:`Equivocation`) with a FORMAT.md reason code for every rejection.

    ``rebase_bound``: how far ahead of the last applied sequence a package may be (FORMAT.md §9.3)."""
    if header.sender_node != state.sender_node or header.recipient_node != state.recipient_node:
        raise PackageRejected(
            f"package of channel {header.sender_node}->{header.recipient_node} checked against "
            f"{state.sender_node}->{state.recipient_node}",
            reason="wrong-sender",
        )
    if state.suite is not None and header.suite != state.suite:
        raise PackageRejected(
            f"channel is pinned to suite {state.suite}; package uses suite {header.suite}", reason="downgraded-suite"
        )
    if header.suite not in SUPPORTED_SUITES:
        raise PackageRejected(f"cipher suite {header.suite} is not supported", reason="unsupported-suite")
    if header.created > now + skew:
        raise PackageRejected(
            f"created {header.created - now}s in the future (allowed skew {skew}s)", reason="future-dated"
        )
    seq = header.seq
    parked = False
    for known in (state.applied, state.pending):
        if seq in known:
            if known[seq] != digest:
                raise Equivocation(
                    f"sequence {seq} already has package {known[seq][:16]}…; this one is {digest[:16]}…",
                    seq=seq,
                    known_digest=known[seq],
                    new_digest=digest,
                )
            if known is state.applied or seq != state.last_seq + 1:
                return Verdict.DUPLICATE
            parked = True  # the parked package itself, whose turn has come
    if seq <= state.last_seq:
        if seq <= state.rebase_seq:
            raise PackageRejected(
                f"sequence {seq} is older than the snapshot the channel was rebased on ({state.rebase_seq})",
                reason="superseded",
            )
        raise PackageRejected(f"sequence {seq} is at or below the last applied {state.last_seq}", reason="replay")
    if seq - state.last_seq > rebase_bound:
        # a snapshot that far ahead would rewind the channel past every real package to come (a stolen
        # key's jump to the end of the sequence space); a delta that far ahead could only be taken up by
        # such a rebase, and parked it would count as a newer package known for good
        raise PackageRejected(
            f"sequence {seq} is {seq - state.last_seq} ahead of the last applied {state.last_seq}; "
            f"at most {rebase_bound} is allowed",
            reason="rebase-too-far",
        )
    expired = now > header.not_after
    if expired and header.type == "snapshot":
        # a snapshot replaces the whole state: an old one is never a resend that fills a gap
        raise PackageRejected(f"snapshot expired {now - header.not_after}s ago", reason="expired")
    # only what is applied or parked is known: a package of the same batch rejected later must not make
    # this one look like an old resend (issue 13 case 7); the caller parks the batch's later ones first
    newest = max(state.last_seq, max(state.pending, default=0))
    # a parked package was checked for freshness when it arrived; expiry must not strand it
    if expired and seq >= newest and not parked:
        raise PackageRejected(
            f"package expired {now - header.not_after}s ago and is the newest on its channel", reason="expired"
        )
    if seq == state.last_seq + 1:
        if header.prev != state.last_digest:
            raise PackageRejected(
                f"previous digest {header.prev[:16]}… does not match package {state.last_seq}'s "
                f"{state.last_digest[:16]}…",
                reason="fork",
            )
        if header.created < state.last_created:
            raise PackageRejected(
                f"created {state.last_created - header.created}s before the previous package", reason="clock-regression"
            )
        return Verdict.ACCEPT
    if header.type == "snapshot":
        if header.created < state.last_created:
            raise PackageRejected(
                f"snapshot created {state.last_created - header.created}s before the last applied package",
                reason="clock-regression",
            )
        return Verdict.REBASE
    if len(state.pending) >= pending_quota:
        raise PackageRejected(f"pending quota of {pending_quota} packages is full", reason="pending-quota")
    return Verdict.GAP


def after_apply(state: ChannelState, header: Header, digest: str, verdict: Verdict) -> ChannelState:
    """The channel state once a package with ``verdict`` ACCEPT or REBASE has been applied."""
    if verdict not in (Verdict.ACCEPT, Verdict.REBASE):
        raise ValueError(f"no state change for {verdict}")
    applied = dict(state.applied)
    applied[header.seq] = digest
    pending = {s: d for s, d in state.pending.items() if s > header.seq}
    return ChannelState(
        sender_node=state.sender_node,
        recipient_node=state.recipient_node,
        suite=header.suite if state.suite is None else state.suite,
        last_seq=header.seq,
        last_digest=digest,
        last_created=header.created,
        rebase_seq=header.seq if verdict is Verdict.REBASE else state.rebase_seq,
        applied=applied,
        pending=pending,
    )


@dataclass(frozen=True)
class Parked:
    """A parked package as the gap-fill rule sees it: its position, digest, chain link and signer key."""

    seq: int
    digest: str
    prev: str | None  # None: parked before the reader kept it (it vouches for nothing)
    signer: str | None


def gap_anchors(parked: Iterable[Parked], trust: TrustState, *, role: Role, now: int, grace: int) -> frozenset[str]:
    """The digests parked packages commit to through ``prev`` and vouch for (FORMAT.md §9.1): a package
    signed by a key that is valid at the reader's clock ``now`` (within ``grace``), not revoked nor
    distrusted, and allowed to sign its sequence number vouches for its predecessor; so does a parked
    package that is itself vouched for, transitively down the chain. An expired (not revoked) key's
    package is accepted only when its digest is one of these."""
    when, wiggle = datetime.fromtimestamp(now, UTC), timedelta(seconds=grace)
    vouched: set[str] = set()
    for p in sorted(parked, key=lambda p: p.seq, reverse=True):  # down the chain: a successor first
        if p.prev is None:
            continue
        key = trust.get(p.signer) if p.signer is not None else None
        valid = (
            key is not None
            and key.status in (KeyStatus.TRUSTED, KeyStatus.SUPERSEDED)
            and key.role == role
            and key.valid_at(when, wiggle)
            and key.may_sign(p.seq)
        )
        if valid or p.digest in vouched:
            vouched.add(p.prev)
    return frozenset(vouched)
