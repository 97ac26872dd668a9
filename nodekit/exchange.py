"""The exchange as a node runs it, for both node programs: sending packages in the safe order (archive,
commit, then medium) and receiving them (stage, verify, apply in one transaction, archive, then remove
from the medium), with quarantine, pending gaps, duplicates and alarms, all logged in the transfer log.

What a package's data items *mean* is the node's business: it passes a :class:`DataApplier`. The
exchange handles the exchange's own kinds (manifest, heartbeat, key announcements, receipts,
checkpoints) itself.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from keys import Role, SecretKeys, TrustedKey, TrustState
from keys.errors import KeyStoreError
from nodekit.crash import crashpoint
from nodekit.events import record_event
from nodekit.locks import channel_lock
from nodekit.models import ChannelPackageRow, ChannelRow
from nodekit.runtime import Node
from transfer.channel import ChannelState, Equivocation, Verdict, after_apply, check
from transfer.errors import PackageRejected, TransferError
from transfer.files import atomic_writer, durable_move, file_digest, read_chunks
from transfer.header import ZERO_DIGEST, parse_prefix
from transfer.items import Item, Sealable
from transfer.limits import DEFAULT_VALIDITY, Limits
from transfer.log import EventCode
from transfer.medium import (
    Medium,
    MediumFile,
    PackageStore,
    Quarantine,
    StagedFile,
    channel_dirname,
    clear_staging,
    package_name,
)
from transfer.opener import OpenContext, PackageOpener, VerifiedHeader
from transfer.seal import Recipient, SealedPackage, seal

log = logging.getLogger("credgap.exchange")

RECEIVER_WAIT = 600.0  # seconds an import waits for another receiver of the same node to finish
EXCHANGE_KINDS = frozenset({"manifest", "heartbeat", "key-announcement", "receipt", "checkpoint"})


class NodeIdentity(Protocol):
    """What the exchange needs of the node's own identity (implemented in ``keys``)."""

    @property
    def node_id(self) -> str: ...

    @property
    def role(self) -> Role: ...

    def signer_for(self, recipient_node_id: str, seq: int) -> SecretKeys: ...

    def secret_for(self, key_id: str) -> SecretKeys: ...

    def announcements_for(self, recipient_node_id: str, seq: int) -> list[dict[str, Any]]: ...


class DataApplier(Protocol):
    """A node's handling of one package's data items, inside the package's (uncommitted) transaction."""

    def begin(self, session: Session, vh: VerifiedHeader) -> None: ...

    def item(self, item: Item) -> None: ...

    def finish(self) -> dict[str, int]: ...


class ExchangeHooks(Protocol):
    """Exchange-level items handled on behalf of both nodes (trust-store changes, receipts, checkpoints),
    and the transfer log's part of sending and receiving; each call runs in the package's transaction."""

    def key_announcement(self, session: Session, vh: VerifiedHeader, statement: dict[str, Any]) -> None: ...

    def receipt(self, session: Session, vh: VerifiedHeader, item: Item) -> None: ...

    def checkpoint(self, session: Session, vh: VerifiedHeader, item: Item) -> None: ...

    def outgoing(self, session: Session, peer_node: str, seq: int) -> Iterable[Item]:
        """Exchange items for package ``seq`` to ``peer_node`` (the checkpoint, pending receipts)."""
        ...

    def sealed(self, session: Session, peer_node: str, seq: int, digest: str) -> None:
        """After the package's ``package.sealed`` entry."""
        ...

    def on_outcome(self, session: Session, outcome: Outcome, sender: str | None) -> None:
        """After the entries that record what became of a received package (``sender`` unverified when
        the header did not verify)."""
        ...


@dataclass
class Outcome:
    """What became of one package file (the CLI prints these; ``--json`` emits them)."""

    file: str
    result: str  # applied | rebased | duplicate | pending | rejected | skipped
    seq: int | None = None
    digest: str | None = None
    channel: str | None = None
    reason: str = ""
    message: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "", {})}


@dataclass(frozen=True)
class SentPackage:
    seq: int
    digest: str
    size: int
    channel: str
    archive: Path
    medium: Path | None
    counts: dict[str, int]


def is_package_fault(exc: BaseException) -> bool:
    """Errors caused by the package's content (quarantine it) rather than by this node (retry later)."""
    return isinstance(exc, (PackageRejected, KeyStoreError)) or bool(getattr(exc, "package_fault", False))


class Exchange:
    """Sending and receiving packages for one node home."""

    def __init__(
        self,
        node: Node,
        identity: NodeIdentity,
        trust_loader: Callable[[Session], TrustState],
        *,
        hooks: ExchangeHooks | None = None,
        limits: Limits | None = None,
        validity: int = DEFAULT_VALIDITY,
    ) -> None:
        self.node = node
        self.identity = identity
        self.trust_loader = trust_loader
        self.hooks = hooks
        self.limits = limits or Limits()
        self.validity = validity
        home = node.config.home
        self.medium = Medium(node.config.medium)
        self.archive = PackageStore(home / "archive")
        self.pending = PackageStore(home / "pending")
        self.quarantine = Quarantine(home / "quarantine")
        self.staging = home / "staging"
        self._reported_odd: set[tuple[str, int]] = set()
        self._stop: Callable[[], bool] = lambda: False

    # ------------------------------------------------------------------ state

    def now(self) -> int:
        return int(self.node.clock().timestamp())

    def _channel_row(self, s: Session, sender: str, recipient: str, *, outbound: bool) -> ChannelRow:
        stmt = select(ChannelRow).where(ChannelRow.sender_node == sender, ChannelRow.recipient_node == recipient)
        if s.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = s.scalars(stmt).first()
        if row is None:
            row = ChannelRow(
                sender_node=sender,
                recipient_node=recipient,
                outbound=outbound,
                suite=None,
                last_seq=0,
                last_digest=ZERO_DIGEST,
                last_created=0,
                rebase_seq=0,
                updated_at=self.node.clock(),
            )
            s.add(row)
            s.flush()
        return row

    def channel_state(self, s: Session, row: ChannelRow) -> ChannelState:
        return load_channel_state(s, row)

    def _store_state(self, s: Session, row: ChannelRow, state: ChannelState) -> None:
        row.suite = state.suite
        row.last_seq = state.last_seq
        row.last_digest = state.last_digest
        row.last_created = state.last_created
        row.rebase_seq = state.rebase_seq
        row.updated_at = self.node.clock()

    def _context(self, s: Session) -> OpenContext:
        return OpenContext(
            own_node=self.identity.node_id,
            own_role=self.identity.role,
            trust=self.trust_loader(s),
            own_keys=self.identity.secret_for,
            now=self.now(),
            limits=self.limits,
        )

    def _event(self, s: Session, event: EventCode, **kw: Any) -> None:
        record_event(s, event, at=self.node.clock(), **kw)

    # ---------------------------------------------------------------- sending

    def send(
        self,
        peer: TrustedKey,
        build: Callable[[Session, int], Iterable[Sealable]],
        *,
        manifest: dict[str, Any] | None = None,
        package_type: str = "delta",
        after_seal: Callable[[Session, SealedPackage], None] | None = None,
    ) -> SentPackage:
        """Seal the next package for ``peer`` and deliver it: archive + fsync, commit state and log, then medium.

        The package holds the manifest, this node's key announcements for that channel position, then
        the node's data items from ``build(session, seq)``; a delta with no data item gets a heartbeat.
        """
        me = self.identity.node_id
        name = channel_dirname(me, peer.node_id)
        with channel_lock(self.node.config.home, name):
            self._recover_outbound(peer.node_id)
            with self.node.transaction() as s:
                row = self._channel_row(s, me, peer.node_id, outbound=True)
                seq, prev = row.last_seq + 1, row.last_digest
                provisional = self.archive.new_file(me, peer.node_id, f"p{seq:012d}-sealing.cgp")
                with (
                    atomic_writer(provisional) as out,
                    tempfile.TemporaryFile(dir=self._staging()) as spool,
                ):
                    items = self._items(s, peer.node_id, seq, build, manifest or {}, package_type)
                    sealed = seal(
                        items,
                        sender_node=me,
                        sender_role=self.identity.role,
                        signer=self.identity.signer_for(peer.node_id, seq),
                        recipient=Recipient(peer.node_id, peer.key_id, peer.public.enc),
                        seq=seq,
                        prev=prev,
                        created=self.now(),
                        out=out,
                        spool=spool,
                        package_type=package_type,
                        validity=self.validity,
                    )
                final = self.archive.path(me, peer.node_id, package_name(seq, sealed.digest))
                durable_move(provisional, final)
                crashpoint("after-archive")
                s.add(
                    ChannelPackageRow(
                        channel_id=row.id,
                        seq=seq,
                        digest=sealed.digest,
                        type=package_type,
                        status="sealed",
                        created=sealed.header.created,
                        size=sealed.size,
                        counts=orjson.dumps(sealed.header.counts, option=orjson.OPT_SORT_KEYS).decode(),
                        file=final.name,
                        recorded_at=self.node.clock(),
                    )
                )
                row.last_seq, row.last_digest, row.last_created = seq, sealed.digest, sealed.header.created
                row.suite = sealed.header.suite
                row.updated_at = self.node.clock()
                if after_seal is not None:
                    after_seal(s, sealed)
                self._event(
                    s,
                    EventCode.PACKAGE_SEALED,
                    subject={"channel": name, "seq": seq, "digest": sealed.digest, "type": package_type},
                    counts=dict(sealed.header.counts),
                )
                if self.hooks is not None:
                    self.hooks.sealed(s, peer.node_id, seq, sealed.digest)
            crashpoint("after-seal-commit")
            written = self._deliver(row.id, peer.node_id, seq, final)
        return SentPackage(seq, sealed.digest, sealed.size, name, final, written, dict(sealed.header.counts))

    def _items(
        self,
        s: Session,
        peer_node: str,
        seq: int,
        build: Callable[[Session, int], Iterable[Sealable]],
        manifest: dict[str, Any],
        package_type: str,
    ) -> Iterator[Sealable]:
        yield {"kind": "manifest", "policy": None, "content": None, "note": "", **manifest}
        for statement in self.identity.announcements_for(peer_node, seq):
            yield {"kind": "key-announcement", "statement": statement}
        if self.hooks is not None:  # the checkpoint as of just before this package's "sealed" entry, receipts
            yield from self.hooks.outgoing(s, peer_node, seq)
        data = iter(build(s, seq))
        first = next(data, None)
        if first is None:
            if package_type == "delta":
                yield {"kind": "heartbeat"}
            return
        yield first
        yield from data

    def _staging(self) -> Path:
        self.staging.mkdir(mode=0o700, exist_ok=True)
        return self.staging

    def _deliver(
        self, channel_id: int, peer_node: str, seq: int, archived: Path, *, resend: bool = False
    ) -> Path | None:
        me = self.identity.node_id
        try:
            target = self.medium.publish(archived, me, peer_node, archived.name)
        except TransferError as exc:
            log.warning("package %s stays in the archive: %s", archived.name, exc)
            return None
        crashpoint("after-medium-write")
        with self.node.transaction() as s:
            pkg = s.scalars(
                select(ChannelPackageRow).where(
                    ChannelPackageRow.channel_id == channel_id, ChannelPackageRow.seq == seq
                )
            ).one()
            pkg.status = "written"
            self._event(
                s,
                EventCode.PACKAGE_WRITTEN,
                result="resent" if resend else "ok",
                subject={
                    "channel": channel_dirname(me, peer_node),
                    "seq": seq,
                    "digest": pkg.digest,
                    "file": target.name,
                },
            )
        return target

    def deliver_unwritten(self, peer_node: str) -> None:
        """Only the crash recovery of :meth:`send`: deliver sealed packages a killed run did not write to the
        medium (for a sender that has nothing new to seal)."""
        with channel_lock(self.node.config.home, channel_dirname(self.identity.node_id, peer_node)):
            self._recover_outbound(peer_node)

    def _recover_outbound(self, peer_node: str) -> None:
        """After a crash: deliver committed-but-unwritten packages; drop archive files never committed."""
        me = self.identity.node_id
        with self.node.sessions() as s:
            row = s.scalars(
                select(ChannelRow).where(ChannelRow.sender_node == me, ChannelRow.recipient_node == peer_node)
            ).first()
            if row is None:
                return
            unwritten = s.scalars(
                select(ChannelPackageRow)
                .where(ChannelPackageRow.channel_id == row.id, ChannelPackageRow.status == "sealed")
                .order_by(ChannelPackageRow.seq)
            ).all()
            committed = {
                p.file for p in s.scalars(select(ChannelPackageRow).where(ChannelPackageRow.channel_id == row.id))
            }
            channel_id = row.id
        for f in list(self.archive.files(me, peer_node)):
            if f.name not in committed:
                log.warning("removing archive file %s that was never committed (crash while sealing)", f.name)
                f.unlink(missing_ok=True)
        folder = self.archive.root / channel_dirname(me, peer_node)
        for f in folder.glob("p*-sealing.cgp") if folder.is_dir() else []:
            f.unlink(missing_ok=True)
        for pkg in unwritten:
            self._deliver(channel_id, peer_node, pkg.seq, self.archive.path(me, peer_node, pkg.file))

    def resend(self, peer_node: str, first: int, last: int) -> list[SentPackage]:
        """Copy already-sealed packages, with their original bytes, from the archive back to the medium."""
        me = self.identity.node_id
        name = channel_dirname(me, peer_node)
        out: list[SentPackage] = []
        with channel_lock(self.node.config.home, name):
            with self.node.sessions() as s:
                row = s.scalars(
                    select(ChannelRow).where(ChannelRow.sender_node == me, ChannelRow.recipient_node == peer_node)
                ).first()
                if row is None:
                    raise TransferError(f"nothing was ever sent on channel {name}")
                pkgs = s.scalars(
                    select(ChannelPackageRow)
                    .where(ChannelPackageRow.channel_id == row.id, ChannelPackageRow.seq.between(first, last))
                    .order_by(ChannelPackageRow.seq)
                ).all()
                channel_id = row.id
            missing = sorted(set(range(first, last + 1)) - {p.seq for p in pkgs})
            if missing:
                raise TransferError(f"channel {name} has no sealed packages {missing[:10]}")
            for p in pkgs:
                archived = self.archive.path(me, peer_node, p.file)
                size, digest = file_digest(archived)
                if digest != p.digest:
                    raise TransferError(f"archive copy of package {p.seq} does not match its recorded digest")
                target = self._deliver(channel_id, peer_node, p.seq, archived, resend=True)
                out.append(SentPackage(p.seq, p.digest, size, name, archived, target, orjson.loads(p.counts)))
        return out

    # -------------------------------------------------------------- receiving

    def receive(self, applier: Callable[[], DataApplier], *, stop: Callable[[], bool] | None = None) -> list[Outcome]:
        """Process every package addressed to this node on the medium, and any pending package whose gap
        has filled, in sequence order per channel. ``stop`` is asked between packages (a service being
        shut down finishes the package in hand, then returns)."""
        self._stop = stop or (lambda: False)
        # one receiver per node at a time (an operator's `import` while `watch` runs): staging is
        # emptied below, which must never pull a file from under another receiver
        with channel_lock(self.node.config.home, "receive", wait=RECEIVER_WAIT):
            return self._receive(applier)

    def _receive(self, applier: Callable[[], DataApplier]) -> list[Outcome]:
        clear_staging(self.staging)
        files, odd = self.medium.scan(recipient=self.identity.node_id)
        self._report_odd(odd)
        by_channel: dict[tuple[str, str], list[MediumFile]] = {}
        for f in files:
            by_channel.setdefault((f.sender, f.recipient), []).append(f)
        outcomes: list[Outcome] = []
        for (sender, recipient), group in sorted(by_channel.items()):
            if self._stop():
                break
            with channel_lock(self.node.config.home, channel_dirname(sender, recipient)):
                outcomes.extend(self._receive_channel(sender, group, applier))
        # parked packages whose gap an earlier run filled but did not take up (it was stopped or died)
        for sender in self._senders_with_pending():
            if self._stop():
                break
            if (sender, self.identity.node_id) not in by_channel:
                with channel_lock(self.node.config.home, channel_dirname(sender, self.identity.node_id)):
                    outcomes.extend(self._drain_pending(sender, applier))
        return outcomes

    def _senders_with_pending(self) -> list[str]:
        with self.node.sessions() as s:
            senders = s.scalars(
                select(ChannelRow.sender_node)
                .join(ChannelPackageRow, ChannelPackageRow.channel_id == ChannelRow.id)
                .where(ChannelRow.recipient_node == self.identity.node_id, ChannelPackageRow.status == "pending")
                .distinct()
            )
            return sorted(senders)

    def _report_odd(self, odd: list[Any]) -> None:
        fresh = [u for u in odd if (str(u.path), 0) not in self._reported_odd]
        if not fresh:
            return
        with self.node.transaction() as s:
            for u in fresh[:20]:  # rate-limited: at most 20 per scan, each reported once per process
                self._reported_odd.add((str(u.path), 0))
                self._event(s, EventCode.ALARM_JUNK, result="alarm", reason=u.what, subject={"file": u.path.name[:200]})
        log.warning("%d unexpected files on the medium (first: %s)", len(fresh), fresh[0].path)

    def _receive_channel(
        self, sender: str, group: list[MediumFile], applier: Callable[[], DataApplier]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        candidates: list[tuple[int, StagedFile]] = []
        highest = 0
        with self.node.sessions() as s:
            ctx = self._context(s)
        for f in group:
            try:
                staged = self.medium.stage(f, self.staging, max_size=self.limits.max_file)
            except PackageRejected as exc:
                outcomes.append(self._reject(None, f.path, exc, size=f.size, digest="0" * 64))
                self.medium.remove(f.path)
                continue
            crashpoint("after-staging")
            try:
                vh = self._verify_staged(staged, ctx)
                highest = max(highest, vh.header.seq)  # only verified headers count as "known"
                candidates.append((vh.header.seq, staged))
            except PackageRejected as exc:
                if exc.reason == "truncated" and _recently_modified(f.path, WRITE_SETTLE):
                    # a writer that does not use a temporary name may still be busy: look again later
                    staged.path.unlink(missing_ok=True)
                    outcomes.append(_still_written(f, exc))
                    continue
                if exc.reason not in _TRUST_MAY_CHANGE:
                    outcomes.append(self._reject(staged, f.path, exc))
                    self.medium.remove(f.path)
                    continue
                # signed by a key an earlier package of this batch may announce: order it by its
                # (unverified) position and verify it again when its turn comes
                candidates.append((_unverified_seq(staged.path) or f.seq_hint, staged))
        candidates.sort(key=lambda t: t[0])
        for _, staged in candidates:
            if self._stop():
                staged.path.unlink(missing_ok=True)  # still on the medium: taken up next time
                continue
            with self.node.sessions() as s:
                ctx = self._context(s)  # the trust store may have changed with the previous package
            try:
                vh = self._verify_staged(staged, ctx)
            except PackageRejected as exc:
                outcomes.append(self._reject(staged, staged.source, exc))
                self.medium.remove(staged.source)
                continue
            outcomes.append(self._process(staged, vh, applier, highest_known=highest))
            crashpoint("before-medium-remove")
            self.medium.remove(staged.source)
            crashpoint("after-medium-remove")
        outcomes.extend(self._drain_pending(sender, applier))
        return outcomes

    def _verify_staged(self, staged: StagedFile, ctx: OpenContext) -> VerifiedHeader:
        opener = PackageOpener(read_chunks(staged.path), ctx, file_size=staged.size)
        return opener.header()

    def _process(
        self, staged: StagedFile, vh: VerifiedHeader, applier: Callable[[], DataApplier], *, highest_known: int
    ) -> Outcome:
        h = vh.header
        name = channel_dirname(h.sender_node, h.recipient_node)
        base = Outcome(file=staged.source.name, result="", seq=h.seq, digest=staged.digest, channel=name)
        try:
            with self.node.transaction() as s:
                row = self._channel_row(s, h.sender_node, h.recipient_node, outbound=False)
                state = self.channel_state(s, row)
                verdict = check(
                    h, staged.digest, state, now=self.now(), skew=self.limits.skew,
                    pending_quota=self.limits.pending_quota, highest_known=highest_known,
                )  # fmt: skip
                subject = {"channel": name, "seq": h.seq, "digest": staged.digest}
                if verdict is Verdict.DUPLICATE:
                    self._event(s, EventCode.PACKAGE_DUPLICATE, result="duplicate", subject=subject)
                    staged.path.unlink(missing_ok=True)
                    base.result = "duplicate"
                    self._outcome(s, base, h.sender_node)
                    return base
                if verdict is Verdict.GAP:
                    target = self.pending.put(
                        staged.path, h.sender_node, h.recipient_node, package_name(h.seq, staged.digest)
                    )
                    self._add_package(s, row, vh, staged.digest, "pending", target.name)
                    missing = [q for q in range(state.last_seq + 1, h.seq) if q not in state.pending]
                    self._event(
                        s, EventCode.PACKAGE_PENDING_GAP, result="pending", subject=subject,
                        counts={"missing": len(missing)},
                    )  # fmt: skip
                    base.result, base.message = "pending", f"waiting for {_ranges(missing)}"
                    self._outcome(s, base, h.sender_node)
                    return base
                counts, manifest = self._apply(s, vh, staged, applier)
                new_state = after_apply(state, h, staged.digest, verdict)
                if verdict is Verdict.REBASE:
                    for p in s.scalars(
                        select(ChannelPackageRow).where(
                            ChannelPackageRow.channel_id == row.id,
                            ChannelPackageRow.status == "pending",
                            ChannelPackageRow.seq <= h.seq,
                        )
                    ):
                        self.pending.path(h.sender_node, h.recipient_node, p.file).unlink(missing_ok=True)
                        s.delete(p)
                self._store_state(s, row, new_state)
                self._add_package(s, row, vh, staged.digest, "applied", package_name(h.seq, staged.digest))
                self._event(s, EventCode.PACKAGE_RECEIVED, subject={**subject, "file": staged.source.name[:200]})
                self._event(s, EventCode.PACKAGE_VERIFIED, subject=subject)
                self._event(
                    s, EventCode.PACKAGE_APPLIED, result="rebased" if verdict is Verdict.REBASE else "applied",
                    subject={**subject, "type": h.type}, counts=counts,
                )  # fmt: skip
                self._outcome(
                    s, replace(base, result="rebased" if verdict is Verdict.REBASE else "applied"), h.sender_node
                )
                # archive before the commit: after it, the medium copy is the only thing removed
                self.archive.put(staged.path, h.sender_node, h.recipient_node, package_name(h.seq, staged.digest))
                crashpoint("before-commit")
            crashpoint("after-commit")
            base.result = "rebased" if verdict is Verdict.REBASE else "applied"
            base.counts, base.manifest = counts, manifest
            return base
        except Exception as exc:
            if not is_package_fault(exc):
                raise
            return self._reject(staged, staged.source, exc, header=vh)

    def _add_package(
        self, s: Session, row: ChannelRow, vh: VerifiedHeader, digest: str, status: str, file: str
    ) -> None:
        existing = s.scalars(
            select(ChannelPackageRow).where(
                ChannelPackageRow.channel_id == row.id, ChannelPackageRow.seq == vh.header.seq
            )
        ).first()
        if existing is not None:  # a pending package now applied
            existing.status, existing.file, existing.recorded_at = status, file, self.node.clock()
            return
        s.add(
            ChannelPackageRow(
                channel_id=row.id,
                seq=vh.header.seq,
                digest=digest,
                type=vh.header.type,
                status=status,
                created=vh.header.created,
                size=vh.size,
                counts=orjson.dumps(vh.header.counts, option=orjson.OPT_SORT_KEYS).decode(),
                file=file,
                recorded_at=self.node.clock(),
            )
        )

    def _apply(
        self, s: Session, vh: VerifiedHeader, staged: StagedFile, applier: Callable[[], DataApplier]
    ) -> tuple[dict[str, int], dict[str, Any] | None]:
        ctx = self._context(s)
        opener = PackageOpener(read_chunks(staged.path), ctx, file_size=staged.size, expected_digest=staged.digest)
        data = applier()
        data.begin(s, opener.header())
        manifest: dict[str, Any] | None = None
        applied = 0
        for item in opener.items():
            kind = item["kind"]
            if kind in EXCHANGE_KINDS:
                if kind == "manifest":
                    manifest = {k: v for k, v in item.items() if k != "kind"}
                elif kind == "key-announcement" and self.hooks is not None:
                    self.hooks.key_announcement(s, vh, item["statement"])
                elif kind == "receipt" and self.hooks is not None:
                    self.hooks.receipt(s, vh, item)
                elif kind == "checkpoint" and self.hooks is not None:
                    self.hooks.checkpoint(s, vh, item)
            else:
                data.item(item)
                applied += 1
                if applied == 2:
                    crashpoint("mid-apply")
        counts = data.finish()
        s.flush()
        return counts, manifest

    def _drain_pending(self, sender: str, applier: Callable[[], DataApplier]) -> list[Outcome]:
        """Apply parked packages whose predecessors have now arrived, in order, from the pending folder."""
        out: list[Outcome] = []
        me = self.identity.node_id
        while not self._stop():
            with self.node.sessions() as s:
                row = s.scalars(
                    select(ChannelRow).where(ChannelRow.sender_node == sender, ChannelRow.recipient_node == me)
                ).first()
                if row is None:
                    return out
                nxt = s.scalars(
                    select(ChannelPackageRow).where(
                        ChannelPackageRow.channel_id == row.id,
                        ChannelPackageRow.status == "pending",
                        ChannelPackageRow.seq == row.last_seq + 1,
                    )
                ).first()
                if nxt is None:
                    return out
                ctx = self._context(s)
                path = self.pending.path(sender, me, nxt.file)
                seq, channel_id = nxt.seq, row.id
            archived = self.archive.path(sender, me, nxt.file)
            if not path.is_file() and archived.is_file():
                # a run died after moving it to the archive and before its commit: it was never applied
                self.pending.put(archived, sender, me, nxt.file)
            if not path.is_file():
                self._forget_pending(channel_id, seq, "the pending file is missing")
                continue
            size, digest = file_digest(path)
            staged = StagedFile(path, size, digest, path)
            try:
                vh = self._verify_staged(staged, ctx)
            except PackageRejected as exc:
                out.append(self._reject(staged, path, exc))
                self._forget_pending(channel_id, seq, str(exc))
                continue
            result = self._process(staged, vh, applier, highest_known=0)
            out.append(result)
            if result.result == "rejected":
                self._forget_pending(channel_id, seq, result.reason)
            if result.result not in ("applied", "rebased"):
                return out
        return out

    def _forget_pending(self, channel_id: int, seq: int, why: str | None) -> None:
        with self.node.transaction() as s:
            p = s.scalars(
                select(ChannelPackageRow).where(
                    ChannelPackageRow.channel_id == channel_id,
                    ChannelPackageRow.seq == seq,
                    ChannelPackageRow.status == "pending",
                )
            ).first()
            if p is not None:
                s.delete(p)
        if why:
            log.warning("dropping pending package %s: %s", seq, why)

    def _reject(
        self,
        staged: StagedFile | None,
        source: Path,
        exc: BaseException,
        *,
        header: VerifiedHeader | None = None,
        size: int | None = None,
        digest: str | None = None,
    ) -> Outcome:
        reason = str(getattr(exc, "reason", "rejected"))
        message = str(exc)
        size = staged.size if staged is not None else (size or 0)
        digest = staged.digest if staged is not None else (digest or "0" * 64)
        header_doc: dict[str, Any] | None = None
        if header is not None:
            header_doc = header.raw.document
        elif staged is not None:
            header_doc = _try_header(staged.path)
        evidence: dict[str, Any] | None = None
        alarm: EventCode | None = None
        if isinstance(exc, Equivocation) and header is not None:
            alarm = EventCode.ALARM_EQUIVOCATION
            evidence = {
                "seq": exc.seq,
                "known_digest": exc.known_digest,
                "known_header": self._known_header(header, exc.known_digest),
                "new_digest": exc.new_digest,
                "new_header": header.header_json,
                "new_signature": header.raw.signature.hex(),
            }
        elif reason in ("replay", "superseded"):
            alarm = EventCode.ALARM_REPLAY
        elif reason == "fork":
            alarm = EventCode.ALARM_FORK
        at = self.node.clock().isoformat(timespec="seconds")
        junk = header_doc is None
        folder = self.quarantine.put(
            staged.path if staged is not None else None,
            digest=digest,
            size=size,
            reason=reason,
            message=message,
            at=at,
            source=source.name[:200],
            header=header_doc,
            keep_bytes=not junk,
            evidence=evidence,
        )
        subject: dict[str, Any] = {"file": source.name[:200], "digest": digest, "size": size}
        if header is not None:
            subject.update(
                channel=channel_dirname(header.header.sender_node, header.header.recipient_node), seq=header.header.seq
            )
        with self.node.transaction() as s:
            self._event(s, EventCode.PACKAGE_RECEIVED, subject=subject)
            self._event(s, EventCode.PACKAGE_REJECTED, result="rejected", reason=reason, subject=subject)
            self._event(
                s, EventCode.PACKAGE_QUARANTINED, result="quarantined", reason=reason,
                subject={**subject, "quarantine": folder.name if folder else "(cap reached: not kept)"},
            )  # fmt: skip
            if alarm is not None:
                self._event(s, alarm, result="alarm", reason=reason, subject=subject)
            outcome = Outcome(
                file=source.name,
                result="rejected",
                seq=header.header.seq if header is not None else None,
                digest=digest,
                reason=reason,
                message=message,
            )
            self._outcome(s, outcome, _claimed_sender(header, header_doc))
        log.warning("rejected %s: %s: %s", source.name, reason, message)
        return outcome

    def _outcome(self, s: Session, outcome: Outcome, sender: str | None) -> None:
        if self.hooks is not None:
            self.hooks.on_outcome(s, outcome, sender)

    def _known_header(self, vh: VerifiedHeader, digest: str) -> str | None:
        h = vh.header
        for store in (self.archive, self.pending):
            p = store.path(h.sender_node, h.recipient_node, package_name(h.seq, digest))
            if p.is_file():
                with p.open("rb") as fh:
                    try:
                        raw = parse_prefix(fh.read(70_000))
                    except PackageRejected:
                        return None
                return raw.signed.decode(errors="replace")
        return None


def load_channel_state(s: Session, row: ChannelRow) -> ChannelState:
    """The pure channel state of a stored channel: its chain position and every package's digest."""
    pkgs = s.execute(
        select(ChannelPackageRow.seq, ChannelPackageRow.digest, ChannelPackageRow.status).where(
            ChannelPackageRow.channel_id == row.id
        )
    ).all()
    return ChannelState(
        sender_node=row.sender_node,
        recipient_node=row.recipient_node,
        suite=row.suite,
        last_seq=row.last_seq,
        last_digest=row.last_digest,
        last_created=row.last_created,
        rebase_seq=row.rebase_seq,
        applied={seq: d for seq, d, st in pkgs if st == "applied"},
        pending={seq: d for seq, d, st in pkgs if st == "pending"},
    )


# rejections an earlier package of the same batch can cure (a key succession it carries)
_TRUST_MAY_CHANGE = frozenset({"unknown-signer", "superseded-signer"})

# a truncated package file modified less than this many seconds ago is left on the medium for a later
# round rather than quarantined: a device that writes under the final name may still be writing it
WRITE_SETTLE = 30.0


def _recently_modified(path: Path, seconds: float) -> bool:
    try:
        age = time.time() - path.stat().st_mtime  # the file's clock, not the node's
    except OSError:
        return False
    return abs(age) < seconds


def _still_written(f: MediumFile, exc: PackageRejected) -> Outcome:
    log.info("%s is incomplete and was modified just now: left on the medium for a later round", f.path.name)
    return Outcome(
        file=f.path.name,
        result="skipped",
        channel=channel_dirname(f.sender, f.recipient),
        reason="incomplete",
        message=f"still being written? {exc}",
    )


def _claimed_sender(header: VerifiedHeader | None, doc: dict[str, Any] | None) -> str | None:
    if header is not None:
        return header.header.sender_node
    sender = doc.get("sender") if doc else None
    node = sender.get("node") if isinstance(sender, dict) else None
    return node if isinstance(node, str) else None


def _unverified_seq(path: Path) -> int | None:
    doc = _try_header(path)
    seq = doc.get("seq") if doc else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def _try_header(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as fh:
            return parse_prefix(fh.read(70_000)).document
    except (PackageRejected, OSError):
        return None


def _ranges(seqs: list[int]) -> str:
    if not seqs:
        return "nothing"
    parts: list[str] = []
    start = prev = seqs[0]
    for q in [*seqs[1:], None]:
        if q is not None and q == prev + 1:
            prev = q
            continue
        parts.append(str(start) if start == prev else f"{start}..{prev}")
        if q is not None:
            start = prev = q
    return ", ".join(parts)
