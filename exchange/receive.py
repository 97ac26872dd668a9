"""Receiving packages: stage each file off the medium, verify it, apply it in one transaction with the
channel state and its log entries, archive it, and only then remove it from the medium; park gaps,
report duplicates, quarantine what fails with a reason, raise alarms."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange import alarms
from exchange.core import (
    EXCHANGE_KINDS,
    DataApplier,
    ExchangeCore,
    Outcome,
    is_package_fault,
    log,
)  # fmt: skip
from exchange.crash import crashpoint, pausepoint
from nodekit.locks import channel_lock
from nodekit.models import ChannelPackageRow, ChannelRow, TransferLogRow
from nodekit.text import printable, printable_doc
from transfer.channel import Equivocation, Verdict, after_apply, check
from transfer.errors import PackageRejected
from transfer.files import file_digest, read_chunks
from transfer.header import parse_prefix
from transfer.limits import MAGIC
from transfer.log import EventCode
from transfer.medium import (
    INCOMPLETE,
    READ_ONLY,
    REMOVED,
    EntryError,
    MediumFile,
    StagedFile,
    Stamp,
    Unexpected,
    channel_dirname,
    package_name,
)
from transfer.opener import OpenContext, PackageOpener, VerifiedHeader
from transfer.stores import clear_staging


class Receiving(ExchangeCore):
    """The receiving half of :class:`exchange.engine.Exchange`."""

    def receive(self, applier: Callable[[], DataApplier], *, stop: Callable[[], bool] | None = None) -> list[Outcome]:
        """Process every package addressed to this node on the medium, and any pending package whose gap
        has filled, in sequence order per channel. ``stop`` is asked between packages (a service being
        shut down finishes the package in hand, then returns)."""
        self._stop = stop or (lambda: False)
        # one receiver per node at a time (an operator's `import` while `watch` runs): staging is
        # emptied below, which must never pull a file from under another receiver
        config = self.node.config
        with channel_lock(config.home, "receive", wait=config.receive_wait, what="the receiver of this node"):
            pausepoint("receive-locked")
            with self.node.transaction() as s:
                alarms.check_clock(s, self.node)  # every import and watch round (FORMAT.md §9.1)
            return self._receive(applier)

    def _receive(self, applier: Callable[[], DataApplier]) -> list[Outcome]:
        clear_staging(self.staging)
        self._round_odd: list[Unexpected] = []
        self._unknown_bytes = 0
        self.memo.reload()
        outcomes: list[Outcome] = []
        by_channel: dict[tuple[str, str], list[MediumFile]] = {}
        # the scan's folder descriptors stay open for the round: staging and removal act in the folders
        # that were scanned, whatever the names point at by then
        with self.medium.scan(recipient=self.identity.node_id) as scan:
            pausepoint("after-scan")
            self._round_odd.extend(scan.odd)
            for f in scan.files:
                if not self.memo.known(f.stamp):  # dealt with before, on a medium that kept it
                    by_channel.setdefault((f.sender, f.recipient), []).append(f)
            try:
                for (sender, recipient), group in sorted(by_channel.items()):
                    if self._stop():
                        break
                    with channel_lock(self.node.config.home, channel_dirname(sender, recipient)):
                        outcomes.extend(self._receive_channel(sender, group, applier))
            finally:
                self.memo.save()
            outcomes.extend(self._report_odd(self._round_odd))
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

    def _report_odd(self, odd: list[Unexpected]) -> list[Outcome]:
        """Report each unexpected or unusable entry of the medium once for good, by folder, name and
        reason (an ``alarm.junk`` entry, a line in the node's log, a ``skipped`` outcome); an entry whose
        error is transient is tried again every round but not reported again. Never a receipt: nobody
        signed it."""
        subjects = {u: self._odd_subject(u) for u in odd}
        keys = {u: _odd_key(subjects[u], u.reason) for u in odd}
        fresh = [u for u in odd if keys[u] not in self._reported_odd]
        if not fresh:
            return []
        with self.node.transaction() as s:
            # once per entry for good, not once per process: `import` run from cron would repeat them all
            logged = s.execute(
                select(TransferLogRow.subject, TransferLogRow.reason).where(
                    TransferLogRow.event == EventCode.ALARM_JUNK.value
                )
            )
            done = {_odd_key(orjson.loads(sj), reason) for sj, reason in logged}
            new: list[Unexpected] = []
            for u in fresh:
                if keys[u] in done:
                    self._reported_odd.add(keys[u])
                elif keys[u] not in {keys[n] for n in new}:
                    new.append(u)
            for u in new[:20]:  # rate-limited: at most 20 per scan; the rest at the next scans
                self._reported_odd.add(keys[u])
                self._event(s, EventCode.ALARM_JUNK, result="alarm", reason=u.reason, subject=subjects[u])
        if not new:
            return []
        log.warning(
            "%d unexpected files on the medium (first: %s: %s)",
            len(new), printable(str(new[0].path), 300), new[0].what,
        )  # fmt: skip
        return [
            Outcome(
                file=subjects[u]["file"],
                result="skipped",
                reason=u.reason,
                message=printable(u.what, 200),
                channel=subjects[u]["folder"] if subjects[u]["folder"] != "." else None,
            )
            for u in new[:20]
        ]

    def _odd_subject(self, u: Unexpected) -> dict[str, str]:
        folder = os.path.relpath(u.path.parent, self.medium.root)
        # any name a device can write
        return {"folder": printable(folder, 200), "file": printable(u.path.name, 200)}

    def _receive_channel(
        self, sender: str, group: list[MediumFile], applier: Callable[[], DataApplier]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        candidates: list[tuple[int, StagedFile]] = []
        with self.node.sessions() as s:
            ctx = self._context(s, sender)
        for f in group:
            try:
                staged = self.medium.stage(f, self.staging, max_size=self.limits.max_file)
            except EntryError as exc:
                if exc.reason == INCOMPLETE:
                    outcomes.append(_still_written(f, exc))
                else:
                    self._round_odd.append(exc.unexpected())  # that entry's outcome; the round goes on
                continue
            except PackageRejected as exc:
                if exc.reason == "sparse" and self._settling(f.stamp):
                    outcomes.append(_still_written(f, exc))  # a device may allocate as it writes
                    continue
                outcomes.append(self._reject(None, f.path, exc, size=f.size, digest="0" * 64))
                self._remove(f, None, "0" * 64)
                continue
            crashpoint("after-staging")
            try:
                vh = self._verify_staged(staged, ctx)
                candidates.append((vh.header.seq, staged))
            except PackageRejected as exc:
                if exc.reason == "truncated" and staged.stamp is not None and self._settling(staged.stamp):
                    # a writer that does not use a temporary name may still be busy: look again later
                    staged.path.unlink(missing_ok=True)
                    outcomes.append(_still_written(f, exc))
                    continue
                if exc.reason not in _TRUST_MAY_CHANGE:
                    outcomes.append(self._reject(staged, f.path, exc))
                    self._remove(f, staged.stamp, staged.digest)
                    continue
                if self._unknown_bytes and self._unknown_bytes + staged.size > UNKNOWN_SIGNER_STAGING:
                    staged.path.unlink(missing_ok=True)
                    outcomes.append(_deferred(f))
                    continue
                # signed by a key an earlier package of this batch may announce: order it by its
                # (unverified) position and verify it again when its turn comes
                self._unknown_bytes += staged.size
                candidates.append((_unverified_seq(staged.path) or f.seq_hint, staged))
        candidates.sort(key=lambda t: t[0])
        # a package that is expired and the newest known, or whose expired signer fills no gap yet, waits
        # until the rest of the batch is applied or parked: only those count as newer (FORMAT.md §9.1, §9.2)
        deferred: list[StagedFile] = []
        for i, (_, staged) in enumerate(candidates):
            if not self._take(sender, staged, applier, outcomes, defer=i + 1 < len(candidates)):
                deferred.append(staged)
        for staged in deferred:
            self._take(sender, staged, applier, outcomes, defer=False)
        outcomes.extend(self._drain_pending(sender, applier))
        return outcomes

    def _take(
        self,
        sender: str,
        staged: StagedFile,
        applier: Callable[[], DataApplier],
        outcomes: list[Outcome],
        *,
        defer: bool,
    ) -> bool:
        """Verify and process one staged package of a batch; False if ``defer`` let it wait (still staged)."""
        if self._stop():
            staged.path.unlink(missing_ok=True)  # still on the medium: taken up next time
            return True
        with self.node.sessions() as s:
            ctx = self._context(s, sender)  # the trust store may have changed with the previous package
        try:
            vh = self._verify_staged(staged, ctx)
            outcome = self._process(staged, vh, applier, defer=defer)
        except PackageRejected as exc:
            if defer and exc.reason in _WAITS_FOR_THE_BATCH:
                return False
            outcomes.append(self._reject(staged, staged.source, exc))
            self._remove_staged(staged)
            return True
        outcomes.append(outcome)
        crashpoint("before-medium-remove")
        pausepoint("before-medium-remove")
        self._remove_staged(staged)
        crashpoint("after-medium-remove")
        return True

    def _settling(self, stamp: Stamp) -> bool:
        """Whether a file was modified within the write-settle window (the file's clock, not the node's)."""
        return abs(time.time() - stamp.mtime) < self.write_settle

    def _remove_staged(self, staged: StagedFile) -> None:
        if staged.entry is not None:
            self._remove(staged.entry, staged.stamp, staged.digest)

    def _remove(self, f: MediumFile, stamp: Stamp | None, digest: str) -> None:
        """Take a dealt-with file off the medium. One the medium will not let go is remembered by its
        stamp, so that later rounds skip it rather than deal with it (and log and receipt it) again."""
        done = self.medium.remove(f, stamp)
        if done == READ_ONLY:
            self.memo.remember(stamp or f.stamp, digest)
        elif done != REMOVED:
            self._round_odd.append(Unexpected(f.path, done))

    def _verify_staged(self, staged: StagedFile, ctx: OpenContext) -> VerifiedHeader:
        opener = PackageOpener(read_chunks(staged.path), ctx, file_size=staged.size, expected_digest=staged.digest)
        return opener.header()

    def _process(
        self, staged: StagedFile, vh: VerifiedHeader, applier: Callable[[], DataApplier], *, defer: bool = False
    ) -> Outcome:
        """Apply, park or report one verified package in one transaction; reject it on a package fault
        (with ``defer``, a rejection of :data:`_WAITS_FOR_THE_BATCH` is raised instead: nothing was done)."""
        h = vh.header
        name = channel_dirname(h.sender_node, h.recipient_node)
        base = Outcome(file=staged.source.name, result="", seq=h.seq, digest=staged.digest, channel=name)
        try:
            with self.node.transaction() as s:
                row = self._channel_row(s, h.sender_node, h.recipient_node, outbound=False)
                state = self.channel_state(s, row)
                verdict = check(
                    h, staged.digest, state, now=self.now(), skew=self.limits.skew,
                    pending_quota=self.limits.pending_quota, rebase_bound=self.limits.rebase_bound,
                )  # fmt: skip
                subject = {"channel": name, "seq": h.seq, "digest": staged.digest}
                if verdict is Verdict.DUPLICATE:
                    # a copy of a package still parked was never applied: its receipt must say pending
                    parked = h.seq not in state.applied
                    result = "pending" if parked else "duplicate"
                    self._event(s, EventCode.PACKAGE_DUPLICATE, result=result, subject=subject)
                    staged.path.unlink(missing_ok=True)
                    base.result = result
                    if parked:
                        base.message = f"a copy of the parked package, still waiting for {_ranges(state.missing())}"
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
            if defer and isinstance(exc, PackageRejected) and exc.reason in _WAITS_FOR_THE_BATCH:
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
                prev=vh.header.prev,
                signer=vh.signer.key_id,
            )
        )

    def _apply(
        self, s: Session, vh: VerifiedHeader, staged: StagedFile, applier: Callable[[], DataApplier]
    ) -> tuple[dict[str, int], dict[str, Any] | None]:
        ctx = self._context(s, vh.header.sender_node)
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
                    pausepoint("mid-apply")
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
                ctx = self._context(s, sender)
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
            result = self._process(staged, vh, applier)
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
            log.warning("dropping pending package %s: %s", seq, printable(why, 500))

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
        # the message may quote an unverified header; every string below reaches a log or a reason file
        reason = printable(str(getattr(exc, "reason", "rejected")), 64)
        message = printable(str(exc), 1000)
        size = staged.size if staged is not None else (size or 0)
        digest = staged.digest if staged is not None else (digest or "0" * 64)
        header_doc: dict[str, Any] | None = None
        if header is not None:
            header_doc = header.raw.document
        elif staged is not None:
            header_doc = _try_header(staged.path)
        shown_header = printable_doc(header_doc) if header_doc is not None else None
        evidence: dict[str, Any] | None = None
        alarm: EventCode | None = None
        if isinstance(exc, Equivocation) and header is not None:
            alarm = EventCode.ALARM_EQUIVOCATION
            known_header, known_signature = self._known_header(header, exc.known_digest) or (None, None)
            evidence = {  # both signed headers with their signatures: proof that needs nothing else
                "seq": exc.seq,
                "known_digest": exc.known_digest,
                "known_header": known_header,
                "known_signature": known_signature,
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
            source=printable(source.name, 200),
            header=shown_header,
            keep_bytes=not junk,
            evidence=evidence,
        )
        # whose header verified: the package's own (header), or one whose size or counts then failed
        # (exc.header); only then is the sender known and told, in a signed receipt (FORMAT.md §12)
        verified = header.header if header is not None else getattr(exc, "header", None)
        subject: dict[str, Any] = {"file": printable(source.name, 200), "digest": digest, "size": size}
        if verified is not None:
            subject.update(channel=channel_dirname(verified.sender_node, verified.recipient_node), seq=verified.seq)
        kept = folder.name if folder else "(cap reached: not kept)"
        outcome = Outcome(
            file=source.name,
            result="rejected",
            seq=verified.seq if verified is not None else None,
            digest=digest,
            channel=subject.get("channel"),
            reason=reason,
            message=message,
        )
        with self.node.transaction() as s:
            if verified is None:
                # unauthenticated: one local entry per distinct file, no receipt, no signature of ours
                if not self._junk_logged(s, digest):
                    self._event(
                        s, EventCode.PACKAGE_REJECTED, result="rejected", reason=reason,
                        subject={**subject, "verified": False, "quarantine": kept},
                    )  # fmt: skip
            else:
                self._event(s, EventCode.PACKAGE_RECEIVED, subject=subject)
                self._event(s, EventCode.PACKAGE_REJECTED, result="rejected", reason=reason, subject=subject)
                self._event(
                    s, EventCode.PACKAGE_QUARANTINED, result="quarantined", reason=reason,
                    subject={**subject, "quarantine": kept},
                )  # fmt: skip
                if alarm is not None:
                    self._event(s, alarm, result="alarm", reason=reason, subject=subject)
                self._outcome(s, outcome, verified.sender_node)
        log.warning("rejected %s: %s: %s", printable(source.name, 200), reason, message)
        return outcome

    def _junk_logged(self, s: Session, digest: str) -> bool:
        """Whether a file with these bytes was already logged as unauthenticated junk (the digest of a
        file staging could not even measure is all zeros: each such file is logged)."""
        if digest == "0" * 64:
            return False
        return (
            s.scalars(
                select(TransferLogRow.index)
                .where(
                    TransferLogRow.event == EventCode.PACKAGE_REJECTED.value,
                    TransferLogRow.subject.contains(f'"digest":"{digest}"'),
                    TransferLogRow.subject.contains('"verified":false'),
                )
                .limit(1)
            ).first()
            is not None
        )

    def _known_header(self, vh: VerifiedHeader, digest: str) -> tuple[str, str] | None:
        """The header JSON and signature (hex) of the package already held for ``vh``'s position."""
        h = vh.header
        for store in (self.archive, self.pending):
            p = store.path(h.sender_node, h.recipient_node, package_name(h.seq, digest))
            if p.is_file():
                with p.open("rb") as fh:
                    try:
                        raw = parse_prefix(fh.read(70_000))
                    except PackageRejected:
                        return None
                return raw.signed[len(MAGIC) + 4 :].decode(), raw.signature.hex()
        return None


# rejections an earlier package of the same batch can cure (a key succession it carries), or a later
# one (a parked package that commits to an expired signer's package, FORMAT.md §9.1)
_TRUST_MAY_CHANGE = frozenset({"unknown-signer", "superseded-signer", "expired-signer"})

# rejections that only packages of the batch still to come can cure, by being applied or parked first:
# an expired package that is the newest known (§9.2), an expired signer whose gap no parked package
# vouches for yet (§9.1)
_WAITS_FOR_THE_BATCH = frozenset({"expired", "expired-signer"})

# A package signed by a key the trust store does not hold yet stays staged until the packages before
# it in the round are applied (one may announce the key: a rotation). Only a rotation makes such a
# package legitimate, and then it is one or a few; the rest is the medium holder's. The bound is the
# quarantine's byte quota: disk a round may hold for them. The first such package of a round is always
# kept, whatever its size, so that a large one is not put off forever; the others wait on the medium.
UNKNOWN_SIGNER_STAGING = 1 << 30


def _still_written(f: MediumFile, exc: Exception) -> Outcome:
    log.info("%s looks incomplete and was modified just now: left on the medium for a later round", f.name)
    return Outcome(
        file=f.name,
        result="skipped",
        channel=channel_dirname(f.sender, f.recipient),
        reason="incomplete",
        message=f"still being written? {exc}",
    )


def _deferred(f: MediumFile) -> Outcome:
    log.info("%s: signed by an unknown key, over this round's staging bound: left for a later round", f.name)
    return Outcome(
        file=f.name,
        result="skipped",
        channel=channel_dirname(f.sender, f.recipient),
        reason="deferred",
        message="signed by a key this node does not know; enough such packages were staged this round",
    )


def _odd_key(subject: dict[str, Any], reason: str) -> tuple[str, str, str]:
    return str(subject.get("folder")), str(subject.get("file")), reason


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
