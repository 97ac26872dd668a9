"""The RFC 6962 Merkle tree over transfer-log leaves: tree hash, inclusion and consistency proofs.

Definitions follow RFC 6962 §2.1 (MTH, PATH, PROOF/SUBPROOF) and the verification algorithms of
RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency). Inputs are leaf hashes (32 bytes each,
``SHA-256(0x00 || entry)``, computed by ``transfer.log``), so this module never sees an entry.
Everything here is pure; verifiers raise :class:`~transfer.errors.LogVerificationError`.

A :class:`Frontier` (the roots of the perfect subtrees of a tree, largest first) lets a node extend
its tree head entry by entry without reading the whole log again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from transfer.errors import N_, LogVerificationError

HASH_LEN = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 6962 §2.1 over leaf hashes (``EMPTY_ROOT`` for no leaf)."""
    if not leaves:
        return EMPTY_ROOT
    # Bottom-up over the frontier: the same value as the recursive definition, in O(n) and O(log n) memory.
    f = Frontier()
    for h in leaves:
        f.append(h)
    return f.root()


def _mth(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1: the audit path of leaf ``index`` in the tree of ``leaves``."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is not in a tree of {n} leaves")
    path: list[bytes] = []
    lo, hi = 0, n
    # Iterative form of the recursion: walk down from the root, collecting siblings, then reverse.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            path.append(_mth(leaves[lo + k : hi]))
            hi = lo + k
        else:
            path.append(_mth(leaves[lo : lo + k]))
            lo = lo + k
    path.reverse()
    return path


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 6962 §2.1.2: proves the tree of the first ``old_size`` leaves is a prefix."""
    n = len(leaves)
    if not 0 <= old_size <= n:
        raise ValueError(f"no consistency proof from {old_size} to {n} leaves")
    if old_size in (0, n):
        return []
    return _subproof(old_size, leaves, True)


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [_mth(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes) -> None:
    """RFC 9162 §2.1.3.2: raise unless ``proof`` shows leaf ``index`` is ``leaf`` in the tree ``expected_root``."""
    if not 0 <= index < size:
        raise LogVerificationError(
            N_("inclusion proof: leaf {index} is outside a tree of {size}"),
            params={"index": index, "size": size},
            reason="bad-proof",
        )
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise LogVerificationError(N_("inclusion proof is longer than the tree is deep"), reason="bad-proof")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != expected_root:
        raise LogVerificationError(
            N_("inclusion proof of leaf {index} does not lead to the root of the tree of {size}"),
            params={"index": index, "size": size},
            reason="bad-proof",
        )


def verify_consistency(old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes) -> None:
    """RFC 9162 §2.1.4.2: raise unless the tree ``new_root`` of ``new_size`` leaves extends ``old_root``."""
    if old_size > new_size:
        raise LogVerificationError(
            N_("a tree of {new_size} entries cannot extend one of {old_size}: entries were cut off"),
            params={"new_size": new_size, "old_size": old_size},
            reason="truncated",
        )
    if old_size == new_size:
        if proof or old_root != new_root:
            raise LogVerificationError(
                N_("two different trees of {old_size} entries: the log was rewritten"),
                params={"old_size": old_size},
                reason="inconsistent",
            )
        return
    if old_size == 0:
        if proof:
            raise LogVerificationError(N_("a proof from the empty tree must be empty"), reason="bad-proof")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is itself a node
        path.insert(0, old_root)
    if not path:
        raise LogVerificationError(N_("empty consistency proof"), reason="bad-proof")
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise LogVerificationError(N_("consistency proof is too long"), reason="bad-proof")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise LogVerificationError(
            N_(
                "the log of {new_size} entries does not extend the tree of {old_size} entries (an entry before it was changed, removed or reordered)"
            ),
            params={"new_size": new_size, "old_size": old_size},
            reason="inconsistent",
        )


@dataclass
class Frontier:
    """The roots of the perfect subtrees of a tree of ``size`` leaves, largest first (one per set bit).

    MTH of the tree is these roots folded from the right: ``H(p1, H(p2, … H(pk-1, pk)))``.
    """

    size: int = 0
    nodes: list[bytes] | None = None

    def __post_init__(self) -> None:
        if self.nodes is None:
            self.nodes = []
        if len(self.nodes) != bin(self.size).count("1"):
            raise ValueError(f"a frontier of {self.size} leaves has {bin(self.size).count('1')} nodes")

    def append(self, leaf: bytes) -> None:
        nodes = self._nodes
        node, size = leaf, self.size
        # like a binary increment: every trailing 1 bit merges two equal subtrees into one
        while size & 1:
            node = node_hash(nodes.pop(), node)
            size >>= 1
        nodes.append(node)
        self.size += 1

    def root(self) -> bytes:
        nodes = self._nodes
        if not nodes:
            return EMPTY_ROOT
        acc = nodes[-1]
        for left in reversed(nodes[:-1]):
            acc = node_hash(left, acc)
        return acc

    @property
    def _nodes(self) -> list[bytes]:
        assert self.nodes is not None
        return self.nodes

    def to_hex(self) -> list[str]:
        return [n.hex() for n in self._nodes]

    @classmethod
    def from_hex(cls, size: int, nodes: Sequence[str]) -> Frontier:
        return cls(size, [bytes.fromhex(n) for n in nodes])
