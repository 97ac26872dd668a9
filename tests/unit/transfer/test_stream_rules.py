"""The STREAM payload and the recipient stanza at their edges: lengths exactly on a chunk boundary,
pieces of any size, a payload longer or shorter than declared, a stanza that does not open.

Written after ``make mutate`` (docs/SECURITY.md, "Mutation testing"): none of these branches was run
by the unit tests, only indirectly (or not at all) through whole packages.
"""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keys import SecretKeys
from transfer.crypto import (
    _WRAP_INFO,
    StreamEncryptor,
    decrypt_stream,
    hkdf,
    unwrap_file_key,
    wrap_file_key,
)
from transfer.errors import PackageRejected
from transfer.limits import CHUNK, TAG_LEN, payload_size
from transfer.opener import _ChunkReader

KEY = bytes(range(32))


def _seal(plain: bytes) -> list[bytes]:
    enc = StreamEncryptor(KEY)
    return [*enc.update(plain), enc.finish()]


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("length", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1])
def test_the_payload_length_is_exact_and_a_full_last_chunk_stays_one_chunk(length: int) -> None:
    plain = os.urandom(length)
    chunks = _seal(plain)
    assert sum(map(len, chunks)) == payload_size(length)
    assert len(chunks) == max(1, -(-length // CHUNK)), "a payload of exactly n chunks is n chunks"
    cipher = b"".join(chunks)
    for piece in (1 + TAG_LEN, 4096, CHUNK + TAG_LEN, len(cipher) or 1):
        assert b"".join(decrypt_stream(KEY, _pieces(cipher, piece), len(cipher))) == plain


def test_a_payload_longer_than_declared_is_extended_as_soon_as_it_is_read() -> None:
    cipher = b"".join(_seal(os.urandom(CHUNK + 10)))
    out = decrypt_stream(KEY, [cipher + b"\x00"], len(cipher))
    with pytest.raises(PackageRejected) as err:
        next(out)
    assert err.value.reason == "extended"
    assert str(err.value) == f"payload longer than the {len(cipher)} bytes the header declares"


def test_a_payload_shorter_than_declared_is_truncated() -> None:
    cipher = b"".join(_seal(os.urandom(CHUNK + 10)))
    with pytest.raises(PackageRejected) as err:
        list(decrypt_stream(KEY, [cipher[:-1]], len(cipher)))
    assert err.value.reason == "truncated"
    assert str(err.value) == f"payload ends after {len(cipher) - 1} of {len(cipher)} bytes"


@pytest.mark.parametrize("tail", [1, TAG_LEN - 1])
def test_a_last_chunk_shorter_than_a_tag_is_truncated(tail: int) -> None:
    full = _seal(os.urandom(CHUNK + 1))[0]
    cipher = full + bytes(tail)
    with pytest.raises(PackageRejected) as err:
        list(decrypt_stream(KEY, [cipher], len(cipher)))
    assert (err.value.reason, str(err.value)) == ("truncated", "payload ends inside a chunk tag")


def test_a_last_chunk_of_exactly_a_tag_is_the_empty_last_chunk() -> None:
    [only] = _seal(b"")
    assert len(only) == TAG_LEN
    assert list(decrypt_stream(KEY, [only], TAG_LEN)) == [b""]


def test_a_chunk_that_does_not_authenticate_names_its_number() -> None:
    chunks = _seal(os.urandom(2 * CHUNK + 5))
    bad = bytearray(chunks[1])
    bad[0] ^= 1
    cipher = chunks[0] + bytes(bad) + chunks[2]
    with pytest.raises(PackageRejected) as err:
        list(decrypt_stream(KEY, [cipher], len(cipher)))
    assert (err.value.reason, str(err.value)) == ("bad-ciphertext", "payload chunk 1 does not authenticate")


def test_every_chunk_is_sealed_under_its_own_counter_with_no_associated_data() -> None:
    chunks = _seal(os.urandom(2 * CHUNK))
    aead = ChaCha20Poly1305(KEY)
    for i, c in enumerate(chunks):
        aead.decrypt(i.to_bytes(11, "big") + bytes([i == len(chunks) - 1]), c, b"")


# --- the recipient stanza -------------------------------------------------------------------------


def test_a_stanza_opens_only_with_the_recipients_key() -> None:
    me, other = SecretKeys(bytes([7]) * 32, bytes([8]) * 32), SecretKeys(bytes([9]) * 32, bytes([10]) * 32)
    file_key = os.urandom(32)
    share, body = wrap_file_key(file_key, me.public.enc, os.urandom)
    assert unwrap_file_key(share, body, me) == file_key
    with pytest.raises(PackageRejected) as err:
        unwrap_file_key(share, body, other)
    assert (err.value.reason, str(err.value)) == ("bad-stanza", "the recipient stanza does not open with our key")


def test_a_stanza_holding_a_file_key_of_another_length_is_refused() -> None:
    me = SecretKeys(bytes([7]) * 32, bytes([8]) * 32)
    eph = X25519PrivateKey.from_private_bytes(bytes([5]) * 32)
    share = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = me.x25519(share)
    wrap_key = hkdf(shared, share + me.public.enc, _WRAP_INFO)
    for length in (16, 31, 33):
        body = ChaCha20Poly1305(wrap_key).encrypt(bytes(12), os.urandom(length), b"")
        with pytest.raises(PackageRejected) as err:
            unwrap_file_key(share, body, me)
        assert (err.value.reason, str(err.value)) == (
            "bad-stanza",
            "the recipient stanza holds a file key of the wrong length",
        )


# --- the file-like reader zstandard pulls the decrypted payload through -----------------------------


def test_the_chunk_reader_returns_exactly_what_is_asked_across_chunks() -> None:
    reader = _ChunkReader(iter([b"abc", b"defgh", b"ij"]))
    assert reader.read(4) == b"abcd", "a read spans chunks"
    assert reader.read(0) == b""
    assert reader.read(3) == b"efg"
    assert reader.remaining(), "one byte of ``h`` and the last chunk are left"
    assert reader.read(-1) == b"ij", "remaining() consumed one byte, which is not given back"
    assert reader.read(5) == b"" and not reader.remaining()
