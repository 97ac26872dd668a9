"""The export stream in batches: records and documents leave in publication order, a full export
carries only what is published, and the sealed items are exactly the publication's bytes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from internal_node import export as export_mod
from internal_node.documents import queue_document
from internal_node.export import export
from internal_node.pubmodels import Publication
from tests.integration.test_export import homes, ingest, items_of, penalty  # noqa: F401 - the fixture too

pytestmark = pytest.mark.db


def test_records_and_documents_leave_in_publication_order(homes: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    a, b, clock, tmp = homes
    monkeypatch.setattr(export_mod, "SEAL_BATCH", 3)  # several batches, a document between two of them
    ingest(a, tmp, [penalty(i) for i in (2, 4, 6, 8)])  # one subject (USCC by parity) ...
    export(a.node, a.identity)
    pdf = tmp / "d.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    with a.node.transaction() as s:
        queue_document(s, pdf, title="行政处罚决定书", approved_by="李四", at=clock())
    ingest(a, tmp, [penalty(i) for i in (1, 3, 5)], "more.jsonl")  # ... then another, after the document
    ingest(a, tmp, [penalty(3, content="罚款人民币六万元")], "change.jsonl")  # a new version of a record
    r = export(a.node, a.identity, full=True)
    sent = [i for i in items_of(r.sent[0].archive, b) if i["kind"] in ("record", "document")]
    with a.node.sessions() as s:
        rows = s.execute(
            select(Publication.item).where(Publication.state == "publish").order_by(Publication.pub_seq)
        ).all()
    from keys import canonical

    assert [canonical.encode(i) for i in sent] == [row.item.encode() for row in rows]
    kinds = [i["kind"] for i in sent]
    assert kinds.count("document") == 1 and kinds[0] == "record" and kinds[-1] == "record", "a document in between"
    assert sum(k == "record" for k in kinds) == r.plans[0].count
