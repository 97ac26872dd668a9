"""The standard constructions of suite 1, composed as docs/FORMAT.md §6 specifies: the age-style X25519
recipient stanza, HKDF key derivation, and the STREAM construction over ChaCha20-Poly1305."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keys import SecretKeys
from keys.errors import KeyStoreError
from transfer.errors import PackageRejected
from transfer.limits import CHUNK, TAG_LEN

Random = Callable[[int], bytes]

_WRAP_INFO = b"credgap/v1 X25519 file-key wrap"
_PAYLOAD_INFO = b"credgap/v1 payload"
_MAC_INFO = b"credgap/v1 content-mac"
_ZERO_NONCE = bytes(12)
FILE_KEY_LEN = 32
NONCE_LEN = 16


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def wrap_file_key(file_key: bytes, recipient_enc_pub: bytes, rng: Random) -> tuple[bytes, bytes]:
    """Seal the file key to the recipient's X25519 key: returns (share, body) — FORMAT.md §6.1."""
    eph = X25519PrivateKey.from_private_bytes(rng(32))
    share = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient_enc_pub))
    if shared == bytes(32):
        raise PackageRejected("recipient key is a low-order point", reason="bad-stanza")
    wrap_key = hkdf(shared, share + recipient_enc_pub, _WRAP_INFO)
    return share, ChaCha20Poly1305(wrap_key).encrypt(_ZERO_NONCE, file_key, b"")


def unwrap_file_key(share: bytes, body: bytes, secret: SecretKeys) -> bytes:
    """Open the stanza with our X25519 secret; every failure is the one uninformative ``bad-stanza``."""
    try:
        shared = secret.x25519(share)
        wrap_key = hkdf(shared, share + secret.public.enc, _WRAP_INFO)
        file_key = ChaCha20Poly1305(wrap_key).decrypt(_ZERO_NONCE, body, b"")
    except (InvalidTag, ValueError, KeyStoreError) as exc:
        raise PackageRejected("the recipient stanza does not open with our key", reason="bad-stanza") from exc
    if len(file_key) != FILE_KEY_LEN:
        raise PackageRejected("the recipient stanza holds a file key of the wrong length", reason="bad-stanza")
    return file_key


def payload_key(file_key: bytes, nonce: bytes, header_hash: bytes) -> bytes:
    return hkdf(file_key, nonce, _PAYLOAD_INFO + header_hash)


def mac_key(file_key: bytes, nonce: bytes) -> bytes:
    return hkdf(file_key, nonce, _MAC_INFO)


def new_mac(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class StreamEncryptor:
    """STREAM encryption: feed plaintext in any pieces, get sealed 64 KiB chunks; ``finish`` seals the last."""

    def __init__(self, key: bytes) -> None:
        self._aead = ChaCha20Poly1305(key)
        self._buf = bytearray()
        self._counter = 0

    def update(self, data: bytes) -> Iterator[bytes]:
        self._buf += data
        # keep at least one byte back: only ``finish`` knows which chunk is the last
        while len(self._buf) > CHUNK:
            piece = bytes(self._buf[:CHUNK])
            del self._buf[:CHUNK]
            yield self._aead.encrypt(_nonce(self._counter, False), piece, b"")
            self._counter += 1

    def finish(self) -> bytes:
        out = self._aead.encrypt(_nonce(self._counter, True), bytes(self._buf), b"")
        self._buf.clear()
        self._counter += 1
        return out


def decrypt_stream(key: bytes, ciphertext: Iterable[bytes], total: int) -> Iterator[bytes]:
    """Decrypt a STREAM payload of exactly ``total`` ciphertext bytes, given in pieces of any size.

    Raises ``bad-ciphertext`` on any chunk that fails, ``truncated``/``extended`` on a length other
    than ``total`` (the caller checked the file size already; this re-checks what it actually reads).
    """
    aead = ChaCha20Poly1305(key)
    full = CHUNK + TAG_LEN
    buf = bytearray()
    seen = 0
    counter = 0
    for piece in ciphertext:
        seen += len(piece)
        if seen > total:
            raise PackageRejected(f"payload longer than the {total} bytes the header declares", reason="extended")
        buf += piece
        while len(buf) >= full and seen - (len(buf) - full) < total:
            # a full chunk that is not the final bytes of the payload: not the last chunk
            block = bytes(buf[:full])
            del buf[:full]
            yield _open(aead, counter, False, block)
            counter += 1
    if seen < total:
        raise PackageRejected(f"payload ends after {seen} of {total} bytes", reason="truncated")
    if len(buf) < TAG_LEN:
        raise PackageRejected("payload ends inside a chunk tag", reason="truncated")
    yield _open(aead, counter, True, bytes(buf))


def _open(aead: ChaCha20Poly1305, counter: int, last: bool, block: bytes) -> bytes:
    try:
        return aead.decrypt(_nonce(counter, last), block, b"")
    except InvalidTag as exc:
        raise PackageRejected(f"payload chunk {counter} does not authenticate", reason="bad-ciphertext") from exc
