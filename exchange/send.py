"""Sending packages in the safe order: seal into the node's archive and fsync, commit the channel state
and the log entry, only then copy to the medium; after a crash, deliver what was sealed but not
written; resend archived packages with their original bytes."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.core import ExchangeCore, SentPackage, log
from exchange.crash import crashpoint
from keys import TrustedKey
from nodekit.i18n import N_
from nodekit.locks import channel_lock
from nodekit.models import ChannelPackageRow, ChannelRow
from nodekit.text import printable
from nodekit.trust_store import peer_reads
from transfer.errors import TransferError
from transfer.files import atomic_writer, durable_move, file_digest
from transfer.items import Sealable
from transfer.limits import READS_FORMAT
from transfer.log import EventCode
from transfer.medium import (
    channel_dirname,
    package_name,
)
from transfer.seal import Recipient, SealedPackage, seal

# A temporary file on the medium is what a killed writer left: this node's writes to one channel hold
# its channel lock, so none is in progress while it is held. The age bound is the margin for a writer
# on another machine sharing the home by mistake, or a clock step: copying the largest package (16 GiB)
# to a slow USB device (10 MB/s) takes under half an hour.
STALE_TEMP_AGE = 3600.0


class Sending(ExchangeCore):
    """The sending half of :class:`exchange.engine.Exchange`."""

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
            recovered = self._recover_outbound(peer.node_id)
            with self.node.transaction() as s:
                row = self._channel_row(s, me, peer.node_id, outbound=True)
                seq, prev = row.last_seq + 1, row.last_digest
                # the reader refuses a created earlier than the previous package's for good (clock-regression):
                # after this clock was put back (it ran fast), seal at the previous time instead (FORMAT.md §9.1)
                now = self.now()
                created = max(now, row.last_created)
                if created > now:
                    log.warning(
                        "the clock is %ds behind the previous package on %s (was it corrected?): package %d is "
                        "sealed as created at the previous package's time",
                        created - now, name, seq,
                    )  # fmt: skip
                provisional = self.archive.new_file(me, peer.node_id, f"p{seq:012d}-sealing.cgp")
                with (
                    atomic_writer(provisional) as out,
                    tempfile.TemporaryFile(dir=self._staging()) as spool,
                ):
                    items = self._items(s, peer.node_id, seq, build, manifest or {}, package_type)
                    # format 2 only once the peer advertised that it reads it (FORMAT.md §2.1)
                    fmt = min(READS_FORMAT, peer_reads(s, peer.node_id))
                    sealed = seal(
                        items,
                        sender_node=me,
                        sender_role=self.identity.role,
                        signer=self.identity.signer_for(peer.node_id, seq),
                        recipient=Recipient(peer.node_id, peer.key_id, peer.public.enc),
                        seq=seq,
                        prev=prev,
                        created=created,
                        out=out,
                        spool=spool,
                        package_type=package_type,
                        validity=self.validity,
                        fmt=fmt,
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
                clamped = {"clamped": created - now} if created > now else {}  # seconds `created` was moved forward
                self._event(
                    s,
                    EventCode.PACKAGE_SEALED,
                    subject={"channel": name, "seq": seq, "digest": sealed.digest, "type": package_type},
                    counts={**sealed.header.counts, **clamped},
                )
                if self.hooks is not None:
                    self.hooks.sealed(s, peer.node_id, seq, sealed.digest)
            crashpoint("after-seal-commit")
            written, fault = self._deliver(row.id, peer.node_id, seq, final)
        return SentPackage(
            seq, sealed.digest, sealed.size, name, final, written, dict(sealed.header.counts),
            *_why(fault), recovered=tuple(recovered),
        )  # fmt: skip

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

    def _deliver(
        self, channel_id: int, peer_node: str, seq: int, archived: Path, *, resend: bool = False
    ) -> tuple[Path | None, TransferError | None]:
        """Copy an archived package to the medium: (its path there, None), or (None, why not). A package
        not delivered stays in the archive, and every caller reports it to the operator."""
        me = self.identity.node_id
        try:
            target = self.medium.publish(archived, me, peer_node, archived.name)
        except TransferError as exc:
            log.warning("package %s stays in the archive: %s", archived.name, exc)
            return None, exc
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
        return target, None

    def deliver_unwritten(self, peer_node: str) -> list[SentPackage]:
        """Only the crash recovery of :meth:`send`: deliver sealed packages an earlier run did not write to
        the medium (for a sender that has nothing new to seal); each one, delivered or not."""
        with channel_lock(self.node.config.home, channel_dirname(self.identity.node_id, peer_node)):
            return self._recover_outbound(peer_node)

    def _recover_outbound(self, peer_node: str) -> list[SentPackage]:
        """After a crash or a medium fault: deliver committed-but-unwritten packages (each returned,
        delivered or not); drop archive files never committed, and temporary files a killed write left
        in this channel's folder on the medium."""
        me = self.identity.node_id
        stale = self.medium.cleanup_temp(me, peer_node, older_than=STALE_TEMP_AGE, now=time.time())
        if stale:
            log.info("removed %d temporary file(s) a killed writer left on the medium", stale)
        with self.node.sessions() as s:
            row = s.scalars(
                select(ChannelRow).where(ChannelRow.sender_node == me, ChannelRow.recipient_node == peer_node)
            ).first()
            if row is None:
                return []
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
        out: list[SentPackage] = []
        for pkg in unwritten:
            archived = self.archive.path(me, peer_node, pkg.file)
            written, fault = self._deliver(channel_id, peer_node, pkg.seq, archived)
            name = channel_dirname(me, peer_node)
            counts = orjson.loads(pkg.counts)
            out.append(
                SentPackage(pkg.seq, pkg.digest, pkg.size, name, archived, written, counts, *_why(fault), earlier=True)
            )
        return out

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
                    raise TransferError(N_("nothing was ever sent on channel {name}"), params={"name": name})
                pkgs = s.scalars(
                    select(ChannelPackageRow)
                    .where(ChannelPackageRow.channel_id == row.id, ChannelPackageRow.seq.between(first, last))
                    .order_by(ChannelPackageRow.seq)
                ).all()
                channel_id = row.id
            missing = sorted(set(range(first, last + 1)) - {p.seq for p in pkgs})
            if missing:
                raise TransferError(
                    N_("channel {name} has no sealed packages {missing}"),
                    params={"name": name, "missing": missing[:10]},
                )
            for p in pkgs:
                archived = self.archive.path(me, peer_node, p.file)
                size, digest = file_digest(archived)
                if digest != p.digest:
                    raise TransferError(
                        N_("archive copy of package {seq} does not match its recorded digest"), params={"seq": p.seq}
                    )
                target, fault = self._deliver(channel_id, peer_node, p.seq, archived, resend=True)
                out.append(
                    SentPackage(p.seq, p.digest, size, name, archived, target, orjson.loads(p.counts), *_why(fault))
                )
        return out


def _why(fault: TransferError | None) -> tuple[str, str]:
    """(reason, message) of a delivery that failed, or empty strings."""
    if fault is None:
        return "", ""
    return fault.reason, printable(str(fault), 500)
