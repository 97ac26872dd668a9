"""Objection kinds are fixed by format v1 (FORMAT.md §10.3) before the nodes run the objection
workflow: until then each node refuses a package that carries one instead of applying the rest."""

from __future__ import annotations

from datetime import date

import pytest

from internal_node.returns import ReturnApplier
from public_node.importer import PublishedApplier
from transfer.errors import PackageRejected

RESOLUTION = {"kind": "objection-resolution", "id": "0" * 32, "table": "penalty", "key": "1" * 32,
              "decision": "rejected", "decided": 1_700_000_000, "reason": "查无错误"}  # fmt: skip
OBJECTION = {"kind": "objection", "id": "0" * 32, "table": "penalty", "key": "1" * 32, "version": 1}


def test_the_public_node_refuses_a_resolution_rather_than_dropping_it() -> None:
    with pytest.raises(PackageRejected, match="does not act on objection-resolution") as e:
        PublishedApplier(today=date.today).item(RESOLUTION)
    assert e.value.reason == "kind-not-allowed"


def test_the_internal_node_refuses_an_objection_rather_than_dropping_it() -> None:
    with pytest.raises(PackageRejected, match="does not act on objection items") as e:
        ReturnApplier().item(OBJECTION)
    assert e.value.reason == "kind-not-allowed"
