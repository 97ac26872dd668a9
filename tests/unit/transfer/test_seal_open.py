"""Sealing and opening: round trips, randomness, who can open what, and the writer's own checks."""

from __future__ import annotations

import io

import pytest

from keys.errors import KeyStoreError
from tests.unit.transfer.conftest import NOW, Pair, manifest, open_all, record
from transfer.errors import PackageRejected, TransferError
from transfer.header import ZERO_DIGEST
from transfer.items import ALLOWED, INTERNAL_TO_PUBLIC, ItemWriter
from transfer.limits import CHUNK
from transfer.opener import OpenContext, PackageOpener
from transfer.seal import Recipient, seal


def test_round_trip_small_and_multi_chunk(pair: Pair) -> None:
    for n in (1, 2000):
        items = [manifest()] + [record(i) for i in range(n)]
        data, sealed = pair.seal(items)
        assert sealed.size == len(data)
        assert open_all(data, pair.public_ctx()) == items
        assert open_all(data, pair.public_ctx(), piece=1) == items if n == 1 else True


def test_payload_spanning_many_chunks(pair: Pair) -> None:
    # incompressible rows so the payload covers several 64 KiB chunks
    import os

    items = [manifest()] + [
        dict(record(i), row={**record(i)["row"], "note": os.urandom(20_000).hex()}) for i in range(20)
    ]
    data, sealed = pair.seal(items)
    assert sealed.header.compressed > 4 * CHUNK
    assert open_all(data, pair.public_ctx(), piece=7777) == items


def test_return_direction(pair: Pair) -> None:
    items = [{"kind": "manifest", "policy": None, "content": None, "note": ""}, {"kind": "heartbeat"}]
    data, _ = pair.seal(items, from_public=True)
    assert open_all(data, pair.internal_ctx()) == items


def test_two_real_seals_of_the_same_payload_differ(pair: Pair) -> None:
    items = [manifest(), record(1)]
    a, sa = pair.seal(items)
    b, sb = pair.seal(items)
    assert a != b and sa.digest != sb.digest
    assert sa.header.nonce != sb.header.nonce and sa.header.stanza_share != sb.header.stanza_share


def test_the_sender_cannot_open_what_it_sealed(pair: Pair) -> None:
    data, sealed = pair.seal([manifest(), record(1)])
    # the internal node holds only its own secret keys: the package is sealed to the public node's key
    ctx = pair.internal_ctx()
    with pytest.raises(PackageRejected) as err:
        PackageOpener([data], ctx, file_size=len(data)).header()
    assert err.value.reason in ("unknown-signer", "wrong-role", "wrong-recipient")
    # even handed the right trust store, its key does not open the stanza
    from transfer.crypto import unwrap_file_key

    with pytest.raises(PackageRejected) as err:
        unwrap_file_key(
            bytes.fromhex(sealed.header.stanza_share), bytes.fromhex(sealed.header.stanza_body), pair.internal
        )
    assert err.value.reason == "bad-stanza"


def test_unknown_recipient_key(pair: Pair) -> None:
    data, _ = pair.seal([manifest(), record(1)])
    ctx = pair.public_ctx()

    def no_keys(key_id: str) -> object:
        raise KeyStoreError("none", reason="unknown-recipient-key")

    ctx2 = OpenContext(own_node=ctx.own_node, own_role="public", trust=ctx.trust, own_keys=no_keys, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(PackageRejected) as err:
        PackageOpener([data], ctx2, file_size=len(data)).header()
    assert err.value.reason == "unknown-recipient-key"


def test_digest_mismatch_after_staging(pair: Pair) -> None:
    data, _ = pair.seal([manifest(), record(1)])
    opener = PackageOpener([data], pair.public_ctx(), file_size=len(data), expected_digest="0" * 64)
    with pytest.raises(PackageRejected) as err:
        list(opener.items())
    assert err.value.reason == "digest-mismatch"


def test_writer_refuses_what_a_reader_would_reject(pair: Pair) -> None:
    w = ItemWriter(b"k" * 32, ALLOWED[INTERNAL_TO_PUBLIC])
    with pytest.raises(PackageRejected, match=r"may not"):
        w.frame({"kind": "objection"})
    bad = record(1)
    del bad["row"]["subject_key"]
    with pytest.raises(PackageRejected):
        w.frame(bad)
    with pytest.raises(PackageRejected):
        w.frame({**record(1), "row": {**record(1)["row"], "amount": 1.5}})  # floats are not canonical
    with pytest.raises(TransferError):
        pair.seal([manifest()], seq=1, prev="a" * 64)
    with pytest.raises(TransferError):
        pair.seal([manifest()], seq=2, prev=ZERO_DIGEST)
    with pytest.raises(TransferError):
        pair.seal([manifest()], validity=40 * 86400)


def test_public_node_may_not_send_records(pair: Pair) -> None:
    with pytest.raises(PackageRejected) as err:
        pair.seal([{"kind": "manifest", "policy": None, "content": None, "note": ""}, record(1)], from_public=True)
    assert err.value.reason == "kind-not-allowed"


def test_seal_streams_into_file_objects(pair: Pair, tmp_path: object) -> None:
    out, spool = io.BytesIO(), io.BytesIO()
    sealed = seal(
        iter([manifest(), record(1)]), sender_node=pair.internal_id, sender_role="internal", signer=pair.internal,
        recipient=Recipient(pair.public_id, pair.public.key_id, pair.public.public.enc), seq=1, prev=ZERO_DIGEST,
        created=NOW, out=out, spool=spool,
    )  # fmt: skip
    assert out.getvalue()[:19] == b"credgap.package/v1\n"
    assert sealed.header.counts == {"manifest": 1, "record": 1}
    # the spool holds only ciphertext: no plaintext byte of the record appears in it
    assert "昆明示例".encode() not in spool.getvalue() and b"penalty" not in spool.getvalue()


def test_seq_is_at_most_the_twelve_digits_of_a_file_name(pair: Pair) -> None:
    """Issue 13 case 6: the header's seq limit is the width of the seq in the package file name."""
    from transfer.header import Header
    from transfer.limits import MAX_SEQ
    from transfer.medium import package_name

    assert MAX_SEQ == 999_999_999_999
    assert package_name(MAX_SEQ, "f" * 64).startswith(f"p{MAX_SEQ}-")
    assert package_name(1, "f" * 64).startswith("p000000000001-")
    _, top = pair.seal([manifest(), record(1)], seq=MAX_SEQ, prev="a" * 64)
    assert top.header.seq == MAX_SEQ
    doc = top.header.document()
    doc["seq"] = MAX_SEQ + 1
    with pytest.raises(PackageRejected) as err:
        Header.from_document(doc)
    assert err.value.reason == "bad-header" and "999999999999" in str(err.value)
    with pytest.raises(PackageRejected):
        pair.seal([manifest(), record(1)], seq=MAX_SEQ + 1, prev="a" * 64)  # the writer refuses it too
