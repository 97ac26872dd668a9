"""Export: the publishable changes since the last export, sealed as the next package on the channel of
each trusted public node (or a snapshot with ``full``), following the exchange's sending order."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import LargeBinary, cast, func, select
from sqlalchemy.orm import Session

from exchange import alarms, recover
from exchange.alarms import Overdue
from exchange.engine import SentPackage
from exchange.node import open_exchange
from internal_node.applications import decision_items, status_items
from internal_node.errors import ContentChanged, ExportError
from internal_node.policy import DisclosurePolicy, load_policy
from internal_node.publication import DOCUMENT, STATE_PUBLISH, GuardSeal, RefreshReport, pseudonym_key, refresh
from internal_node.pubmodels import PUBLICATION, REVIEW_HOLD, PeerExport
from keys import TrustedKey
from keys.identity_store import Identity
from nodekit import trust_store
from nodekit.i18n import N_
from nodekit.runtime import Node
from transfer.items import RECORD_TABLES, PreparedBatch, PreparedItem
from transfer.seal import SealedPackage

STREAM_BATCH = 5000
SEAL_BATCH = 1000  # records per PreparedBatch: about 1 MB framed, what the sealer queues at a time
PROGRESS_EVERY = 5000


@dataclass
class PeerPlan:
    """What one public node would get: the items after ``since`` up to ``upto``, and their digest."""

    peer: TrustedKey
    full: bool
    since: int
    upto: int
    count: int = 0
    digest: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)  # filled for --dry-run only
    # --dry-run only: per kind, how many items are new, changed, withdrawn, reversed, and held for review
    summary: dict[str, dict[str, int]] = field(default_factory=dict)
    reversals: list[dict[str, Any]] = field(default_factory=list)  # upserts that undo a withdrawal


@dataclass(frozen=True)
class Note:
    """A line for the operator: an English message id and its parameters (translated where shown)."""

    template: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.template.format(**self.params)


@dataclass
class ExportReport:
    policy_digest: str
    refresh: RefreshReport
    plans: list[PeerPlan] = field(default_factory=list)
    sent: list[SentPackage] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    alarms: list[Overdue] = field(default_factory=list)  # raised by this export where it sealed nothing
    notes: list[Note] = field(default_factory=list)  # what a person should read besides the packages


CONTENT_DIGEST_CONTEXT = b"credgap-content/1\n"


class ContentDigest:
    """The content digest ``--dry-run`` shows and ``--expect`` checks (docs/POLICY.md, "Digests"):
    SHA-256 over a version line, then each data item's canonical bytes (the bytes the package
    carries), in order, each prefixed by its length in 4 bytes, big-endian."""

    def __init__(self) -> None:
        self._h = hashlib.sha256(CONTENT_DIGEST_CONTEXT)

    def update(self, item_bytes: bytes) -> None:
        self._h.update(len(item_bytes).to_bytes(4, "big"))
        self._h.update(item_bytes)

    def update_many(self, bodies: list[bytes]) -> None:
        """The same as :meth:`update` for each body in turn, in one hash update."""
        parts: list[bytes] = []
        for body in bodies:
            parts.append(len(body).to_bytes(4, "big"))
            parts.append(body)
        self._h.update(b"".join(parts))

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def _peers(session: Session, only: str | None) -> list[TrustedKey]:
    peers = trust_store.load_trust_state(session).peers("public")
    if only is not None:
        peers = [p for p in peers if only in (p.node_id, p.node_name)]
        if not peers:
            raise ExportError(
                N_("no trusted public node named {only!r} (see `keys list`)"),
                params={"only": only},
                reason="unknown-peer",
            )
    return peers


def _sent(session: Session, peer: str) -> PeerExport | None:
    return session.get(PeerExport, peer)


def plan(session: Session, peer: TrustedKey, *, full: bool) -> PeerPlan:
    """The range of publication items the next package to ``peer`` carries."""
    p = PUBLICATION.c
    upto = session.scalar(select(func.max(p.pub_seq))) or 0
    state = _sent(session, peer.node_id)
    since = 0 if full or state is None else state.sent_pub_seq
    return PeerPlan(peer=peer, full=full, since=since, upto=upto)


def plan_size(session: Session, pl: PeerPlan) -> int:
    """How many items the plan holds (for a progress bar)."""
    p = PUBLICATION.c
    stmt = select(func.count()).where(p.item.is_not(None), p.pub_seq > pl.since, p.pub_seq <= pl.upto)
    if pl.full:
        stmt = stmt.where(p.state == STATE_PUBLISH)
    return int(session.scalar(stmt) or 0)


def stream_items(
    session: Session, pl: PeerPlan, digest: ContentDigest | None
) -> Iterator[PreparedItem | PreparedBatch]:
    """The prepared items of a plan, in publication order, as they were checked: an item whose bytes
    no longer carry the guard seal made when policy, masking and the leak guard passed is refused.

    Rows are read in batches in ``pub_seq`` order (its unique index gives that order without a sort,
    so nothing is held back before the first row streams) and leave as batches of records."""
    p = PUBLICATION.c
    guard = GuardSeal(pseudonym_key(session))
    conn = session.connection()
    # the item's UTF-8 bytes straight from the database: what is sealed and what the guard seal covers
    item = func.convert_to(p.item, "UTF8") if conn.dialect.name == "postgresql" else cast(p.item, LargeBinary)
    stmt = (
        select(p.table_name, p.key, p.state, item, p.guard_mac)
        .where(p.item.is_not(None), p.pub_seq > pl.since, p.pub_seq <= pl.upto)
        .order_by(p.pub_seq)
    )
    result = conn.execute(stmt.execution_options(yield_per=STREAM_BATCH))
    check, full = guard.check, pl.full
    for part in result.partitions(SEAL_BATCH):
        records: list[bytes] = []
        for table_name, key, state, body, mac in part:
            if full and state != STATE_PUBLISH:
                continue  # a snapshot carries what is published; withdrawals were for deltas
            if not check(body, mac):
                raise ExportError(
                    N_(
                        "publication {table_name} {key}: its item was changed after policy, masking and the leak guard checked it; refusing to seal it (investigate, then re-project with a policy check)"
                    ),
                    params={"table_name": table_name, "key": key},
                    reason="leak-guard",
                )
            if table_name == DOCUMENT:
                if records:
                    if digest is not None:
                        digest.update_many(records)
                    yield PreparedBatch("record", records)
                    records = []
                if digest is not None:
                    digest.update(body)
                yield PreparedItem("document", body)
            else:
                records.append(body)
        if records:
            if digest is not None:
                digest.update_many(records)
            yield PreparedBatch("record", records)


def _bodies(prepared: PreparedItem | PreparedBatch) -> list[bytes]:
    return list(prepared.bodies) if isinstance(prepared, PreparedBatch) else [prepared.body]


def export(
    node: Node,
    identity: Identity,
    *,
    full: bool = False,
    dry_run: bool = False,
    expect: str | None = None,
    heartbeat: bool = True,
    peer: str | None = None,
    policy: DisclosurePolicy | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportReport:
    """Refresh the publication, then seal and deliver one package per trusted public node.

    ``progress(peer name, items done, items in the package)`` is called every few thousand items."""
    policy = policy or load_policy(node.config.policy_file)
    if dry_run:
        return preview(node, policy, full=full, peer=peer)
    with node.transaction() as s:
        refreshed = refresh(s, policy, today=node.today(), at=node.clock())
    report = ExportReport(policy_digest=policy.digest, refresh=refreshed)
    with node.sessions() as s:
        peers = _peers(s, peer)
    if not peers:
        raise ExportError(
            N_(
                "no trusted public node: trust its identity card first (`internal-node keys trust CARD --fingerprint FP`)"
            ),
            reason="no-peer",
        )
    exchange = open_exchange(node, identity)
    for pk in peers:
        with node.sessions() as s:
            # after `channel recover`, the next package to that peer is a snapshot (FORMAT.md §9.6)
            peer_full = full or recover.wants_snapshot(s, pk.node_id) is not None
            probe = plan(s, pk, full=peer_full)
        if not peer_full and expect is not None and probe.upto <= probe.since:
            # a re-run of a reviewed export whose package the medium did not take: what was reviewed
            # is sealed already, so deliver it from the archive and seal nothing new
            earlier = exchange.deliver_unwritten(pk.node_id)
            if earlier:
                report.sent.extend(earlier)
                seqs = ", ".join(str(p.seq) for p in earlier)
                report.notes.append(
                    Note(
                        N_("{peer}: delivered seq {seqs} from the archive; nothing new to seal")
                        if all(p.delivered for p in earlier)
                        else N_("{peer}: seq {seqs} still in the archive; nothing new to seal"),
                        {"peer": pk.node_name, "seqs": seqs},
                    )
                )
                continue
        if not peer_full and not heartbeat and probe.upto <= probe.since:
            # what an earlier export sealed but did not write (killed, or the medium failed)
            report.sent.extend(exchange.deliver_unwritten(pk.node_id))
            report.skipped.append(pk.node_id)
            report.notes.append(Note(N_("nothing to send to {peer} (--no-heartbeat)"), {"peer": pk.node_name}))
            # sealing checks this channel's receipts; with nothing sealed the check must still run, or
            # a quiet node under --no-heartbeat would never say its packages went unacknowledged
            with node.transaction() as s:
                report.alarms.extend(alarms.check_receipts(s, node, pk.node_id))
            continue
        holder: dict[str, Any] = {}

        def build(
            session: Session,
            seq: int,
            pk: TrustedKey = pk,
            holder: dict[str, Any] = holder,
            full: bool = peer_full,
        ) -> Iterator[dict[str, Any] | PreparedItem | PreparedBatch]:
            pl = plan(session, pk, full=full)
            holder["plan"] = pl
            d = ContentDigest() if expect is not None else None  # the digest is only checked, never shown
            n = done = shown = 0
            total = plan_size(session, pl) if progress is not None else 0
            for prepared in stream_items(session, pl, d):
                count = len(prepared.bodies) if isinstance(prepared, PreparedBatch) else 1
                n += count if prepared.kind == "record" else 0
                done += count
                yield prepared
                if progress is not None and done - shown >= PROGRESS_EVERY:
                    progress(pk.node_name, done, total)
                    shown = done
            if progress is not None:
                progress(pk.node_name, total, total)
            if trust_store.peer_reads(session, pk.node_id) >= 2:
                # acknowledgements and decisions are format-2 kinds: they wait for the peer's advertisement
                yield from status_items(session, pk.node_id)
                yield from decision_items(session, pk.node_id, seq)
            if full:
                yield {"kind": "snapshot", "tables": sorted(RECORD_TABLES), "records": n}
            pl.count, pl.digest = n, d.hexdigest() if d is not None else ""
            if expect is not None and pl.digest != expect:
                raise ContentChanged(
                    N_(
                        "the content for {node_name} is {digest}, not the reviewed {expect}: review it again with export --dry-run"
                    ),
                    params={"node_name": pk.node_name, "digest": pl.digest, "expect": expect},
                )

        def after(
            session: Session,
            sealed: SealedPackage,
            pk: TrustedKey = pk,
            holder: dict[str, Any] = holder,
            full: bool = peer_full,
        ) -> None:
            pl: PeerPlan = holder["plan"]
            row = session.get(PeerExport, pk.node_id)
            if row is None:
                row = PeerExport(
                    peer_node=pk.node_id, sent_pub_seq=0, policy_digest="", last_seq=0, updated_at=node.clock()
                )
                session.add(row)
            row.sent_pub_seq = pl.upto
            row.policy_digest = policy.digest
            row.last_seq = sealed.seq
            row.updated_at = node.clock()
            if full:
                row.last_full_seq = sealed.seq
                recover.snapshot_sent(session, pk.node_id)

        sent = exchange.send(
            pk,
            build,
            manifest={"policy": policy.digest, "content": expect, "note": "snapshot" if peer_full else ""},
            package_type="snapshot" if peer_full else "delta",
            after_seal=after,
        )
        report.plans.append(holder["plan"])
        report.sent.append(sent)
    return report


AWAITING_REVIEW = "awaiting-review"


def heartbeat_only(node: Node, identity: Identity, *, peer: str | None = None) -> list[SentPackage]:
    """Seal and deliver a heartbeat (no data item) to each trusted public node, leaving the
    publication's position as it was: what changed since the review goes in the next reviewed export.
    Its manifest says ``awaiting-review``, so the public side sees a live link waiting for a review."""
    policy = load_policy(node.config.policy_file)
    with node.sessions() as s:
        peers = _peers(s, peer)
    if not peers:
        raise ExportError(
            N_(
                "no trusted public node: trust its identity card first (`internal-node keys trust CARD --fingerprint FP`)"
            ),
            reason="no-peer",
        )
    exchange = open_exchange(node, identity)

    def nothing(_session: Session, _seq: int) -> Iterator[dict[str, Any]]:
        yield from ()

    return [
        exchange.send(pk, nothing, manifest={"policy": policy.digest, "content": None, "note": AWAITING_REVIEW})
        for pk in peers
    ]


def preview(node: Node, policy: DisclosurePolicy, *, full: bool, peer: str | None) -> ExportReport:
    """What ``export`` would seal, computed in one transaction that is rolled back: the database is
    left exactly as it was (no publication row, no counter, no transfer-log entry; see
    :func:`~internal_node.publication.refresh` for the sequences)."""
    with node.sessions() as s:
        s.begin()
        try:
            refreshed = refresh(s, policy, today=node.today(), at=node.clock(), preview=True)
            report = ExportReport(policy_digest=policy.digest, refresh=refreshed)
            peers = _peers(s, peer)
            if not peers:
                raise ExportError(
                    N_(
                        "no trusted public node: trust its identity card first (`internal-node keys trust CARD --fingerprint FP`)"
                    ),
                    reason="no-peer",
                )
            held = _held(s)
            for pk in peers:
                pl = plan(s, pk, full=full)
                d = ContentDigest()
                pl.items = [orjson.loads(b) for p in stream_items(s, pl, d) for b in _bodies(p)]
                pl.count, pl.digest = len(pl.items), d.hexdigest()
                pl.summary, pl.reversals = _summary(s, pl, held)
                report.plans.append(pl)
        finally:
            s.rollback()
    return report


SUMMARY_COLUMNS = ("new", "changed", "withdrawn", "held", "reversed")


def _held(session: Session) -> dict[str, int]:
    h = REVIEW_HOLD.c
    rows = session.execute(select(h.table_name, func.count()).where(h.state == "held").group_by(h.table_name))
    return {t: int(n) for t, n in rows}


def _summary(
    session: Session, pl: PeerPlan, held: dict[str, int]
) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]]]:
    """Per kind, the plan's items by what they do to the public side, and the held versions; and the
    reversals (an upsert of a record the public side had withdrawn), listed one by one."""
    p = PUBLICATION.c
    cond = [p.item.is_not(None), p.pub_seq > pl.since, p.pub_seq <= pl.upto]
    if pl.full:
        cond.append(p.state == STATE_PUBLISH)
    out: dict[str, dict[str, int]] = {}
    for table, change, n in session.execute(
        select(p.table_name, p.change, func.count()).where(*cond).group_by(p.table_name, p.change)
    ):
        name = change if change in ("new", "changed", "withdrawn", "reversed") else "changed"  # before i0004: None
        row = out.setdefault(table, dict.fromkeys(SUMMARY_COLUMNS, 0))
        row[name] += int(n)
    for table, n in held.items():
        out.setdefault(table, dict.fromkeys(SUMMARY_COLUMNS, 0))["held"] = n
    reversals = [
        {"table": t, "key": k, "version": v}
        for t, k, v in session.execute(select(p.table_name, p.key, p.pub_seq).where(*cond, p.change == "reversed"))
    ]
    return dict(sorted(out.items())), reversals


def resend(node: Node, identity: Identity, first: int, last: int, *, peer: str | None = None) -> list[SentPackage]:
    """Copy sealed packages with their original bytes from the archive back to the medium."""
    with node.sessions() as s:
        peers = _peers(s, peer)
    if len(peers) != 1:
        raise ExportError(
            N_("--resend needs --peer NODE when several public nodes are trusted"), reason="ambiguous-peer"
        )
    return open_exchange(node, identity).resend(peers[0].node_id, first, last)
