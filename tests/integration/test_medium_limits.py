"""What the medium holder can make a node keep, copy or redo, and the writer's own leftovers
(docs/SECURITY.md, hardening cases 13–15, 21, 22): a read-only medium is not processed again every
round, sparse files are never copied, the bytes kept for unknown signers in a round are bounded, stale
temporaries of killed writers are removed by their writer, and the write-settle window is the
operator's to set."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from exchange import receive
from exchange.node import open_exchange
from internal_node import SPEC as INTERNAL
from nodekit import trust_store
from nodekit.models import ReceiptRow, TransferLogRow
from tests.helpers import run_cli
from tests.integration.medium_support import Pair, real_clock_pair, remount_read_only, run, tmpfs
from tests.integration.public_support import package_files
from tests.nodes import make_home
from transfer.medium import FS, Medium, Quarantine, channel_dirname, package_name

pytestmark = pytest.mark.db

JUNK_NAME = package_name(0, "f" * 64)
LONG_AGO = (1, 1)  # mtime: long finished, not a file still being written


@pytest.fixture
def pair(tmp_path: Path, database_factory: Any) -> Iterator[Pair]:
    p = real_clock_pair(tmp_path, database_factory)
    yield p
    p.close()


def import_outcomes(pair: Pair) -> tuple[int, list[tuple[Any, ...]]]:
    result = run_cli("public-node", "--home", str(pair.public.node.config.home), "import", "--json")
    doc: Any = result.json()
    assert "outcomes" in doc, result.err
    return result.code, [(o["file"], o.get("seq"), o["result"], o.get("reason")) for o in doc["outcomes"]]


def counts(pair: Pair) -> tuple[int, int]:
    """(transfer-log entries, receipts) of the public node."""
    with pair.public.node.sessions() as s:
        return s.scalar(select(func.count()).select_from(TransferLogRow)) or 0, s.scalar(
            select(func.count()).select_from(ReceiptRow)
        ) or 0


# ------------------------------------------------------------------------------------------ case 14


def test_a_read_only_medium_is_not_staged_logged_or_receipted_again(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package and a junk file on a medium mounted read-only: the first import applies the one and
    quarantines the other but can remove neither; later imports (another process, as from cron) leave
    both alone."""
    with tmpfs(pair.medium):
        pkg = pair.heartbeat()
        junk = pair.inbound / JUNK_NAME
        junk.write_bytes(os.urandom(700))
        os.utime(junk, LONG_AGO)
        remount_read_only(pair.medium)

        code, first = import_outcomes(pair)
        assert code == 4
        assert sorted(o[2:] for o in first) == [("applied", None), ("rejected", "bad-magic")]
        assert pkg.medium is not None and pkg.medium.exists() and junk.exists()
        before = counts(pair)

        pair.close()
        again = run("public-node", pair.public, "import", "--json")
        assert again.returncode == 0, again.stderr
        assert orjson.loads(again.stdout) == {"outcomes": []}
        assert counts(pair) == before, "nothing logged or receipted again"

        staged: list[object] = []
        real_stage = Medium.stage
        monkeypatch.setattr(Medium, "stage", lambda *a, **kw: staged.append(a) or real_stage(*a, **kw))
        assert import_outcomes(pair) == (0, [])
        assert staged == [], "nothing copied off the medium again"
        assert counts(pair) == before


# ------------------------------------------------------------------------------------------ case 15


def test_a_sparse_file_is_junk_and_is_never_copied(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    sparse = pair.inbound
    sparse.mkdir()
    big = sparse / JUNK_NAME
    with big.open("wb") as fh:
        fh.truncate(64 << 20)  # 64 MiB that occupy no block
    young = sparse / package_name(5, "e" * 64)
    with young.open("wb") as fh:
        fh.truncate(64 << 20)
    os.utime(big, LONG_AGO)
    reads: list[int] = []
    real_read = FS.read
    monkeypatch.setattr(FS, "read", lambda fd, n: reads.append(os.fstat(fd).st_ino) or real_read(fd, n))

    code, outcomes = import_outcomes(pair)
    assert code == 4
    assert outcomes == [
        (JUNK_NAME, None, "rejected", "sparse"),
        (young.name, None, "skipped", "incomplete"),  # modified just now: perhaps still being written
    ]
    assert reads == [], "not a byte of either was read"
    [entry] = Quarantine(pair.public.node.config.quarantine_dir).entries()
    assert (entry["reason"], entry["size"], entry["bytes_kept"], entry["digest"]) == (
        "sparse", 64 << 20, False, "0" * 64
    )  # fmt: skip
    assert not big.exists() and young.exists()


def test_the_bytes_kept_for_unknown_signers_in_one_round_are_bounded(
    pair: Pair, tmp_path: Path, database_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node the public node does not trust writes packages to it: they are kept for re-verification
    (an earlier package may announce their key) only up to a bound per round; the rest wait."""
    stranger = make_home(tmp_path, INTERNAL, "stranger", pair.medium, pair.clock, database_factory("stranger"))
    card = pair.public.identity.card()
    with stranger.node.transaction() as s:
        trust_store.trust_card(s, card, card.key_id, pair.clock(), own_role="internal")
    ex = open_exchange(stranger.node, stranger.identity)
    with stranger.node.sessions() as s:
        peer = trust_store.load_trust_state(s).current_for(pair.public.id)
    assert peer is not None
    first, second = (ex.send(peer, lambda s, seq: []) for _ in range(2))
    stranger.node.close()
    assert first.medium is not None and second.medium is not None
    monkeypatch.setattr(receive, "UNKNOWN_SIGNER_STAGING", first.size)  # room for one of them

    code, outcomes = import_outcomes(pair)
    assert code == 4
    assert sorted(o[2:] for o in outcomes) == [("rejected", "unknown-signer"), ("skipped", "deferred")]
    assert not first.medium.exists() and second.medium.exists(), "the second waits on the medium"
    code, outcomes = import_outcomes(pair)
    assert [o[2:] for o in outcomes] == [("rejected", "unknown-signer")]
    assert not second.medium.exists()


# ------------------------------------------------------------------------------------------ case 21


def test_a_writer_removes_its_own_stale_temporaries_and_nobody_else_s(pair: Pair) -> None:
    pair.heartbeat()
    own = pair.inbound
    theirs = pair.medium / channel_dirname(pair.public.id, pair.internal.id)
    theirs.mkdir()
    old = time.time() - 2 * 3600
    stale, fresh, foreign = own / ".tmp-0a0a-p1.cgp", own / ".tmp-0b0b-p2.cgp", theirs / ".tmp-0c0c-p1.cgp"
    for p in (stale, fresh, foreign):
        p.write_bytes(b"half a package")
    os.utime(stale, (old, old))
    os.utime(foreign, (old, old))

    pair.heartbeat()
    assert not stale.exists(), "a killed writer's temporary, older than the bound, is gone"
    assert fresh.exists(), "a temporary that may still be written stays"
    assert foreign.exists(), "the other node's folder is not this writer's to clean"
    assert len(package_files(own)) == 2


# ------------------------------------------------------------------------------------------ case 22


def set_exchange(pair: Pair, key: str, value: str) -> None:
    """Set ``[exchange] key`` in the public node's node.toml, where ``init`` wrote its default."""
    cfg = pair.public.node.config.config_path
    text, n = re.subn(rf"(?m)^{key} = .*$", f'{key} = "{value}"', cfg.read_text(encoding="utf-8"))
    assert n == 1
    cfg.write_text(text, encoding="utf-8")


def test_the_write_settle_window_is_configurable(pair: Pair) -> None:
    pkg = pair.heartbeat()
    assert pkg.medium is not None
    whole = pkg.medium.read_bytes()
    pkg.medium.write_bytes(whole[: len(whole) // 2])
    an_hour_ago = time.time() - 3600
    os.utime(pkg.medium, (an_hour_ago, an_hour_ago))
    set_exchange(pair, "write_settle", "2h")  # a slow device: an hour without a write is not the end
    assert import_outcomes(pair) == (0, [(pkg.medium.name, None, "skipped", "incomplete")])
    assert pkg.medium.exists()


def test_a_bad_write_settle_is_a_configuration_error(pair: Pair) -> None:
    set_exchange(pair, "write_settle", "soon")
    result = run_cli("public-node", "--home", str(pair.public.node.config.home), "import")
    assert result.code == 2
    assert "write_settle" in result.err and len(result.err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------ case 13


def test_the_quarantine_retention_comes_from_node_toml(pair: Pair) -> None:
    set_exchange(pair, "quarantine_retention", "400d")
    from nodekit.runtime import Node
    from public_node import SPEC as PUBLIC

    node = Node.open(pair.public.node.config.home, PUBLIC)
    try:
        ex = open_exchange(node, pair.public.identity)
        assert ex.quarantine.retention == 400 * 86400
    finally:
        node.close()
