"""The rest of the auditor's console: each package's timeline at a glance (sealed, received,
verified, applied or refused, receipted), a chart of packages and records per day drawn as SVG on the
server (no script), the applications past their due date (逾期未办结, from the internal node's
acknowledgements), and the evidence bundle as a download — the same bundle as ``audit export``,
checked by the same standalone verifier. Read-only; built from the published database's transfer log
and the node's public identity (``identity.json`` and cards: no key file is ever opened here)."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from keys.identity_store import Identity
from nodekit.evidence import export_bundle
from nodekit.models import TransferLogRow
from public_node.web import accounts
from public_node.web.admin_pages import Auditor
from public_node.web.app import WebError, platform
from public_node.web.deadlines import TYPE_LABELS, overdue, overdue_count
from public_node.web.labels import N_
from public_node.web.pages import rate_limited
from public_node.web.security import audit, caller_known, page
from transfer.log import EventCode

router = APIRouter(include_in_schema=False, dependencies=[Depends(rate_limited), Depends(caller_known)])
PACKAGE_EVENTS = ("package.sealed", "package.written", "package.received", "package.verified", "package.applied",
                  "package.duplicate", "package.pending-gap", "package.rejected", "receipt.recorded")  # fmt: skip
TIMELINE_ROWS = 30
CHART_DAYS = 30
SCAN = 5000  # newest package entries read for the timeline and the chart


@dataclass
class Timeline:
    channel: str
    seq: int
    steps: dict[str, datetime] = field(default_factory=dict)
    outcome: str = ""


@dataclass(frozen=True)
class Bar:
    day: date
    packages: int
    records: int
    x: int
    h_packages: int
    h_records: int


def _scan(request: Request) -> list[TransferLogRow]:
    p = platform(request)
    with p.read() as s:
        stmt = (
            select(TransferLogRow)
            .where(TransferLogRow.event.in_(PACKAGE_EVENTS))
            .order_by(TransferLogRow.index.desc())
            .limit(SCAN)
        )
        return list(s.scalars(stmt))


def timelines(rows: list[TransferLogRow]) -> list[Timeline]:
    """One line per (channel, seq): when each step happened, newest packages first."""
    found: dict[tuple[str, int], Timeline] = {}
    for row in reversed(rows):
        try:
            subject = orjson.loads(row.subject)
        except orjson.JSONDecodeError:
            continue
        seq = subject.get("seq") if isinstance(subject, dict) else None
        if not isinstance(seq, int):
            continue
        key = (str(subject.get("channel", "")), seq)
        line = found.setdefault(key, Timeline(channel=key[0], seq=seq))
        step = row.event.split(".", 1)[1]
        line.steps.setdefault(step, row.at)
        if row.event in ("package.applied", "package.rejected", "package.duplicate", "package.pending-gap"):
            line.outcome = row.result
    return sorted(found.values(), key=lambda t: (min(t.steps.values()), t.seq), reverse=True)[:TIMELINE_ROWS]


def chart(rows: list[TransferLogRow], today: date) -> list[Bar]:
    """Packages applied and records they carried per day, over the last CHART_DAYS days."""
    packages: dict[date, int] = defaultdict(int)
    records: dict[date, int] = defaultdict(int)
    for row in rows:
        if row.event != "package.applied":
            continue
        day = row.at.date()
        packages[day] += 1
        try:
            counts = orjson.loads(row.counts)
        except orjson.JSONDecodeError:
            continue
        if isinstance(counts, dict):
            records[day] += sum(v for v in counts.values() if isinstance(v, int))
    days = [today - timedelta(days=CHART_DAYS - 1 - i) for i in range(CHART_DAYS)]
    top_p = max([packages[d] for d in days] + [1])
    top_r = max([records[d] for d in days] + [1])
    return [
        Bar(
            day=d,
            packages=packages[d],
            records=records[d],
            x=i * 20,
            h_packages=round(100 * packages[d] / top_p),
            h_records=round(100 * records[d] / top_r),
        )
        for i, d in enumerate(days)
    ]


@router.get("/audit/packages")
def packages(request: Request, me: Auditor) -> Response:
    """Each package's timeline and the per-day chart."""
    p = platform(request)
    rows = _scan(request)
    return page(request, "audit_packages.html", lines=timelines(rows), bars=chart(rows, p.today()),
                steps=("sealed", "received", "verified", "applied", "recorded"))  # fmt: skip


@router.get("/audit/overdue")
def overdue_applications(request: Request, me: Auditor) -> Response:
    """Applications past their due date and not decided (逾期未办结), from the internal node's acknowledgements."""
    p = platform(request)
    today = p.today()
    with p.read() as s:
        rows, total = overdue(s, today), overdue_count(s, today)
    return page(request, "audit_overdue.html", rows=rows, total=total, today=today, types=TYPE_LABELS)


@router.get("/audit/evidence")
def evidence(request: Request, me: Auditor) -> Response:
    """The evidence bundle of the node's transfer log, zipped (unzip, then ``python3 verify_log.py .``)."""
    p = platform(request)
    if me.role != accounts.ROLE_AUDITOR:  # pragma: no cover - Auditor already refused every other role
        raise WebError(403, "forbidden", N_("Your role does not allow this page."))
    identity = Identity.load(p.config.keys_dir, passphrase=_never)
    now = p.clock()
    with tempfile.TemporaryDirectory(prefix="credgap-evidence-") as tmp:
        out = Path(tmp) / "bundle"
        with p.read() as s:
            manifest = export_bundle(s, identity, out, now=now, role="public")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    zf.write(path, f"evidence/{path.relative_to(out)}")
    with p.web_transaction() as s:
        audit(request, s, EventCode.ADMIN_ACTION,
              subject={"action": "evidence.download", "entries": manifest["entries"]})  # fmt: skip
    name = f"credgap-evidence-{identity.node_id}-{now:%Y%m%dT%H%M%SZ}.zip"
    return Response(buf.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})  # fmt: skip


def _never() -> bytes:
    raise WebError(500, "internal", N_("Something went wrong on our side. Please try again later."))
