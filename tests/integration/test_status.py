"""``status``: the exchange state and the warnings an operator must see before something goes stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from internal_node import SPEC as INTERNAL
from nodekit.exchange_status import exchange_status
from public_node import SPEC as PUBLIC
from tests.helpers import run_cli
from tests.nodes import Clock, make_home, trust_each_other

pytestmark = pytest.mark.db


def test_key_expiry_is_warned_about_a_month_ahead(tmp_path: Path, database_factory: Any) -> None:
    clock = Clock()
    medium = tmp_path / "medium"
    medium.mkdir()
    a = make_home(tmp_path, INTERNAL, "int", medium, clock, database_factory("int"))
    b = make_home(tmp_path, PUBLIC, "pub", medium, clock, database_factory("pub"))
    trust_each_other(a, b, clock)
    st = exchange_status(a.node)
    assert st["own_key"]["expires_soon"] is False
    assert [k["expires_soon"] for k in st["trusted_keys"]] == [False]
    clock.advance(days=2 * 365 - 20)
    st = exchange_status(a.node)
    assert st["own_key"]["expires_soon"] is True and st["trusted_keys"][0]["expires_soon"] is True
    human = run_cli("internal-node", "--home", str(a.node.config.home), "status")
    assert human.code == 0
    a.node.close()
    b.node.close()
