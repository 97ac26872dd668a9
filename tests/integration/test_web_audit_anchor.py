"""The web audit log end to end through the CLI: ``public-node admin`` manages administrators on the
host (each use logged), ``audit verify`` checks the web audit log beside the transfer log and names
an edited entry, the web audit key rotates with old checkpoints still verifying, and
``public-node export`` anchors the web log's latest checkpoint in the transfer log, which the
internal node then holds a signed checkpoint over."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nodekit.home import load_config
from nodekit.models import PeerCheckpointRow, TransferLogRow
from public_node.web.authmodels import Account, WebAuditCheckpoint, WebAuditEntry
from public_node.web.config import load_web_config
from public_node.web.db import web_engine
from tests.helpers import run_cli
from tests.nodes import Home, trusted_pair
from tests.web.support import configure

pytestmark = pytest.mark.db


def cli(home: Home, *args: str) -> Any:
    return run_cli(f"{home.node.config.role}-node", "--home", str(home.node.config.home), *args)


@contextmanager
def _web(home: Home) -> Iterator[Session]:
    config = load_config(home.node.config.home, "public")  # re-read: the test appended [web] to node.toml
    engine = web_engine(load_web_config(config).web_database_url)
    try:
        with Session(engine) as s:
            yield s
    finally:
        engine.dispose()


def test_admin_commands_are_logged_and_audit_verify_checks_the_web_log(tmp_path: Path, database_factory: Any) -> None:
    _a, b, _medium, _clock = trusted_pair(tmp_path, database_factory)
    configure(b.node, web_database_url=database_factory("web"))
    r = cli(b, "admin", "create", "root_sys", "--role", "sysadmin", "--json")
    assert r.code == 0, r.err
    assert len(json.loads(r.out)["password"]) >= 20
    assert cli(b, "admin", "create", "root_sys", "--role", "auditor").code == 2  # taken
    assert cli(b, "admin", "create", "<b>x</b>", "--role", "auditor").code == 2  # markup in a name
    assert cli(b, "admin", "reset", "root_sys", "--totp").code == 0
    assert cli(b, "admin", "disable", "root_sys").code == 0
    assert cli(b, "admin", "reset", "nobody").code == 2
    with _web(b) as s:
        account = s.scalars(select(Account)).one()
        assert account.disabled and account.role == "sysadmin"
        actions = [e.subject for e in s.scalars(select(WebAuditEntry).order_by(WebAuditEntry.index))]
    assert ['"admin.create"' in actions[0], '"admin.reset"' in actions[1], '"admin.disable"' in actions[2]] == [
        True
    ] * 3
    r = cli(b, "audit", "verify", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["web_audit_log"]["entries"] == 3

    assert cli(b, "admin", "audit-key", "rotate").code == 0
    assert cli(b, "audit", "verify").code == 0  # checkpoints of the old key still verify
    with _web(b) as s, s.begin():
        s.execute(update(WebAuditEntry).where(WebAuditEntry.index == 1).values(actor="operator:someone-else"))
    r = cli(b, "audit", "verify", "--json")
    assert r.code == 4 and "web audit log" in r.err and "entry 1" in r.err


def test_export_anchors_the_web_log_checkpoint_and_the_internal_node_holds_it(
    tmp_path: Path, database_factory: Any
) -> None:
    a, b, _medium, _clock = trusted_pair(tmp_path, database_factory)
    configure(b.node, web_database_url=database_factory("web"))
    assert cli(b, "admin", "create", "the_auditor", "--role", "auditor").code == 0
    r = cli(b, "export")
    assert r.code == 0, r.err
    with b.node.sessions() as s:
        anchors = s.scalars(select(TransferLogRow).where(TransferLogRow.event == "web-audit.anchored")).all()
        sealed = s.scalars(select(TransferLogRow.index).where(TransferLogRow.event == "package.sealed")).all()
    assert len(anchors) == 1 and json.loads(anchors[0].subject)["checkpoint"]["checkpoint"]["size"] == 1
    assert anchors[0].index < min(sealed)  # recorded before sealing: the package's checkpoint covers it
    r = cli(a, "import")
    assert r.code == 0, r.err
    with a.node.sessions() as s:
        held = s.scalars(select(PeerCheckpointRow.size).where(PeerCheckpointRow.peer_node == b.id)).all()
    assert held and max(held) > anchors[0].index
    assert cli(b, "export").code == 0  # nothing new in the web log: no second anchor
    with b.node.sessions() as s:
        n = len(s.scalars(select(TransferLogRow).where(TransferLogRow.event == "web-audit.anchored")).all())
    assert n == 1


def test_a_forged_web_checkpoint_is_never_anchored(tmp_path: Path, database_factory: Any) -> None:
    _a, b, _medium, _clock = trusted_pair(tmp_path, database_factory)
    configure(b.node, web_database_url=database_factory("web"))
    assert cli(b, "admin", "create", "the_auditor", "--role", "auditor").code == 0
    with _web(b) as s, s.begin():
        s.execute(update(WebAuditCheckpoint).values(root="ab" * 32))  # a head the web audit key never signed
    r = cli(b, "export")
    assert r.code == 4 and "does not verify" in r.err, r.err
    with b.node.sessions() as s:
        assert s.scalars(select(TransferLogRow).where(TransferLogRow.event == "web-audit.anchored")).all() == []
