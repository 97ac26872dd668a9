"""Issue 13 case 9, in the reader: a public node publishes exactly one internal node. A trust store that
holds keys of two internal nodes (edited by hand: ``keys trust`` refuses the second) lets only the one
already published through; with none published yet, neither."""

from __future__ import annotations

from dataclasses import replace

import pytest

from keys import KeyStatus, TrustState
from tests.unit.transfer.conftest import Pair, fixed_keys, manifest, record, trusted
from transfer.errors import PackageRejected
from transfer.opener import OpenContext, PackageOpener

BUREAU = fixed_keys(5)


def header_of(data: bytes, ctx: OpenContext) -> None:
    PackageOpener([data], ctx, file_size=len(data)).header()


def two_internal_nodes(pair: Pair, bureau_status: KeyStatus = KeyStatus.TRUSTED) -> TrustState:
    return TrustState(
        [trusted(pair.internal_id, "internal", pair.internal), trusted("int-bureau", "internal", BUREAU, bureau_status)]
    )


def test_a_second_internal_node_cannot_publish(pair: Pair) -> None:
    bureau = Pair(internal=BUREAU, internal_id="int-bureau")
    data, _ = bureau.seal([manifest(), record(1)])
    ctx = replace(pair.public_ctx(trust=two_internal_nodes(pair)), publisher=pair.internal_id)
    with pytest.raises(PackageRejected) as err:
        header_of(data, ctx)
    assert err.value.reason == "wrong-sender"
    assert "exactly one internal node" in str(err.value) and "int-bureau" in str(err.value)
    # the internal node this public node already publishes goes on
    header_of(pair.seal([manifest(), record(2)])[0], ctx)


def test_with_two_internal_nodes_and_none_published_neither_publishes(pair: Pair) -> None:
    ctx = pair.public_ctx(trust=two_internal_nodes(pair))
    with pytest.raises(PackageRejected) as err:
        header_of(pair.seal([manifest(), record(1)])[0], ctx)
    assert err.value.reason == "wrong-sender"


def test_the_keys_of_a_distrusted_internal_node_do_not_count(pair: Pair) -> None:
    # the old internal node distrusted for good (its keys lost): the new one publishes
    ctx = pair.public_ctx(trust=two_internal_nodes(pair, KeyStatus.DISTRUSTED))
    header_of(pair.seal([manifest(), record(1)])[0], ctx)


def test_an_internal_node_reads_from_several_public_nodes(pair: Pair) -> None:
    other = fixed_keys(6)
    trust = TrustState([trusted(pair.public_id, "public", pair.public), trusted("pub-c", "public", other)])
    ctx = replace(pair.internal_ctx(), trust=trust)
    header_of(pair.seal([manifest(), {"kind": "heartbeat"}], from_public=True)[0], ctx)
