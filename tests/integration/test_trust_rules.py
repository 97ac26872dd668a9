"""Issue 13 cases 6, 7, 9, 10 and 11 end to end: a stolen or expired internal key, a second internal node,
and clocks that are wrong, against a real internal and public node sharing a real transfer folder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from exchange.engine import SentPackage
from internal_node import SPEC as INTERNAL
from internal_node.export import export
from nodekit import trust_store
from public_node import SPEC as PUBLIC
from public_node.importer import import_packages
from tests.forge import forge, snapshot_marker
from tests.integration.public_support import channel_packages, ingest_rows, penalty, published
from tests.nodes import Clock, Home, make_home, trust_each_other
from transfer.limits import MAX_SEQ

pytestmark = pytest.mark.db


@dataclass
class Net:
    """An internal and a public node, each on its own clock, sharing one transfer folder."""

    tmp: Path
    medium: Path
    internal: Home
    public: Home
    iclock: Clock
    pclock: Clock
    n: int = 0

    def ingest(self, count: int = 1) -> None:
        decided = self.internal.node.today() - timedelta(days=20)
        rows = [penalty(self.n + i, decided) for i in range(1, count + 1)]
        self.n += count
        assert ingest_rows(self.internal.node, "penalty", rows, self.tmp / "department-files").accepted

    def export(self, *, full: bool = False) -> SentPackage:
        [pkg] = export(self.internal.node, self.internal.identity, full=full).sent
        return pkg

    def import_(self) -> list[tuple[int | None, str, str]]:
        return [(o.seq, o.result, o.reason) for o in import_packages(self.public.node, self.public.identity)]

    def public_key(self) -> Any:
        with self.internal.node.sessions() as s:
            return trust_store.load_trust_state(s).current_for(self.public.id)

    def advance(self, **kw: float) -> None:
        self.iclock.advance(**kw)
        self.pclock.advance(**kw)

    def now(self) -> int:
        return int(self.iclock().timestamp())


@pytest.fixture
def net(tmp_path: Path, database_factory: Any) -> Iterator[Net]:
    medium = tmp_path / "medium"
    medium.mkdir()
    iclock, pclock = Clock(), Clock()
    internal = make_home(tmp_path, INTERNAL, "int", medium, iclock, database_factory("int"))
    public = make_home(tmp_path, PUBLIC, "pub", medium, pclock, database_factory("pub"))
    trust_each_other(internal, public, iclock)
    yield Net(tmp_path, medium, internal, public, iclock, pclock)
    internal.node.close()
    public.node.close()


def shown(net: Net) -> set[str]:
    return {key for _, key in published(net.public.node)}


# -- case 6: a snapshot signed with a stolen key cannot rewind the channel for good --------------------


def test_a_forged_snapshot_at_the_end_of_the_sequence_space_is_refused(net: Net) -> None:
    net.ingest(3)
    first = net.export()
    assert net.import_() == [(1, "applied", "")]
    before = shown(net)
    assert len(before) >= 3
    # whoever stole the internal key signs an empty snapshot at the last sequence number there is
    forge(
        net.medium, signer=net.internal.identity.current_secret(), sender=net.internal.id, recipient=net.public.id,
        recipient_key=net.public_key(), seq=MAX_SEQ, prev="f" * 64, created=net.now(),
        items=[snapshot_marker()], package_type="snapshot",
    )  # fmt: skip
    assert net.import_() == [(MAX_SEQ, "rejected", "rebase-too-far")]
    assert shown(net) == before, "the published database is untouched"
    # the channel goes on: the next real package (and a --full) still apply, nothing is "superseded"
    net.ingest(1)
    assert net.export().seq == first.seq + 1
    assert net.import_() == [(2, "applied", "")]
    assert net.export(full=True).seq == 3
    assert net.import_() == [(3, "applied", "")]
    assert len(shown(net)) == len(before) + 1


def test_a_forged_delta_far_ahead_is_not_parked(net: Net) -> None:
    """A delta beyond the bound could only ever be taken up by a rebase beyond it: refused, not parked
    (where it would count as a newer package known for good)."""
    net.ingest(1)
    net.export()
    assert net.import_() == [(1, "applied", "")]
    forge(
        net.medium, signer=net.internal.identity.current_secret(), sender=net.internal.id, recipient=net.public.id,
        recipient_key=net.public_key(), seq=MAX_SEQ, prev="f" * 64, created=net.now(), items=[{"kind": "heartbeat"}],
    )  # fmt: skip
    assert net.import_() == [(MAX_SEQ, "rejected", "rebase-too-far")]
    assert channel_packages(net.public.node, net.internal.id, net.public.id) == [(1, "applied")]


def test_a_snapshot_within_the_bound_but_older_than_the_channel_is_refused(net: Net) -> None:
    net.ingest(1)
    net.export()
    net.advance(hours=1)
    net.ingest(1)
    net.export()
    assert [r for _, r, _ in net.import_()] == ["applied", "applied"]
    before = shown(net)
    forge(
        net.medium, signer=net.internal.identity.current_secret(), sender=net.internal.id, recipient=net.public.id,
        recipient_key=net.public_key(), seq=9, prev="f" * 64, created=net.now() - 1800,
        items=[snapshot_marker()], package_type="snapshot",
    )  # fmt: skip
    assert net.import_() == [(9, "rejected", "clock-regression")]
    assert shown(net) == before
