"""Issue 13, case 27: a live entry that the archive bundle also holds, edited together with its recorded
hash and with the chain after it rewritten, is named as differing from its archived copy.

The edit leaves nothing inconsistent inside the live rows (every recorded hash and ``prev`` agrees),
so only the comparison with the bundle's copy of that entry names it; without that comparison the
verifier would stop later, at a checkpoint root, without saying which entry was changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from nodekit.events import row_to_entry
from nodekit.models import TransferLogRow
from tests.integration.test_audit import two_nodes
from tests.integration.test_audit_archive import archive, exchange, verify

pytestmark = pytest.mark.db


@pytest.fixture
def nodes(tmp_path: Path, database_factory: Any) -> Iterator[Any]:
    yield from two_nodes(tmp_path, database_factory)


def test_an_archived_live_entry_rewritten_with_its_chain_differs_from_its_archived_copy(
    nodes: Any, tmp_path: Path
) -> None:
    a, *_ = nodes
    exchange(nodes, 1)
    bundle = tmp_path / "int-archive"
    first_live = archive(a, bundle)
    assert verify(a, "--base", str(bundle)).code == 0

    # the first live row is the bundle's last entry too: edit it, then recompute its recorded hash and
    # the prev and recorded hash of every row after it, as someone with write access to the database can
    with a.node.transaction() as s:
        rows = list(
            s.scalars(select(TransferLogRow).where(TransferLogRow.index >= first_live).order_by(TransferLogRow.index))
        )
        rows[0].actor = "operator:mallory"
        prev = None
        for row in rows:
            if prev is not None:
                row.prev = prev
            row.leaf_hash = row_to_entry(row).leaf_hash
            prev = row.leaf_hash
            s.flush()

    r = verify(a, "--base", str(bundle))
    assert r.code == 4, r.out + r.err
    doc = r.json()
    assert (doc["index"], doc["reason"]) == (first_live, "edited")
    assert "differs from its archived copy" in doc["message"]
