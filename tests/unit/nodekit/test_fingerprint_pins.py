"""Issue 13, case 24: enrolling a card takes its full fingerprint, compared in every digit.

``"0" * 32`` differs from a real key id in its first digit, so a comparison of a prefix (or of the
first 16 digits) would refuse it too; these fingerprints agree with the card everywhere but in one
digit, or in digits 1-16 only, and each must be refused as ``fingerprint-mismatch``.
"""

from __future__ import annotations

import pytest

from keys.errors import TrustError
from keys.identity import format_fingerprint
from keys.identity_store import Identity
from nodekit import trust_store
from nodekit.runtime import Node
from tests.unit.nodekit.test_trust_store import NOW, node, peer, refused, trust

__all__ = ["node", "peer"]  # fixtures shared with the trust-store tests

pytestmark = pytest.mark.db


def _other(digit: str) -> str:
    return "1" if digit == "0" else "0"


def _mismatch(node: Node, peer: Identity, typed: str) -> None:
    err = refused(
        node, lambda s: trust_store.trust_card(s, peer.card(), typed, NOW), TrustError, "fingerprint-mismatch"
    )
    assert err.exit_code == 4


def test_a_fingerprint_wrong_in_any_one_digit_is_refused(node: Node, peer: Identity) -> None:
    real = peer.current_key_id
    for position in range(32):  # the last one first among equals: a prefix of 31 digits is not enough
        _mismatch(node, peer, real[:position] + _other(real[position]) + real[position + 1 :])


def test_a_fingerprint_right_in_digits_1_to_16_only_is_refused(node: Node, peer: Identity) -> None:
    real = peer.current_key_id
    _mismatch(node, peer, real[:16] + "".join(_other(d) for d in real[16:]))
    _mismatch(node, peer, format_fingerprint(real[:16] + "".join(_other(d) for d in real[16:])))


def test_the_full_fingerprint_is_accepted(node: Node, peer: Identity) -> None:
    assert trust(node, peer.card(), format_fingerprint(peer.current_key_id)).key_id == peer.current_key_id
