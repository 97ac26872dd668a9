"""Issue 13, cases 28-30: checks of the verify path that the code made right but no test held.

Each test here was run against a deliberately broken variant of the code (a mutant) and failed;
docs/SECURITY.md, "Strict parsing (case 12) and checks pinned by tests", names the variants.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from keys import Purpose, canonical
from tests.unit.transfer.conftest import NOW, Pair, manifest, record
from transfer.channel import ChannelState, Verdict, check
from transfer.crypto import StreamEncryptor, decrypt_stream
from transfer.errors import PackageRejected
from transfer.header import Header, parse_prefix, signed_prefix
from transfer.limits import CHUNK, MAX_NOT_AFTER_SPAN, TAG_LEN
from transfer.opener import PackageOpener

DAY = 86400


def _resigned(pair: Pair, data: bytes, **fields: int) -> bytes:
    """``data`` with header fields changed and the header signed again by the sender's real key."""
    raw = parse_prefix(data)
    signed = signed_prefix(canonical.encode({**raw.document, **fields}))
    return signed + pair.internal.sign(Purpose.PACKAGE_HEADER, signed) + data[raw.prefix_len :]


def _header_reason(pair: Pair, data: bytes) -> str | None:
    try:
        PackageOpener([data], pair.public_ctx(), file_size=len(data)).header()
    except PackageRejected as exc:
        return exc.reason
    return None


# --- case 28: not_after is checked when a header is opened, not only when it is sealed ----------


def test_not_after_more_than_31_days_after_created_is_refused_on_open(pair: Pair) -> None:
    data, sealed = pair.seal([manifest(), record(1)])
    created = sealed.header.created
    assert _header_reason(pair, _resigned(pair, data, not_after=created + MAX_NOT_AFTER_SPAN)) is None
    assert _header_reason(pair, _resigned(pair, data, not_after=created + MAX_NOT_AFTER_SPAN + 1)) == "bad-header"
    assert MAX_NOT_AFTER_SPAN == 31 * DAY


def test_not_after_not_after_created_is_refused_on_open(pair: Pair) -> None:
    data, sealed = pair.seal([manifest(), record(1)])
    created = sealed.header.created
    assert _header_reason(pair, _resigned(pair, data, not_after=created + 1)) is None
    assert _header_reason(pair, _resigned(pair, data, not_after=created)) == "bad-header"
    assert _header_reason(pair, _resigned(pair, data, not_after=created - 1)) == "bad-header"


# --- case 29: an extended file is refused by header(), before any payload byte is read -----------


def test_an_extended_file_is_refused_by_header_before_the_payload_is_read(pair: Pair) -> None:
    data, _ = pair.seal([manifest(), record(1)])
    extended = data + b"\x00"
    prefix_len = parse_prefix(data).prefix_len
    piece = 64
    consumed = 0

    def chunks() -> Iterator[bytes]:
        nonlocal consumed
        for i in range(0, len(extended), piece):
            consumed = i + piece
            yield extended[i : i + piece]

    opener = PackageOpener(chunks(), pair.public_ctx(), file_size=len(extended))
    with pytest.raises(PackageRejected) as err:
        opener.header()
    assert err.value.reason == "extended"
    assert consumed < prefix_len + piece, "only the prefix was read"


# --- case 30: the STREAM nonce layout and the last-chunk flag, without the vectors ---------------


def _stream(key: bytes, plain: bytes) -> list[bytes]:
    enc = StreamEncryptor(key)
    return [*enc.update(plain), enc.finish()]


def test_the_stream_nonce_is_an_11_byte_counter_and_a_last_chunk_flag() -> None:
    key = bytes(range(32))
    plain = os.urandom(2 * CHUNK + 10)
    chunks = _stream(key, plain)
    assert [len(c) for c in chunks] == [CHUNK + TAG_LEN, CHUNK + TAG_LEN, 10 + TAG_LEN]
    aead = ChaCha20Poly1305(key)
    opened = [
        aead.decrypt(i.to_bytes(11, "big") + (b"\x01" if i == len(chunks) - 1 else b"\x00"), c, b"")
        for i, c in enumerate(chunks)
    ]
    assert b"".join(opened) == plain
    assert b"".join(decrypt_stream(key, chunks, sum(map(len, chunks)))) == plain


def test_a_ciphertext_cut_at_a_chunk_boundary_is_bad_ciphertext() -> None:
    key = bytes(range(32))
    chunks = _stream(key, os.urandom(2 * CHUNK + 10))
    for keep in (1, 2):  # the cut ends on a whole chunk that was sealed as "not the last"
        cut = chunks[:keep]
        with pytest.raises(PackageRejected) as err:
            list(decrypt_stream(key, cut, sum(map(len, cut))))
        assert err.value.reason == "bad-ciphertext"


def test_chunks_out_of_order_are_bad_ciphertext() -> None:
    key = bytes(range(32))
    first, second, last = _stream(key, os.urandom(2 * CHUNK + 10))
    with pytest.raises(PackageRejected) as err:
        list(decrypt_stream(key, [second, first, last], 2 * len(first) + len(last)))
    assert err.value.reason == "bad-ciphertext"


def test_a_single_short_chunk_is_sealed_as_the_last() -> None:
    key = bytes(range(32))
    [only] = _stream(key, b"x")
    assert ChaCha20Poly1305(key).decrypt(bytes(11) + b"\x01", only, b"") == b"x"


# --- case 30: the expiry rule with a known higher sequence ---------------------------------------


def _expired_header(pair: Pair, seq: int) -> Header:
    items = [manifest(), record(seq)]
    return pair.seal(items, seq=seq, prev="1" * 64 if seq > 1 else "0" * 64, created=NOW - 10 * DAY, validity=DAY)[
        1
    ].header


def _verdict(h: Header, state: ChannelState, *, now: int = NOW) -> Verdict | str:
    try:
        return check(h, "5" * 64, state, now=now, skew=600, pending_quota=10)
    except PackageRejected as exc:
        return exc.reason


def test_an_expired_package_is_refused_only_while_no_higher_sequence_is_known(pair: Pair) -> None:
    h = _expired_header(pair, 3)
    gap = pair.channel(last_seq=1, last_digest="1" * 64, applied={1: "1" * 64})
    # only applied or parked packages are "known" (issue 13 case 7): a header merely seen is not
    assert _verdict(h, gap) == "expired"
    assert _verdict(
        h, pair.channel(last_seq=1, last_digest="1" * 64, applied={1: "1" * 64}, pending={2: "2" * 64})
    ) == ("expired"), "a parked lower sequence is not a higher one"
    assert _verdict(h, pair.channel(last_seq=1, last_digest="1" * 64, pending={3: "6" * 64})) == "equivocation"
    assert _verdict(h, pair.channel(last_seq=1, last_digest="1" * 64, pending={4: "6" * 64})) is Verdict.GAP


def test_expiry_starts_after_not_after(pair: Pair) -> None:
    h = _expired_header(pair, 1)
    assert _verdict(h, pair.channel(), now=h.not_after) is Verdict.ACCEPT
    assert _verdict(h, pair.channel(), now=h.not_after + 1) == "expired"
