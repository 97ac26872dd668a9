"""``transfer inspect``: what security staff run on a suspicious file — show a package's header and
verify it, without applying anything. Fields are labelled unverified until the signature checks."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import select

from exchange.core import reader_context
from exchange.engine import load_channel_state
from exchange.node import limits_for
from keys.identity_store import Identity
from nodekit import trust_store
from nodekit.i18n import N_
from nodekit.models import ChannelRow
from nodekit.runtime import Node
from nodekit.text import printable, printable_doc
from transfer.channel import ChannelState, check
from transfer.errors import PackageRejected
from transfer.files import read_chunks
from transfer.header import parse_prefix
from transfer.limits import MAGIC, Limits
from transfer.opener import PackageOpener

PREFIX_READ = len(MAGIC) + 4 + 65536 + 64


def inspect_package(
    node: Node, identity: Identity, path: Path, *, payload: bool = True, limits: Limits | None = None
) -> dict[str, Any]:
    """Inspect one package file. Never writes to the database, the medium or the archive."""
    limits = limits or limits_for(node.config)
    st = path.lstat()
    report: dict[str, Any] = {"file": str(path), "size": st.st_size, "verified": False}
    if not path.is_file() or path.is_symlink():
        report.update(reason="bad-magic", message="not a regular file")
        return report
    if st.st_size > limits.max_file:
        report.update(reason="oversized", message=f"{st.st_size} bytes exceeds the limit of {limits.max_file}")
        return report
    digest = hashlib.sha256()
    for chunk in read_chunks(path):
        digest.update(chunk)
    report["digest"] = digest.hexdigest()
    with path.open("rb") as fh:
        prefix = fh.read(PREFIX_READ)
    try:
        raw = parse_prefix(prefix)
    except PackageRejected as exc:
        report.update(reason=exc.reason, message=printable(str(exc), 1000))
        return report
    # strings of a header are not authenticated yet: escaped for the terminal and the --json output
    report["header"] = printable_doc(raw.document)
    report["header_verified"] = False
    sender = raw.document.get("sender")
    claimed = sender.get("node") if isinstance(sender, dict) else None  # unverified: it only picks the anchors
    with node.sessions() as s:
        ctx = reader_context(
            s, own_node=identity.node_id, own_role=identity.role, trust=trust_store.load_trust_state(s),
            own_keys=identity.secret_for if payload else _public_only(identity), now=int(node.clock().timestamp()),
            limits=limits, sender=claimed if isinstance(claimed, str) else None,
        )  # fmt: skip
        opener = PackageOpener(read_chunks(path), ctx, file_size=st.st_size, expected_digest=report["digest"])
        try:
            vh = opener.header()
        except PackageRejected as exc:
            report.update(reason=exc.reason, message=printable(str(exc), 1000))
            return report
        report["header_verified"] = True
        report["signer"] = {"key_id": vh.signer.key_id, "node_id": vh.signer.node_id, "node_name": vh.signer.node_name}
        h = vh.header
        row = s.scalars(
            select(ChannelRow).where(
                ChannelRow.sender_node == h.sender_node, ChannelRow.recipient_node == h.recipient_node
            )
        ).first()
        if row is not None:
            state = load_channel_state(s, row)
        else:
            state = ChannelState(h.sender_node, h.recipient_node)
    try:
        verdict = check(
            h, report["digest"], state, now=ctx.now, skew=limits.skew, pending_quota=limits.pending_quota,
            rebase_bound=limits.rebase_bound,
        )  # fmt: skip
        report["channel"] = {"verdict": verdict.value, "last_applied": state.last_seq}
    except PackageRejected as exc:
        report["channel"] = {
            "verdict": "rejected",
            "reason": exc.reason,
            "message": printable(str(exc), 1000),
            "last_applied": state.last_seq,
        }
    if not payload:
        report["payload"] = N_("not opened (--header-only)")  # --json keeps it; shown translated
        report["verified"] = report["channel"]["verdict"] != "rejected"
        return report
    counts: dict[str, int] = {}
    try:
        for item in opener.items():
            counts[item["kind"]] = counts.get(item["kind"], 0) + 1
    except PackageRejected as exc:
        report.update(
            reason=exc.reason, message=printable(str(exc), 1000), payload={"verified": False, "counts_so_far": counts}
        )
        return report
    report["payload"] = {"verified": True, "counts": counts}
    report["verified"] = report["channel"]["verdict"] != "rejected"
    if report["channel"]["verdict"] == "rejected":
        report.update(reason=report["channel"]["reason"], message=report["channel"]["message"])
    return report


def _public_only(identity: Identity) -> Any:
    def has_key(key_id: str) -> Any:
        identity.key(key_id)  # raises if this node never held the key; no private key is opened
        return None

    return has_key
