"""Helpers of the public-node integration tests: changing the internal data through the real ingest,
and the two sides of every comparison — what the internal policy allows (the publication table, and
the projection recomputed record by record) and what the public read model shows."""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from internal_node.ingest import IngestReport, ingest_file
from internal_node.models import RECORD_MODELS, Subject
from internal_node.policy import load_policy
from internal_node.projection import Publish, project
from internal_node.publication import STATE_PUBLISH, pseudonym_key
from internal_node.pubmodels import PUBLICATION
from internal_node.rows import SUBJECT_FIELDS
from nodekit.models import ChannelPackageRow, ChannelRow, TransferLogRow
from nodekit.runtime import Node
from public_node.models import DOCUMENT_TABLE, RECORD_TABLE
from public_node.queries import get_record, record_counts
from public_node.views import KINDS

Ref = tuple[str, str]  # (kind, key)
Published = dict[Ref, tuple[int, dict[str, Any]]]  # version and row of every shown record

HOUSING = "昆明市住房和城乡建设局"
HOUSING_USCC = "115301000152349779"  # the sample data's housing department
DEPARTMENT_USCC = "1153010001529999X2"  # a department that appears nowhere else
COMPANY_USCC = ("91350100M000100Y43", "91350200776049653A")  # valid GB 32100 codes (docs: DOMAIN.md)


def ingest_rows(node: Node, kind: str, rows: Iterable[Mapping[str, Any]], folder: Path) -> IngestReport:
    """Deliver ``rows`` as a department's JSON Lines file and ingest it the way ``internal-node ingest`` does."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{len(list(folder.iterdir())):03d}.jsonl"
    path.write_bytes(b"".join(orjson.dumps(dict(r)) + b"\n" for r in rows))
    return ingest_file(node, path, kind=kind, source=HOUSING, source_uscc=HOUSING_USCC)


def penalty(
    n: int, decided: date, *, until: date | None = None, status: str = "normal", fine: str = "1.5", uscc: int = 0
) -> dict[str, Any]:
    """A housing-department penalty on one of two companies; ``n`` makes its decision number."""
    return {
        "party_name": ("昆明示例建筑工程有限公司", "昆明测试物业服务有限公司")[uscc],
        "party_category": "legal_person",
        "party_uscc": COMPANY_USCC[uscc],
        "legal_rep": ("王建国", "李秀英")[uscc],
        "decision_no": f"昆住建罚〔2026〕{900 + n}号",
        "violation_type": "违法分包",
        "violation_facts": f"第{n}号案件：将承包的工程违法分包给不具备相应资质的单位。",
        "legal_basis": "《建设工程质量管理条例》第六十二条",
        "penalty_types": "fine",
        "content": f"罚款人民币{fine}万元",
        "fine_amount": fine,
        "decision_date": decided.isoformat(),
        "publish_until": until.isoformat() if until else None,
        "severity": "general",
        "authority": HOUSING,
        "authority_uscc": HOUSING_USCC,
        "disclosure": "public",
        "record_status": status,
    }


def gov_credit(n: int, occurred: date, *, until: date | None) -> dict[str, Any]:
    """A government-credit record: its department has no subject row, so only this record makes it findable."""
    return {
        "record_no": f"ZWCX-测试-{n:06d}",
        "department": "昆明市示例管理局",
        "department_uscc": DEPARTMENT_USCC,
        "credit_area": "service",
        "item_type": "service_commitment",
        "title": f"示例服务承诺事项{n}",
        "occurred_date": occurred.isoformat(),
        "outcome": "open",
        "publish_until": until.isoformat() if until else None,
        "disclosure": "public",
        "record_status": "normal",
    }


# --------------------------------------------------------------------------- the internal side


def publication(node: Node) -> Published:
    """What the internal node has decided to publish: its publication rows of records in state
    ``publish``, with the version (``pub_seq``) and row of the item it seals for each."""
    out: Published = {}
    for table, key, pub_seq, doc in _publishing(node):
        if doc["kind"] == "record":
            assert (doc["op"], doc["table"], doc["key"], doc["version"]) == ("upsert", table, key, pub_seq)
            out[(table, key)] = (pub_seq, doc["row"])
    return out


def publication_documents(node: Node) -> dict[str, tuple[Any, ...]]:
    """The documents the internal node publishes: key -> (version, name, title, media type, sha256,
    subject key, publish_until)."""
    out: dict[str, tuple[Any, ...]] = {}
    for _, key, pub_seq, doc in _publishing(node):
        if doc["kind"] == "document":
            assert (doc["op"], doc["key"], doc["version"]) == ("upsert", key, pub_seq)
            data = base64.b64decode(doc["data"])
            until = doc["publish_until"]
            out[key] = (
                pub_seq, doc["name"], doc["title"], doc["media_type"], hashlib.sha256(data).hexdigest(),
                doc["subject_key"], None if until is None else date.fromisoformat(until),
            )  # fmt: skip
    return out


def _publishing(node: Node) -> list[tuple[str, str, int, dict[str, Any]]]:
    p = PUBLICATION.c
    with node.sessions() as s:
        rows = s.execute(select(p.table_name, p.key, p.pub_seq, p.item).where(p.state == STATE_PUBLISH)).all()
    return [(table, key, pub_seq, orjson.loads(item)) for table, key, pub_seq, item in rows]


def projected(node: Node, today: date) -> dict[Ref, dict[str, Any]]:
    """The policy recomputed: ``project()`` over every stored subject and record, keeping what it publishes."""
    policy = load_policy(node.config.policy_file)
    out: dict[Ref, dict[str, Any]] = {}
    with node.sessions() as s:
        key = pseudonym_key(s)
        subjects = {row["id"]: dict(row) for row in _rows(s, Subject)}
        outcomes = [
            project("subject", subj, None, policy, today=today, pseudonym_key=key) for subj in subjects.values()
        ]
        for kind, model in RECORD_MODELS.items():
            for rec in _rows(s, model):
                subj = subjects.get(rec["subject_id"])
                view = None if subj is None else {f: subj[f] for f in SUBJECT_FIELDS}
                outcomes.append(project(kind, rec, view, policy, today=today, pseudonym_key=key))
    for o in outcomes:
        if isinstance(o, Publish):
            out[(o.table, o.key)] = dict(o.row)
    return out


def _rows(s: Session, model: Any) -> list[Mapping[str, Any]]:
    return [dict(r) for r in s.execute(select(model.__table__)).mappings()]


# --------------------------------------------------------------------------- the public side


def published(node: Node, today: date | None = None) -> Published:
    """Every record the public read model shows on ``today`` (default: the node's today)."""
    from public_node.views import record_is_live

    today = today or node.today()
    r = RECORD_TABLE.c
    with node.sessions() as s:
        rows = s.execute(select(r.kind, r.key, r.version, r.row).where(record_is_live(today))).all()
    return {(kind, key): (version, orjson.loads(row)) for kind, key, version, row in rows}


def stored_keys(node: Node) -> set[Ref]:
    """Every record physically held by the read model, shown or not."""
    r = RECORD_TABLE.c
    with node.sessions() as s:
        return {(k, key) for k, key in s.execute(select(r.kind, r.key))}


def published_documents(node: Node, today: date | None = None) -> dict[str, tuple[Any, ...]]:
    """Every document the public node serves on ``today``, as :func:`publication_documents` describes them."""
    today = today or node.today()
    d = DOCUMENT_TABLE.c
    cols = (d.key, d.version, d.name, d.title, d.media_type, d.sha256, d.subject_key, d.publish_until)
    live = or_(d.publish_until.is_(None), d.publish_until >= today)
    with node.sessions() as s:
        return {row[0]: tuple(row[1:]) for row in s.execute(select(*cols).where(live))}


def assert_shows(public: Node, expected: Published) -> None:
    """The public node shows exactly ``expected``: same keys, versions and rows, also through the queries."""
    today = public.today()
    actual = published(public, today)
    missing = sorted(set(expected) - set(actual))[:5]
    extra = sorted(set(actual) - set(expected))[:5]
    assert not missing and not extra, f"public side lacks {missing}, has unexpected {extra}"
    for ref, (version, row) in expected.items():
        if actual[ref] != (version, row):
            differ = sorted(f for f in set(row) | set(actual[ref][1]) if row.get(f) != actual[ref][1].get(f))
            raise AssertionError(f"{ref}: public v{actual[ref][0]}, internal v{version}; fields differ: {differ}")
    counts = Counter(kind for kind, _ in expected)
    with public.sessions() as s:
        assert record_counts(s, today=today) == {k: counts.get(k, 0) for k in KINDS}
        for (kind, key), (version, row) in expected.items():
            view = get_record(s, kind, key, today=today)
            assert view is not None and (view.version, view.row) == (version, row)


def assert_in_step(internal: Node, public: Node) -> Published:
    """The internal publication is the policy's projection, and the public node shows exactly it."""
    expected = publication(internal)
    assert {ref: row for ref, (_, row) in expected.items()} == projected(internal, internal.today())
    assert_shows(public, expected)
    assert published_documents(public) == publication_documents(internal)
    return expected


# --------------------------------------------------------------------------- the exchange's own state


def channel_packages(node: Node, sender: str, recipient: str) -> list[tuple[int, str]]:
    """(seq, status) of every package row of one channel, in order."""
    with node.sessions() as s:
        ch = s.scalars(
            select(ChannelRow).where(ChannelRow.sender_node == sender, ChannelRow.recipient_node == recipient)
        ).first()
        if ch is None:
            return []
        rows = s.execute(
            select(ChannelPackageRow.seq, ChannelPackageRow.status)
            .where(ChannelPackageRow.channel_id == ch.id)
            .order_by(ChannelPackageRow.seq, ChannelPackageRow.id)
        ).all()
    return [(seq, status) for seq, status in rows]


def log_events(node: Node, event: str) -> list[dict[str, Any]]:
    """The subjects of one event's transfer-log entries, in order, each with its result, reason and
    counts (for ``package.applied``, what the package changed: the only withdrawal history kept)."""
    with node.sessions() as s:
        rows = s.scalars(select(TransferLogRow).where(TransferLogRow.event == event).order_by(TransferLogRow.index))
        return [
            {**orjson.loads(r.subject), "result": r.result, "reason": r.reason, "counts": orjson.loads(r.counts)}
            for r in rows
        ]


def package_files(folder: Path) -> list[Path]:
    """Finished package files under a medium, archive or pending folder (temporary names excluded)."""
    return sorted(p for p in folder.rglob("p*.cgp") if not p.name.startswith("."))


# --------------------------------------------------------------------------- the node programs

BIN = Path(sys.executable).parent  # the venv's console scripts: internal-node, public-node


def program_env(crash: str | None = None) -> dict[str, str]:
    """The environment of a node program run as a subprocess: the test key profile, unbuffered output
    (so a test can follow a running watcher), and optionally a crash point (``exchange.crash``)."""
    out = {k: v for k, v in os.environ.items() if k not in ("CREDGAP_HOME", "CREDGAP_CRASH_AT")}
    out["CREDGAP_INSECURE_TEST_KDF"] = "1"  # the homes' identities use keys.keyfile.TEST_PROFILE
    out["PYTHONUNBUFFERED"] = "1"
    if crash is not None:
        out["CREDGAP_CRASH_AT"] = crash
    return out
