"""RFC 6962 Merkle trees: the reference tree heads and proofs of the Certificate Transparency test data
(leaves "", 00, 10, 2021, 3031, 40414243, 5051525354555657, 606162636465666768696a6b6c6d6e6f), every
proof of many tree sizes round-trips, and a proof verifies nothing else."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transfer import merkle
from transfer.errors import LogVerificationError

DATA = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                   "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
LEAVES = [merkle.leaf_hash(d) for d in DATA]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [  # (old size, new size, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


def leaves(n: int, salt: int = 0) -> list[bytes]:
    return [merkle.leaf_hash(f"{salt}:{i}".encode()) for i in range(n)]


def test_leaf_and_empty_hashes_follow_rfc6962() -> None:
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0] == hashlib.sha256(b"").hexdigest()
    assert merkle.leaf_hash(b"").hex() == ROOTS[1]
    assert merkle.node_hash(LEAVES[0], LEAVES[1]).hex() == ROOTS[2]


@pytest.mark.parametrize("n", range(9))
def test_tree_heads_match_the_reference(n: int) -> None:
    assert merkle.root(LEAVES[:n]).hex() == ROOTS[n]
    assert merkle._mth(LEAVES[:n]).hex() == ROOTS[n], "the recursive definition agrees"
    f = merkle.Frontier()
    for h in LEAVES[:n]:
        f.append(h)
    assert f.root().hex() == ROOTS[n]
    assert merkle.Frontier.from_hex(n, f.to_hex()).root() == f.root()


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index: int, size: int, path: list[str]) -> None:
    proof = merkle.inclusion_proof(index, LEAVES[:size])
    assert [p.hex() for p in proof] == path
    merkle.verify_inclusion(index, size, LEAVES[index], proof, bytes.fromhex(ROOTS[size]))
    with pytest.raises(LogVerificationError):
        merkle.verify_inclusion(index, size, LEAVES[(index + 1) % size], proof, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(old: int, new: int, path: list[str]) -> None:
    proof = merkle.consistency_proof(old, LEAVES[:new])
    assert [p.hex() for p in proof] == path
    merkle.verify_consistency(old, new, proof, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]))


def test_every_proof_of_every_size_round_trips() -> None:
    for n in range(1, 34):
        ls = leaves(n)
        r = merkle.root(ls)
        for i in range(n):
            merkle.verify_inclusion(i, n, ls[i], merkle.inclusion_proof(i, ls), r)
        for m in range(0, n + 1):
            merkle.verify_consistency(m, n, merkle.consistency_proof(m, ls), merkle.root(ls[:m]), r)


def test_a_changed_prefix_fails_consistency() -> None:
    ls = leaves(20)
    old_root = merkle.root(ls[:13])
    changed = list(ls)
    changed[7] = merkle.leaf_hash(b"edited")
    proof = merkle.consistency_proof(13, changed)
    with pytest.raises(LogVerificationError) as e:
        merkle.verify_consistency(13, 20, proof, old_root, merkle.root(changed))
    assert e.value.reason == "inconsistent"


def test_a_shorter_tree_cannot_extend_a_longer_one() -> None:
    ls = leaves(10)
    with pytest.raises(LogVerificationError) as e:
        merkle.verify_consistency(10, 7, [], merkle.root(ls), merkle.root(ls[:7]))
    assert e.value.reason == "truncated"


def test_equal_sizes_need_equal_roots() -> None:
    a, b = leaves(5, 1), leaves(5, 2)
    merkle.verify_consistency(5, 5, [], merkle.root(a), merkle.root(a))
    with pytest.raises(LogVerificationError):
        merkle.verify_consistency(5, 5, [], merkle.root(a), merkle.root(b))


def test_proof_requests_outside_the_tree_are_refused() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_proof(3, leaves(3))
    with pytest.raises(ValueError):
        merkle.consistency_proof(4, leaves(3))
    with pytest.raises(LogVerificationError):
        merkle.verify_inclusion(3, 3, LEAVES[0], [], merkle.root(LEAVES[:3]))


def test_a_frontier_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError):
        merkle.Frontier(3, [merkle.EMPTY_ROOT])


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 70), data=st.data())
def test_proofs_verify_only_their_own_tree(n: int, data: st.DataObject) -> None:
    ls = leaves(n)
    r = merkle.root(ls)
    i = data.draw(st.integers(0, n - 1))
    proof = merkle.inclusion_proof(i, ls)
    merkle.verify_inclusion(i, n, ls[i], proof, r)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[k] = merkle.leaf_hash(b"x")
        with pytest.raises(LogVerificationError):
            merkle.verify_inclusion(i, n, ls[i], bad, r)
        with pytest.raises(LogVerificationError):
            merkle.verify_inclusion(i, n, ls[i], proof[:-1], r)
    m = data.draw(st.integers(1, n))
    cproof = merkle.consistency_proof(m, ls)
    merkle.verify_consistency(m, n, cproof, merkle.root(ls[:m]), r)
    if cproof:
        k = data.draw(st.integers(0, len(cproof) - 1))
        bad = list(cproof)
        bad[k] = merkle.leaf_hash(b"y")
        with pytest.raises(LogVerificationError):
            merkle.verify_consistency(m, n, bad, merkle.root(ls[:m]), r)
