#!/usr/bin/env python3
"""Standalone verifier of a credgap transfer-log evidence bundle (``audit export``).

Needs nothing but Python 3.11+ and the ``cryptography`` package: it is copied into every bundle as
``verify_log.py`` and imports nothing of credgap, so an auditor can check a bundle on any machine.

    python3 verify_log.py BUNDLE_DIR [--key-fingerprint FP ...] [--against CHECKPOINT_FILE]

It recomputes every entry's RFC 6962 leaf hash, the ``prev`` chain and contiguous indices from 0,
the Merkle tree hash at every checkpoint, and each checkpoint's Ed25519 signature under the
``credgap/v1 log-checkpoint`` context with the keys of ``keys.json`` (checked against their
fingerprints, and restricted to ``--key-fingerprint`` when given). ``--against`` checks that the log
still extends a checkpoint the peer holds. Exit 0 when everything verifies, 4 naming the first bad
entry otherwise, 2 for a bundle that cannot be read. docs/FORMAT.md §13 is the specification.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
_CONTEXT = b"credgap/v1 log-checkpoint\x00"
_KEY_ID_DOMAIN = b"credgap/v1 key-id\x00"


class Failed(Exception):
    """The bundle does not verify; ``index`` is the first bad entry when known."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def _canonical(doc: Any) -> bytes:
    # RFC 8785 for the subset credgap signs (ASCII keys, no floats): sorted keys, no whitespace, UTF-8
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class _Frontier:
    """RFC 6962 tree hash, built leaf by leaf (the roots of the perfect subtrees, largest first)."""

    def __init__(self) -> None:
        self.size = 0
        self.nodes: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        node, size = leaf, self.size
        while size & 1:
            node = _node(self.nodes.pop(), node)
            size >>= 1
        self.nodes.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self.nodes:
            return hashlib.sha256(b"").digest()
        acc = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            acc = _node(left, acc)
        return acc


def load_keys(bundle: Path, pins: list[str]) -> dict[str, bytes]:
    """key id -> Ed25519 public key, from keys.json, each checked against its fingerprint."""
    raw = json.loads((bundle / "keys.json").read_text(encoding="utf-8"))
    keys: dict[str, bytes] = {}
    for key_id, pub in raw.items():
        sign, enc = bytes.fromhex(pub["sign"]), bytes.fromhex(pub["enc"])
        if hashlib.sha256(_KEY_ID_DOMAIN + sign + enc).digest()[:16].hex() != key_id:
            raise Failed(f"keys.json: the public keys listed for {key_id} do not have that fingerprint")
        keys[key_id] = sign
    if pins:
        wanted = {re.sub(r"[\s:\-]", "", p, flags=re.ASCII).lower() for p in pins}
        for w in wanted:
            if not re.fullmatch(r"[0-9a-f]{32}", w):
                raise Failed(f"--key-fingerprint {w!r}: a fingerprint is 32 hex digits")
        keys = {k: v for k, v in keys.items() if k in wanted}
    return keys


def check_signature(env: dict[str, Any], keys: dict[str, bytes], node: str | None) -> dict[str, Any]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    doc = env["checkpoint"]
    if doc.get("type") != "credgap-log-checkpoint" or doc.get("v") != 1:
        raise Failed("not a log checkpoint")
    if node is not None and doc["node"] != node:
        raise Failed(f"checkpoint of size {doc['size']} is of node {doc['node']}, not {node}")
    pub = keys.get(doc["key"])
    if pub is None:
        raise Failed(f"checkpoint of size {doc['size']} is signed by key {doc['key']}, not a trusted key")
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(bytes.fromhex(env["sig"]), _CONTEXT + _canonical(doc))
    except (InvalidSignature, ValueError):
        raise Failed(f"checkpoint of size {doc['size']}: the signature does not verify") from None
    return dict(doc)


def verify(bundle: Path, pins: list[str], against: Path | None) -> str:
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    node = manifest["node_id"]
    keys = load_keys(bundle, pins)
    checkpoints = [
        check_signature(json.loads(line), keys, node)
        for line in (bundle / "checkpoints.jsonl").read_bytes().splitlines()
        if line
    ]
    wanted: dict[int, str] = {}
    for cp in checkpoints:
        if wanted.setdefault(cp["size"], cp["root"]) != cp["root"]:
            raise Failed(f"two checkpoints of size {cp['size']} with different roots", max(cp["size"] - 1, 0))
    held = None if against is None else check_signature(json.loads(against.read_bytes()), keys, node)
    needed = set(wanted) | ({held["size"]} if held else set())
    roots: dict[int, str] = {0: hashlib.sha256(b"").hexdigest()}
    frontier = _Frontier()
    prev = GENESIS
    for pos, line in enumerate((bundle / "entries.jsonl").read_bytes().splitlines()):
        entry = json.loads(line)
        if entry["index"] != pos:
            what = "missing (deleted)" if entry["index"] > pos else "out of order"
            raise Failed(f"entry {pos} {what}: found index {entry['index']} at position {pos}", pos)
        if entry["prev"] != prev:
            raise Failed(f"entry {pos} does not chain to entry {pos - 1}: one of them was changed", max(pos - 1, 0))
        h = _leaf(line)
        prev = h.hex()
        frontier.append(h)
        if frontier.size in needed:
            roots[frontier.size] = frontier.root().hex()
    n = frontier.size
    roots[n] = frontier.root().hex()
    for size in sorted(wanted):
        if size > n:
            raise Failed(f"the log has {n} entries but a checkpoint covers {size}: entries cut off the tail", n)
        if roots[size] != wanted[size]:
            raise Failed(f"entries before {size} no longer hash to the root signed at size {size}", None)
    covered = max(wanted, default=0)
    out = f"OK: node {node}, {n} entries, {len(checkpoints)} checkpoints (covering {covered}), root {roots[n]}"
    if held is not None:
        if held["size"] > n:
            raise Failed(
                f"the peer holds a checkpoint of {held['size']} entries; the log has {n}: entries cut off the tail", n
            )
        if roots[held["size"]] != held["root"]:
            raise Failed(f"the log does not extend the peer's checkpoint of {held['size']} entries", None)
        out += f"; extends the peer-held checkpoint of {held['size']} entries"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Verify a credgap transfer-log evidence bundle.")
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--key-fingerprint", action="append", default=[], help="only trust this key (repeatable)")
    ap.add_argument("--against", type=Path, help="a checkpoint file of this log held by the peer")
    args = ap.parse_args(argv)
    try:
        print(verify(args.bundle, args.key_fingerprint, args.against))
        return 0
    except Failed as exc:
        at = "" if exc.index is None else f" (first bad entry: {exc.index})"
        print(f"FAILED: {exc}{at}", file=sys.stderr)
        return 4
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"cannot read the bundle: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
