"""``transfer.seal`` and ``transfer.open_package``: the package API the issue names, over the pure core."""

from __future__ import annotations

import hashlib
import io

import pytest

import transfer
from tests.unit.transfer.conftest import NOW, Pair, manifest, record
from transfer.header import ZERO_DIGEST


def seal(pair: Pair, items: list[transfer.Item], seq: int = 1, prev: str = ZERO_DIGEST) -> bytes:
    """Seal ``items`` as they are (a test that wants the package's checkpoint puts it in)."""
    out, spool = io.BytesIO(), io.BytesIO()
    sealed = transfer.seal(
        items, sender_node=pair.internal_id, sender_role="internal", signer=pair.internal,
        recipient=transfer.Recipient(pair.public_id, pair.public.key_id, pair.public.public.enc),
        seq=seq, prev=prev, created=NOW - 60, out=out, spool=spool,
    )  # fmt: skip
    data = out.getvalue()
    assert sealed.digest == hashlib.sha256(data).hexdigest()
    return data


def pieces(data: bytes, n: int = 4096) -> list[bytes]:
    return [data[i : i + n] for i in range(0, len(data), n)]


def test_open_package_verifies_places_and_streams(pair: Pair) -> None:
    items = [manifest(), pair.checkpoint(), *(record(i) for i in range(1, 30))]
    data = seal(pair, items)
    digest = hashlib.sha256(data).hexdigest()
    opened = transfer.open_package(pieces(data), pair.public_ctx(), pair.channel(), file_size=len(data), digest=digest)
    assert opened.verdict is transfer.Verdict.ACCEPT
    assert opened.header.header.seq == 1 and opened.header.signer.node_id == pair.internal_id
    assert list(opened.items()) == items


def test_open_package_applies_the_channel_rules(pair: Pair) -> None:
    data = seal(pair, [manifest(), pair.checkpoint(), record(1)], seq=3, prev="c" * 64)
    digest = hashlib.sha256(data).hexdigest()
    opened = transfer.open_package(pieces(data), pair.public_ctx(), pair.channel(), file_size=len(data), digest=digest)
    assert opened.verdict is transfer.Verdict.GAP
    with pytest.raises(transfer.TransferError, match="gap is not opened now"):
        opened.items()
    applied = pair.channel(last_seq=3, last_digest="a" * 64, applied={3: "a" * 64})
    with pytest.raises(transfer.PackageRejected) as err:
        transfer.open_package(pieces(data), pair.public_ctx(), applied, file_size=len(data), digest=digest)
    assert err.value.reason == "equivocation"


def test_open_package_refuses_bytes_that_differ_from_the_staged_digest(pair: Pair) -> None:
    data = seal(pair, [manifest(), pair.checkpoint(), record(1)])
    opened = transfer.open_package(
        pieces(data), pair.public_ctx(), pair.channel(), file_size=len(data), digest="0" * 64
    )
    with pytest.raises(transfer.PackageRejected) as err:
        list(opened.items())
    assert err.value.reason == "digest-mismatch"


def test_open_package_verifies_the_signature_before_anything_else(pair: Pair) -> None:
    data = bytearray(seal(pair, [manifest(), record(1)]))
    data[19 + 4 + int.from_bytes(data[19:23], "big") + 63] ^= 1  # the last byte of the signature
    with pytest.raises(transfer.PackageRejected) as err:
        transfer.open_package([bytes(data)], pair.public_ctx(), pair.channel(), file_size=len(data), digest="0" * 64)
    assert err.value.reason == "bad-signature"  # not the digest, nor anything of the payload


@pytest.mark.parametrize("checkpoints", [0, 2])
def test_a_package_carries_exactly_one_checkpoint(pair: Pair, checkpoints: int) -> None:
    """Issue 12 case 16: FORMAT.md §13.4 says every package carries exactly one checkpoint item; the
    reader refuses zero or two from the signed counts, before decrypting anything."""
    from tests.forge import checkpoint_item

    cps = [checkpoint_item(pair.internal, pair.internal_id, NOW - 60) for _ in range(checkpoints)]
    data = seal(pair, [manifest(), *cps, record(1)])
    digest = hashlib.sha256(data).hexdigest()
    with pytest.raises(transfer.PackageRejected) as err:
        transfer.open_package(pieces(data), pair.public_ctx(), pair.channel(), file_size=len(data), digest=digest)
    assert err.value.reason == "bad-checkpoint"
    assert f"{checkpoints} checkpoint" in str(err.value)
    good = seal(pair, [manifest(), cps[0] if cps else checkpoint_item(pair.internal, pair.internal_id, 0), record(1)])
    opened = transfer.open_package(
        pieces(good), pair.public_ctx(), pair.channel(), file_size=len(good), digest=hashlib.sha256(good).hexdigest()
    )
    assert [i["kind"] for i in opened.items()] == ["manifest", "checkpoint", "record"]
