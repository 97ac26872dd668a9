"""Issue 13, cases 26 and 29, between two real node homes and a real transfer folder.

Case 26, the staged copy replaced between its verification and its apply: whoever can write the node's staging folder swaps the verified package for another one, validly
signed by the same sender for the same sequence number and of the same size. The opener that applies
the items recomputes the digest of every byte it reads and compares it with the digest taken at
staging: the package is refused as ``digest-mismatch``, nothing of either is applied, and the
channel keeps its state.

Case 29: an extended file (the package and bytes after it) is refused as ``extended`` when its header
is read, so it is never parked as a gap, where its payload would not be read until its turn came.
"""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.node import open_exchange
from exchange.receive import Receiving
from nodekit.models import ChannelPackageRow, ChannelRow, NodeMeta
from tests.forge import checkpoint_item
from tests.nodes import Clock, Home, trusted_pair
from transfer.header import ZERO_DIGEST
from transfer.items import Item
from transfer.medium import channel_dirname, package_name
from transfer.opener import VerifiedHeader
from transfer.seal import Recipient, seal

pytestmark = pytest.mark.db

MANIFEST: Item = {"kind": "manifest", "policy": None, "content": None, "note": ""}


class MetaApplier:
    """Writes each record's key into node_meta, so an apply (or its absence) is visible in the database."""

    def begin(self, session: Session, vh: VerifiedHeader) -> None:
        self.s, self.n = session, 0

    def item(self, item: Item) -> None:
        if item["kind"] == "record":
            self.s.add(NodeMeta(key=f"r:{item['key']}", value=item["row"]["subject_name"], updated_at=START))
            self.s.flush()
            self.n += 1

    def finish(self) -> dict[str, int]:
        return {"records": self.n}


START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _record(key: str, name: str) -> Item:
    return {
        "kind": "record", "op": "upsert", "table": "penalty", "key": key, "version": 1,
        "row": {"subject_key": "a" * 32, "subject_name": name, "subject_category": "legal_person", "uscc": None,
                "doc_no": "1", "publish_until": None, "source_unit": "test"},
    }  # fmt: skip


def _seal(sender: Home, recipient: Home, items: list[Item], created: int, seq: int = 1, seed: int = 0) -> bytes:
    """A package sealed with a seeded random source: its compressed size (which the random MAC key
    changes by a few bytes) is the same on every run."""
    out, spool = io.BytesIO(), io.BytesIO()
    signer = sender.identity.current_secret()
    body = [items[0], checkpoint_item(signer, sender.id, created), *items[1:]]  # the one checkpoint (FORMAT §13.4)
    seal(
        body,
        sender_node=sender.id,
        sender_role="internal",
        signer=signer,
        recipient=Recipient(recipient.id, recipient.identity.current_key_id, recipient.identity.public.enc),
        seq=seq,
        prev=ZERO_DIGEST if seq == 1 else "ab" * 32,
        created=created,
        out=out,
        spool=spool,
        rng=random.Random(seed).randbytes,
    )
    return out.getvalue()


@pytest.fixture
def pair(tmp_path: Path, database_factory: Any) -> Iterator[tuple[Home, Home, Path, Clock]]:
    clock = Clock(START)
    a, b, medium, _ = trusted_pair(tmp_path, database_factory, clock)
    clock.advance(hours=1)  # the packages are created after the keys
    yield a, b, medium, clock
    a.node.close()
    b.node.close()


def _twins(a: Home, b: Home, clock: Clock) -> tuple[bytes, bytes]:
    """Two packages of seq 1, both validly signed by ``a``, of the same size and different content."""
    created = int(clock().timestamp()) - 60
    first = _seal(a, b, [MANIFEST, _record("1" * 32, "企业甲")], created)
    for n in range(1, 200):  # deterministic: the first same-sized variant is always the same one
        second = _seal(a, b, [MANIFEST, _record(f"{n + 2:032x}", "企业乙")], created - 1, seed=n)
        if len(second) == len(first):
            return first, second
    raise AssertionError("no same-sized twin package")


def test_a_staged_package_swapped_before_apply_is_refused_and_changes_nothing(
    pair: tuple[Home, Home, Path, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, medium, clock = pair
    first, second = _twins(a, b, clock)
    assert first != second and len(first) == len(second)
    digest = hashlib.sha256(first).hexdigest()
    folder = medium / channel_dirname(a.id, b.id)
    folder.mkdir()
    (folder / package_name(1, digest)).write_bytes(first)

    swapped: list[Path] = []
    real_apply = Receiving._apply

    def swap_then_apply(self: Receiving, s: Session, vh: VerifiedHeader, staged: Any, applier: Any) -> Any:
        # the header of ``first`` verified and the channel accepted it: now the staged copy changes
        staged.path.write_bytes(second)
        swapped.append(staged.path)
        return real_apply(self, s, vh, staged, applier)

    monkeypatch.setattr(Receiving, "_apply", swap_then_apply)
    eb = open_exchange(b.node, b.identity)
    with b.node.sessions() as s:
        before = [(c.last_seq, c.last_digest) for c in s.scalars(select(ChannelRow))]

    out = eb.receive(MetaApplier)

    assert swapped, "the swap ran between verification and apply"
    assert [(o.result, o.reason) for o in out] == [("rejected", "digest-mismatch")]
    with b.node.sessions() as s:
        assert [k for k in s.scalars(select(NodeMeta.key)) if k.startswith("r:")] == [], "nothing applied"
        after = [(c.last_seq, c.last_digest) for c in s.scalars(select(ChannelRow))]
    assert after == before and all(d == ZERO_DIGEST for _, d in after), "the channel digest is unchanged"


def test_an_extended_package_ahead_of_the_channel_is_refused_not_parked(pair: tuple[Home, Home, Path, Clock]) -> None:
    a, b, medium, clock = pair
    data = _seal(a, b, [MANIFEST, _record("1" * 32, "企业甲")], int(clock().timestamp()) - 60, seq=3) + b"\x00"
    folder = medium / channel_dirname(a.id, b.id)
    folder.mkdir()
    (folder / package_name(3, hashlib.sha256(data).hexdigest())).write_bytes(data)
    eb = open_exchange(b.node, b.identity)

    out = eb.receive(MetaApplier)

    assert [(o.result, o.reason) for o in out] == [("rejected", "extended")]
    with b.node.sessions() as s:
        assert list(s.scalars(select(ChannelPackageRow))) == [], "nothing parked"
    assert not any(eb.pending.root.rglob("*.cgp")), "nothing in the pending folder"
