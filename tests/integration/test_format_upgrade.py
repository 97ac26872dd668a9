"""Upgrading across the gap (FORMAT.md §2.1): a writer seals format 2 on a channel only after the reader
advertised it in a card it signed, format-1 packages stay readable, and an advertisement is never
lowered by a replayed older card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from internal_node.export import export
from internal_node.returns import import_returns
from keys.card import IdentityCard
from keys.errors import KeyStoreError
from nodekit import trust_store
from public_node.cli import send_returns
from public_node.importer import import_packages
from tests.integration.public_support import ingest_rows, penalty
from tests.nodes import Clock, Home, trusted_pair
from transfer.limits import MAGICS

pytestmark = pytest.mark.db


def _format(path: Path | None) -> int:
    assert path is not None
    head = path.read_bytes()[:19]
    return next(fmt for fmt, line in MAGICS.items() if head == line)


def _present(card_of: Home, to: Home, clock: Clock, reads: int) -> Any:
    card = card_of.identity.card(reads=reads)
    with to.node.transaction() as s:
        return trust_store.trust_card(s, card, card.key_id, clock(), own_role=to.node.config.role)


def _export(internal: Home, public: Home, tmp_path: Path, n: int) -> int:
    decided = internal.node.clock().date()
    assert ingest_rows(internal.node, "penalty", [penalty(n, decided)], tmp_path / f"dept{n}").accepted
    [pkg] = export(internal.node, internal.identity).sent
    fmt = _format(pkg.medium)  # (the import takes the file off the medium)
    [outcome] = import_packages(public.node, public.identity)
    assert outcome.result == "applied", outcome
    return fmt


def _return(internal: Home, public: Home) -> int:
    [pkg] = send_returns(public.node, public.identity)
    fmt = _format(pkg.medium)
    [outcome] = import_returns(internal.node, internal.identity)
    assert outcome.result == "applied", outcome
    return fmt


def test_format_2_only_after_the_reader_advertised_it(tmp_path: Path, database_factory: Any) -> None:
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    assert _export(internal, public, tmp_path, 1) == 1, "no advertisement yet: format 1"
    assert _return(internal, public) == 1

    # the public node's operator carries its re-signed card (reads 2) to the internal node
    _present(public, internal, clock, reads=2)
    with internal.node.sessions() as s:
        assert trust_store.peer_reads(s, public.id) == 2
    assert _export(internal, public, tmp_path, 2) == 2, "the public node advertised format 2"
    assert _return(internal, public) == 1, "the internal node has not advertised: the return channel stays on 1"

    _present(internal, public, clock, reads=2)
    assert _return(internal, public) == 2
    assert _export(internal, public, tmp_path, 3) == 2


def test_a_replayed_older_card_never_lowers_the_advertisement(tmp_path: Path, database_factory: Any) -> None:
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    _present(public, internal, clock, reads=2)
    with pytest.raises(KeyStoreError) as err:
        _present(public, internal, clock, reads=1)  # the version-1 card of the same key, seen before
    assert err.value.reason == "duplicate-key"
    with internal.node.sessions() as s:
        assert trust_store.peer_reads(s, public.id) == 2
    assert _export(internal, public, tmp_path, 1) == 2


def test_the_advertisement_is_in_the_signed_card(tmp_path: Path, database_factory: Any) -> None:
    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    card: IdentityCard = public.identity.card(reads=2)
    doc = card.document()
    assert (doc["v"], doc["reads"]) == (2, 2)
    assert "reads" not in public.identity.card(reads=1).document(), "a format-1 node's card is the v1 card"


def test_a_key_announcement_advertises_only_to_peers_that_read_version_2(tmp_path: Path, database_factory: Any) -> None:
    from keys.keyfile import TEST_PROFILE
    from nodekit.identity_ops import rotate_identity

    internal, public, _medium, clock = trusted_pair(tmp_path, database_factory)
    first = rotate_identity(internal.node, internal.identity, now=clock(), profile=TEST_PROFILE)
    assert (first.reads, first.document()["v"]) == (1, 1), "the public node never advertised: a v1 statement"
    assert _export(internal, public, tmp_path, 1) == 1

    _present(public, internal, clock, reads=2)
    clock.advance(hours=1)
    second = rotate_identity(internal.node, internal.identity, now=clock(), profile=TEST_PROFILE)
    assert (second.reads, second.document()["v"]) == (2, 2)
    with public.node.sessions() as s:
        assert trust_store.peer_reads(s, internal.id) == 1
    assert _export(internal, public, tmp_path, 2) == 2, "the package carries the statement to the public node"
    with public.node.sessions() as s:
        assert trust_store.peer_reads(s, internal.id) == 2, "advertised by the applied key announcement"
    assert _return(internal, public) == 2
