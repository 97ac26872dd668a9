"""Test fixtures for real node homes: an internal and a public node with identities that trust each
other, a shared transfer folder, and a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from keys.identity_store import Identity
from keys.keyfile import TEST_PROFILE
from nodekit import trust_store
from nodekit.identity_ops import init_identity
from nodekit.runtime import Node, NodeSpec, init_home


class Clock:
    """A settable clock: ``clock()`` returns the current fixed time; ``advance`` moves it."""

    def __init__(self, start: datetime = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class Home:
    node: Node
    identity: Identity

    @property
    def id(self) -> str:
        return self.identity.node_id


def make_home(
    root: Path,
    spec: NodeSpec,
    name: str,
    medium: Path,
    clock: Clock,
    database_url: str | None = None,
    *,
    validity: timedelta | None = None,
) -> Home:
    """A node home with its identity (``validity``: how long its first key is valid; the default's otherwise)."""
    node = init_home(root / name, spec, name=name, medium=str(medium), database_url=database_url, clock=clock)
    extra = {} if validity is None else {"validity": validity}
    identity = init_identity(node, name=name, passphrase=None, now=clock(), profile=TEST_PROFILE, **extra)
    return Home(node, identity)


def trust_each_other(a: Home, b: Home, clock: Clock) -> None:
    for me, peer in ((a, b), (b, a)):
        card = peer.identity.card()
        with me.node.transaction() as s:
            trust_store.trust_card(s, card, card.key_id, clock(), own_role=me.node.config.role)


def trusted_pair(
    tmp_path: Path, database_factory: Callable[[str], str] | None = None, clock: Clock | None = None
) -> tuple[Home, Home, Path, Clock]:
    """An internal node ``int`` and a public node ``pub`` under ``tmp_path``, sharing the transfer
    folder ``tmp_path/medium``, each trusting the other's card: (internal, public, medium, clock)."""
    from internal_node import SPEC as INTERNAL
    from public_node import SPEC as PUBLIC

    clock = clock or Clock()
    medium = tmp_path / "medium"
    medium.mkdir()
    urls = (database_factory("int"), database_factory("pub")) if database_factory is not None else (None, None)
    a = make_home(tmp_path, INTERNAL, "int", medium, clock, urls[0])
    b = make_home(tmp_path, PUBLIC, "pub", medium, clock, urls[1])
    trust_each_other(a, b, clock)
    return a, b, medium, clock
