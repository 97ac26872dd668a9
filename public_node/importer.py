"""Applying verified packages to the published database: the public node's half of the exchange."""

from __future__ import annotations

import base64
import logging
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.orm import Session

from exchange.engine import Outcome
from exchange.node import open_exchange
from keys.identity_store import Identity
from nodekit.runtime import Node
from public_node.documents import store_document, withdraw_document
from public_node.errors import PublicNodeError
from public_node.models import DOCUMENT_TABLE
from public_node.store import ApplyResult, apply_changes, replace_tables, store_decision, store_status
from public_node.views import KINDS
from transfer.errors import PackageRejected
from transfer.items import Item
from transfer.opener import VerifiedHeader

BATCH = 5000
DATA_KINDS = ("record", "document")  # what the progress counts: the package's own data items
log = logging.getLogger("credgap.import")
Filed = Callable[[set[str]], set[str]]
"""``filed(ids)``: which of ``ids`` this platform filed (:func:`public_node.outbox.filed`)."""

Progress = Callable[[str, int, int], None]
"""``progress(label, records applied, records in the package)``, e.g. :meth:`nodekit.cli.ProgressBars.update`."""


class PublishedApplier:
    """Applies one package's records and documents in the package's transaction, in bulk batches."""

    def __init__(self, today: Callable[[], date], progress: Progress | None = None, filed: Filed | None = None) -> None:
        self._today = today
        self._progress = progress
        self._filed: Filed = filed or (lambda ids: set())

    def begin(self, session: Session, vh: VerifiedHeader) -> None:
        self.s = session
        self.today = self._today()
        self.buf: list[Item] = []
        self.statuses: list[Item] = []
        self.result = ApplyResult()
        self.counts: Counter[str] = Counter()
        self.label = f"package {vh.header.seq}"
        self.total = sum(vh.header.counts.get(k, 0) for k in DATA_KINDS)  # authenticated, checked while read
        self.applied = self.reported = 0
        if vh.header.type == "snapshot":
            # a snapshot is the complete published state: start from nothing, in this same transaction
            for kind, n in self._guard(lambda: replace_tables(session, KINDS)).items():
                self.counts[f"replaced.{kind}"] += n
            docs = cast(CursorResult[Any], session.execute(delete(DOCUMENT_TABLE))).rowcount
            if docs:
                self.counts["replaced.document"] += docs

    def item(self, item: Item) -> None:
        kind = item["kind"]
        if kind == "record":
            self.buf.append(item)
            if len(self.buf) >= BATCH:
                self._flush()
        elif kind == "document":
            self._flush()  # keep the package's order
            if item["op"] == "withdraw":
                if self._guard(lambda: withdraw_document(self.s, item["key"], item["version"])):
                    self.counts["withdrawn.document"] += 1
            else:
                doc = {**item, "data": base64.b64decode(item["data"])}
                if self._guard(lambda: store_document(self.s, doc)):
                    self.counts["upserted.document"] += 1
            self.applied += 1
        elif kind == "snapshot":
            pass  # the snapshot marker: begin() replaced the tables (the opener checks its record count)
        elif kind in ("binding-decision", "application-decision"):
            self._flush()  # a repair's decision follows the record's withdrawal in the package
            store_decision(self.s, item)
            self.counts[f"{kind}"] += 1
        elif kind == "application-status":
            self.statuses.append(item)  # checked against the web database once, in finish()
        else:
            # FORMAT.md §10.3: a node that does not run the objection workflow yet refuses the package
            # rather than accepting it and dropping the item
            raise PackageRejected(
                f"this node does not act on {kind} items yet (the objection workflow is not installed); "
                "the package is refused, not applied without them",
                reason="kind-not-allowed",
            )

    def finish(self) -> dict[str, int]:
        self._flush()
        self._report()  # the documents after the last batch
        self._acknowledge()
        out = dict(self.counts)
        out.update(self.result.counts())
        return out

    def _acknowledge(self) -> None:
        """Keep the acknowledgements of what this platform filed. One for an id it never filed is refused
        alone, logged and counted, changing nothing: the package's signed content is the internal node's,
        and refusing the whole package would stall the channel over one stray item."""
        if not self.statuses:
            return
        known = self._filed({i["id"] for i in self.statuses})
        for item in self.statuses:
            if item["id"] not in known:
                log.warning("%s: application-status for %s, which this platform never filed: not stored "
                            "(unknown-application)", self.label, item["id"])  # fmt: skip
                self.counts["application-status.unknown"] += 1
            elif store_status(self.s, item):
                self.counts["application-status"] += 1
            else:
                self.counts["application-status.unchanged"] += 1

    def _flush(self) -> None:
        if not self.buf:
            return
        batch, self.buf = self.buf, []
        part = self._guard(lambda: apply_changes(self.s, batch, today=self.today))
        for name in ("upserted", "unchanged", "withdrawn", "expired", "not_held", "reasons"):
            getattr(self.result, name).update(getattr(part, name))
        self.applied += len(batch)
        self._report()  # once a batch: a big package takes more than a minute

    def _report(self) -> None:
        if self._progress is not None and self.applied != self.reported:
            self._progress(self.label, self.applied, self.total)
            self.reported = self.applied

    @staticmethod
    def _guard(fn: Callable[[], Any]) -> Any:
        """The read model's refusals are the package's fault: reject (and quarantine) the whole package."""
        try:
            return fn()
        except PublicNodeError as exc:
            raise PackageRejected(str(exc), reason=exc.reason) from exc


def import_packages(
    node: Node, identity: Identity, *, stop: Callable[[], bool] | None = None, progress: Progress | None = None
) -> list[Outcome]:
    """Process every package waiting on the medium for this node, in sequence order, then return.

    ``progress(label, records applied, records in the package)`` is called after every batch applied."""
    from public_node.outbox import filed  # the web database: only import and watch ever need it

    exchange = open_exchange(node, identity)
    return exchange.receive(lambda: PublishedApplier(node.today, progress, lambda ids: filed(node, ids)), stop=stop)
