"""The web audit key names its log by the node's name (public_node/web/audit.py): a node named in
Chinese, as the demo's and a real platform's are, must still get a key file and a signer; the found bug
was `serve` answering 500 to every form because the key's node id did not match FORMAT.md's pattern."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from keys.strict import NODE_ID
from public_node.web import audit


@pytest.mark.parametrize("name", ["信用昆明公共网络平台", "public-node", "Public Node 1", "x"])
def test_a_web_audit_key_for_any_node_name(tmp_path: Path, name: str) -> None:
    assert NODE_ID.fullmatch(audit.log_node_id(name))
    audit.ensure_key(tmp_path, name, datetime(2026, 12, 2, tzinfo=UTC))
    signer = audit.load_signer(tmp_path, name)
    assert signer.node == audit.log_node_id(name)


def test_the_log_id_keeps_an_ascii_name_and_tells_names_apart() -> None:
    assert audit.log_node_id("public-node") == "public-node-web", "existing logs keep their node id"
    assert audit.log_node_id("信用昆明公共网络平台") != audit.log_node_id("信用昆明公共平台")
