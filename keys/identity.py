"""Public key material, key ids (fingerprints), and signature verification with domain separation."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keys.contexts import Purpose, signed_message
from keys.errors import N_, EncodingError, KeyStoreError, SignatureError
from keys.strict import KEY_ID, matches

Role = Literal["internal", "public"]
ROLES: tuple[Role, ...] = ("internal", "public")
KEY_ID_BYTES = 16  # 128 bits of SHA-256
KEY_ID_HEX = 2 * KEY_ID_BYTES
_KEY_ID_DOMAIN = b"credgap/v1 key-id\x00"
_FINGERPRINT_SEPARATORS = re.compile(r"[\s:-]", re.ASCII)  # what people type or paste between groups


def key_id_of(sign_pub: bytes, enc_pub: bytes) -> str:
    """The key id: the first 128 bits of SHA-256 over a domain string and both raw public keys, in hex."""
    if len(sign_pub) != 32 or len(enc_pub) != 32:
        raise EncodingError(N_("public keys must be 32 bytes each"))
    return hashlib.sha256(_KEY_ID_DOMAIN + sign_pub + enc_pub).digest()[:KEY_ID_BYTES].hex()


def format_fingerprint(key_id: str) -> str:
    """A key id for humans: groups of four hex digits (``1a2b 3c4d …``)."""
    check_key_id(key_id)
    return " ".join(key_id[i : i + 4] for i in range(0, len(key_id), 4))


def parse_fingerprint(text: str) -> str:
    """Normalise a fingerprint typed by a human (spaces, colons, dashes, case) to the full key id.

    Never accepts a prefix: the whole id must be given.
    """
    cleaned = _FINGERPRINT_SEPARATORS.sub("", text).lower()
    if not matches(cleaned, KEY_ID):
        raise EncodingError(
            N_("a fingerprint is {need} hex digits (spaces allowed); got {got} characters"),
            params={"need": KEY_ID_HEX, "got": len(cleaned)},
        )
    return cleaned


def check_key_id(key_id: str) -> str:
    if not matches(key_id, KEY_ID):
        raise EncodingError(N_("a key id is {key_id_hex} lowercase hex digits"), params={"key_id_hex": KEY_ID_HEX})
    return key_id


@dataclass(frozen=True)
class PublicKeys:
    """A node's public keys: Ed25519 for signing, X25519 for receiving encrypted packages."""

    sign: bytes
    enc: bytes

    def __post_init__(self) -> None:
        if len(self.sign) != 32 or len(self.enc) != 32:
            raise EncodingError(N_("public keys must be 32 bytes each"))

    @property
    def key_id(self) -> str:
        return key_id_of(self.sign, self.enc)

    def verify(self, purpose: Purpose, data: bytes, signature: bytes) -> None:
        """Raise :class:`SignatureError` unless ``signature`` is this key's signature of ``data`` for ``purpose``."""
        verify_signature(self.sign, purpose, data, signature)

    def x25519_public(self) -> X25519PublicKey:
        return X25519PublicKey.from_public_bytes(self.enc)


def verify_signature(sign_pub: bytes, purpose: Purpose, data: bytes, signature: bytes) -> None:
    if len(signature) != 64:
        raise SignatureError(
            N_("an Ed25519 signature is 64 bytes, got {n_signature}"), params={"n_signature": len(signature)}
        )
    try:
        Ed25519PublicKey.from_public_bytes(sign_pub).verify(signature, signed_message(purpose, data))
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError(N_("{purpose} signature does not verify"), params={"purpose": purpose.value}) from exc


class SecretKeys:
    """A node's private keys in memory. Never printed: ``repr`` shows only the key id."""

    __slots__ = ("_enc", "_sign", "public")

    def __init__(self, sign_seed: bytes, enc_private: bytes) -> None:
        self._sign = Ed25519PrivateKey.from_private_bytes(sign_seed)
        self._enc = X25519PrivateKey.from_private_bytes(enc_private)
        self.public = PublicKeys(
            sign=self._sign.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
            enc=self._enc.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        )

    @classmethod
    def generate(cls) -> SecretKeys:
        """Fresh key pairs from the OS random source."""
        import os

        return cls(os.urandom(32), os.urandom(32))

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, purpose: Purpose, data: bytes) -> bytes:
        return self._sign.sign(signed_message(purpose, data))

    def x25519(self, peer_public: bytes) -> bytes:
        """The X25519 shared secret with ``peer_public`` (rejecting the all-zero output, as age does)."""
        shared = self._enc.exchange(X25519PublicKey.from_public_bytes(peer_public))
        if shared == bytes(32):
            raise KeyStoreError(N_("X25519 produced the all-zero shared secret (low-order point)"), reason="bad-key")
        return shared

    def private_bytes(self) -> tuple[bytes, bytes]:
        """The raw private keys, for the key-file writer only."""
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        return (
            self._sign.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
            self._enc.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
        )

    def __repr__(self) -> str:
        return f"SecretKeys(key_id={self.key_id})"
