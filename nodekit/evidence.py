"""The audit evidence bundle: a folder holding a node's transfer log, its checkpoints, its public keys,
the receipts and peer checkpoints it holds, and a standalone verifier, so that an auditor can check
the log on another machine with nothing but Python and the ``cryptography`` package."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from keys import canonical
from keys.identity import format_fingerprint
from keys.identity_store import Identity
from nodekit.auditlog import AuditError, log_rows, own_checkpoints
from nodekit.i18n import N_
from nodekit.models import PeerCheckpointRow, ReceiptRow
from transfer import evidence_verify
from transfer.checkpoint import Checkpoint, encode_checkpoint

VERIFIER_NAME = "verify_log.py"

README = """credgap transfer-log evidence bundle
=====================================

node      {node_id} ({name}, {role} node)
exported  {at}
entries   {entries}; last checkpoint covers {covered}
keys      {fingerprints}

Verify it with nothing but Python 3.11+ and the `cryptography` package:

    python3 {verifier} . --key-fingerprint "<the fingerprint you hold for this node>"

Compare the fingerprint with the one on the node's identity card, obtained out of band; without
--key-fingerprint the keys listed in keys.json (this bundle's own) are trusted. To prove the log
was not cut back, add --against FILE with a checkpoint of this node that its peer holds (the peer's
`audit export` writes them under peer-checkpoints/).

Files
  entries.jsonl          one log entry per line: the exact canonical bytes each leaf hash covers
  checkpoints.jsonl      the node's signed checkpoints (tree heads), one envelope per line
  keys.json              key id -> public keys of every key this node has held
  cards/                 the identity cards found with the keys (self-signed)
  receipts.jsonl         receipts received (in) and issued (out), signed by their issuers
  peer-checkpoints.jsonl checkpoints of the peers' logs held by this node
  peer-checkpoints/      the latest one per peer, as files for the peer's `audit verify --against FILE`
  {verifier}           the standalone verifier (docs/FORMAT.md §13 is its specification)
  SHA256SUMS             digests of every file above
"""


def export_bundle(
    session: Session, identity: Identity, out: Path, *, now: datetime, role: str, rows: Iterable[Any] | None = None
) -> dict[str, Any]:
    """Write the bundle into ``out`` (created; refused if it exists and is not empty). ``rows``: the
    entries to write instead of the database's (the archived ones first, ``audit export --base``)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AuditError(
            N_("{out}: exists and is not an empty folder; give a new folder"),
            params={"out": out},
            reason="bundle-exists",
        )
    out.mkdir(parents=True, exist_ok=True, mode=0o750)
    node = identity.node_id
    entries = 0
    with (out / "entries.jsonl").open("wb") as fh:
        for entry, _recorded in log_rows(session) if rows is None else rows:
            fh.write(entry.encode() + b"\n")
            entries += 1
    cps = own_checkpoints(session, node)
    _write_lines(out / "checkpoints.jsonl", (canonical.encode(c.envelope()) for c in cps))
    keys = {k.key_id: {"sign": k.public.sign.hex(), "enc": k.public.enc.hex()} for k in identity.own_keys()}
    (out / "keys.json").write_bytes(orjson.dumps(keys, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n")
    cards = out / "cards"
    cards.mkdir()
    for key_id in keys:
        src = identity.card_path(key_id)
        if src.is_file():
            shutil.copyfile(src, cards / src.name)
    receipts = session.scalars(select(ReceiptRow).order_by(ReceiptRow.id)).all()
    _write_lines(
        out / "receipts.jsonl",
        (
            canonical.encode({"direction": r.direction, "receipt": orjson.loads(r.document), "sig": r.sig})
            for r in receipts
        ),
    )
    peers = session.scalars(select(PeerCheckpointRow).order_by(PeerCheckpointRow.id)).all()
    latest: dict[str, PeerCheckpointRow] = {}
    for p in peers:
        if p.source == "abandoned":  # of a peer log restored from a backup (channel recover): not its head
            continue
        if p.peer_node not in latest or p.size > latest[p.peer_node].size:
            latest[p.peer_node] = p
    _write_lines(out / "peer-checkpoints.jsonl", (canonical.encode(_peer_cp(p).envelope()) for p in peers))
    (out / "peer-checkpoints").mkdir()
    for peer, p in latest.items():
        (out / "peer-checkpoints" / f"{peer}-{p.size}.json").write_bytes(encode_checkpoint(_peer_cp(p)))
    shutil.copyfile(Path(evidence_verify.__file__), out / VERIFIER_NAME)
    covered = max((c.size for c in cps), default=0)
    manifest = {
        "type": "credgap-evidence-bundle",
        "v": 1,
        "node_id": node,
        "name": identity.name,
        "role": role,
        "exported_at": now.isoformat(timespec="seconds"),
        "entries": entries,
        "checkpoints": len(cps),
        "covered": covered,
        "receipts": len(receipts),
        "peer_checkpoints": len(peers),
        "keys": sorted(keys),
    }
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    (out / "README.txt").write_text(
        README.format(
            node_id=node, name=identity.name, role=role, at=manifest["exported_at"], entries=entries,
            covered=covered, fingerprints=", ".join(format_fingerprint(k) for k in sorted(keys)),
            verifier=VERIFIER_NAME,
        ),
        encoding="utf-8",
    )  # fmt: skip
    _write_sums(out)
    return {**manifest, "folder": str(out), "verify": f"python3 {out / VERIFIER_NAME} {out}"}


def _peer_cp(p: PeerCheckpointRow) -> Checkpoint:
    return Checkpoint(node=p.peer_node, key=p.key_id, size=p.size, root=p.root, at=p.at, sig=bytes.fromhex(p.sig))


def _write_lines(path: Path, lines: Any) -> None:
    with path.open("wb") as fh:
        for line in lines:
            fh.write(line + b"\n")


def _write_sums(out: Path) -> None:
    lines = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(out).as_posix()}")
    (out / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")
