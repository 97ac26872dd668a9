"""Node identities for tests: fast key files (the test-only Argon2id profile), a fixed passphrase, and
homes that trust each other. The package-format, exchange and integration suites use these.

The test profile is refused unless ``CREDGAP_INSECURE_TEST_KDF=1`` is set when a key file is read,
which ``tests/conftest.py`` does for every test.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta
from pathlib import Path

from keys.identity import Role
from keys.identity_store import Identity, create_identity
from keys.keyfile import TEST_PROFILE, Random
from keys.times import DEFAULT_VALIDITY
from keys.trust import TrustedKey
from nodekit import identity_ops, trust_store
from nodekit.runtime import Node

PASSPHRASE = b"correct horse battery staple"


def seeded_random(seed: str) -> Random:
    """A deterministic byte source for fixed test keys (never used outside tests)."""
    counter = 0

    def random(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.sha256(f"{seed}/{counter}".encode()).digest()
            counter += 1
        return out[:n]

    return random


def make_identity(
    keys_dir: Path,
    *,
    role: Role,
    now: datetime,
    name: str = "test-node",
    passphrase: bytes | None = PASSPHRASE,
    validity: timedelta = DEFAULT_VALIDITY,
    random: Random = os.urandom,
) -> Identity:
    """A new identity in ``keys_dir`` (no database), with the fast test profile."""
    return create_identity(
        keys_dir,
        name=name,
        role=role,
        passphrase=passphrase,
        now=now,
        validity=validity,
        profile=TEST_PROFILE,
        random=random,
        allow_insecure_test_kdf=True,
    )


def init_node_identity(
    node: Node,
    *,
    now: datetime,
    passphrase: bytes | None = PASSPHRASE,
    validity: timedelta = DEFAULT_VALIDITY,
    random: Random = os.urandom,
) -> Identity:
    """``keys init`` for an opened node home (key files, node_meta, log entries), with the test profile."""
    return identity_ops.init_identity(
        node,
        name=node.config.name,
        passphrase=passphrase,
        now=now,
        validity=validity,
        profile=TEST_PROFILE,
        random=random,
    )


def load_node_identity(node: Node, passphrase: bytes = PASSPHRASE) -> Identity:
    return identity_ops.load_identity(node, lambda: passphrase)


def enrol(node: Node, peer: Identity, *, now: datetime) -> TrustedKey:
    """Make ``node`` trust ``peer``'s current card, as `keys trust CARD --fingerprint FP` does."""
    with node.transaction() as s:
        return trust_store.trust_card(s, peer.card(), peer.current_key_id, now)


def pair(internal: Node, public: Node, *, now: datetime) -> tuple[Identity, Identity]:
    """Give both homes an identity and make each trust the other; returns (internal, public) identities."""
    a = init_node_identity(internal, now=now)
    b = init_node_identity(public, now=now)
    enrol(internal, b, now=now)
    enrol(public, a, now=now)
    return a, b
