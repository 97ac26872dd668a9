"""Sealing's pass 1 runs in two threads (framing here, MAC/zstd/spool in a worker): the package is the
one a single thread makes, batches of prepared items frame as single ones do, and a failure on
either side stops both and surfaces in the caller."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from keys import canonical
from tests.unit.transfer.conftest import NOW, Pair, manifest, open_all, record
from transfer.errors import PackageRejected
from transfer.header import ZERO_DIGEST
from transfer.items import ALLOWED, INTERNAL_TO_PUBLIC, MAX_ITEM, ItemWriter, PreparedBatch, PreparedItem
from transfer.seal import Recipient, seal


def fixed_rng() -> Any:
    counter = iter(range(1, 1_000_000))
    return lambda n: bytes([next(counter) % 251]) * n


def test_same_package_whatever_the_form_of_the_prepared_items(pair: Pair) -> None:
    items = [record(i) for i in range(3000)]  # several 1 MiB batches through the worker
    bodies = [canonical.encode(i) for i in items]
    plain, _ = pair.seal([manifest(), *items], rng=fixed_rng())
    single, _ = pair.seal([manifest(), *(PreparedItem("record", b) for b in bodies)], rng=fixed_rng())
    batched, sealed = pair.seal(
        [manifest(), PreparedBatch("record", bodies[:1000]), PreparedBatch("record", []),
         PreparedBatch("record", bodies[1000:])],
        rng=fixed_rng(),
    )  # fmt: skip
    assert plain == single == batched
    assert sealed.header.counts == {"manifest": 1, "checkpoint": 1, "record": 3000}
    assert open_all(batched, pair.public_ctx()) == [manifest(), *items]


def test_a_batch_is_held_to_the_single_item_rules() -> None:
    writer = ItemWriter(b"k" * 32, ALLOWED[INTERNAL_TO_PUBLIC])
    with pytest.raises(PackageRejected, match="exceeds"):
        writer.frame(PreparedBatch("record", [b"{}", b"x" * (MAX_ITEM + 1)]))
    with pytest.raises(PackageRejected) as err:
        writer.frame(PreparedBatch("objection", [b"{}"]))
    assert err.value.reason == "kind-not-allowed"
    assert writer.frame(PreparedBatch("record", [])) == b"" and writer.counts == {}


def live_workers() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "seal-spool")


def test_an_error_in_the_items_stops_the_worker(pair: Pair) -> None:
    def items() -> Iterator[Any]:
        yield manifest()
        for i in range(5000):
            yield record(i)
        raise RuntimeError("the source failed")

    with pytest.raises(RuntimeError, match="the source failed"):
        pair.seal(items())
    assert live_workers() == 0


class FailingSpool(io.BytesIO):
    def write(self, data: Any) -> int:
        raise OSError(28, "No space left on device")


def test_an_error_in_the_worker_surfaces_in_the_caller(pair: Pair) -> None:
    produced = 0

    def items() -> Iterator[Any]:
        nonlocal produced
        yield manifest()
        for i in range(100_000):
            produced += 1
            yield record(i)

    with pytest.raises(OSError, match="No space left"):
        seal(
            items(), sender_node=pair.internal_id, sender_role="internal", signer=pair.internal,
            recipient=Recipient(pair.public_id, pair.public.key_id, pair.public.public.enc),
            seq=1, prev=ZERO_DIGEST, created=NOW - 60, out=io.BytesIO(), spool=FailingSpool(),
        )  # fmt: skip
    assert produced < 100_000, "the caller stopped reading items once the worker had failed"
    assert live_workers() == 0
