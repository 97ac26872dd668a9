"""Credit reports (信用报告) a reader can prove genuine: each issued report gets a random verification
code; the web database keeps only the code's hash, the subject key, the package sequence the report
was read at, its issue time, and the kind, key, version and digest of every record it showed.

Verifying a code compares those digests with what is published now: "genuine, unchanged", or
"genuine, changed since" with what changed by kind (and, for records still published, their date).
A withdrawn record is named by its kind only: its content is no longer public, and the report
store never had it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

import orjson
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from public_node.queries import freshness, subject_page
from public_node.views import Freshness, RecordView, SubjectPage
from public_node.web.models import REPORT_RECORD_TABLE, REPORT_TABLE

CODE_BYTES = 12  # 96 bits from `secrets`, 20 base32 characters
_CODE = re.compile(r"[A-Z2-7]{20}")


def record_digest(view: RecordView) -> str:
    """SHA-256 of a record's published row as stored (JSON, sorted keys): any change to what the
    public sees changes it."""
    return hashlib.sha256(orjson.dumps(view.row, option=orjson.OPT_SORT_KEYS)).hexdigest()


def format_code(raw: bytes) -> str:
    """A code as printed: 20 base32 characters in groups of four (XXXX-XXXX-XXXX-XXXX-XXXX)."""
    text = base64.b32encode(raw).decode("ascii").rstrip("=")
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalise_code(text: str) -> str | None:
    """A code as typed (any case, spaces or dashes, O for 0 and 1 for I mistaken) in canonical form,
    or None if it cannot be a code."""
    compact = re.sub(r"[\s\-]", "", text.upper())[:64]
    compact = compact.replace("0", "O").replace("1", "I").replace("8", "B")
    return compact if _CODE.fullmatch(compact) else None


def _hash(compact: str) -> str:
    return hashlib.sha256(b"credgap/v1 report-code\0" + compact.encode("ascii")).hexdigest()


def shown_records(page: SubjectPage) -> list[RecordView]:
    """The records a report of ``page`` shows: the subject row, then every record by kind."""
    out = [page.profile] if page.profile is not None else []
    for records in page.records.values():
        out.extend(records)
    return out


@dataclass(frozen=True)
class IssuedReport:
    """A report just issued: its code (shown once, on the report) and what it shows."""

    code: str
    issued_at: datetime
    page: SubjectPage
    fresh: Freshness


def issue_report(read: Session, web: Engine, subject_key: str, *, today: date, now: datetime) -> IssuedReport | None:
    """Read a subject's page and record a new report of it; None if nothing about it is published."""
    page = subject_page(read, subject_key, today=today)
    if page is None:
        return None
    fresh = freshness(read)
    raw = secrets.token_bytes(CODE_BYTES)
    code = format_code(raw)
    with web.begin() as conn:
        report_id = conn.execute(
            insert(REPORT_TABLE)
            .values(
                code_hash=_hash(code.replace("-", "")),
                subject_key=subject_key,
                package_seq=fresh.package_seq,
                issued_at=now,
            )
            .returning(REPORT_TABLE.c.id)
        ).scalar_one()
        rows = [
            {"report_id": report_id, "kind": v.kind, "key": v.key, "version": v.version, "digest": record_digest(v)}
            for v in shown_records(page)
        ]
        if rows:
            conn.execute(insert(REPORT_RECORD_TABLE), rows)
    return IssuedReport(code=code, issued_at=now, page=page, fresh=fresh)


@dataclass(frozen=True)
class Change:
    """One difference between a report and what is published now."""

    kind: str
    change: str  # "withdrawn" (no longer published), "updated", "added"
    record_date: str | None = None  # the current record's date; never given for a withdrawn record


@dataclass(frozen=True)
class Verification:
    """What a verification code proves."""

    genuine: bool
    issued_at: datetime | None = None
    package_seq: int | None = None
    subject_name: str | None = None  # only while the subject is still published
    subject_key: str | None = None
    changes: list[Change] = field(default_factory=list)
    withdrawn: dict[str, int] = field(default_factory=dict)  # kind -> records no longer published

    @property
    def unchanged(self) -> bool:
        return self.genuine and not self.changes


def _record_date(view: RecordView) -> str | None:
    from public_node.changes import RECORD_DATE_FIELD

    value = view.row.get(RECORD_DATE_FIELD.get(view.kind, ""))
    return value if isinstance(value, str) else None


def verify_report(read: Session, web: Engine, code: str, *, today: date) -> Verification:
    """Check a verification code against the web database and today's published records."""
    compact = normalise_code(code)
    if compact is None:
        return Verification(genuine=False)
    with web.connect() as conn:
        report = conn.execute(select(REPORT_TABLE).where(REPORT_TABLE.c.code_hash == _hash(compact))).first()
        if report is None:
            return Verification(genuine=False)
        shown = {
            (r.kind, r.key): (r.version, r.digest)
            for r in conn.execute(select(REPORT_RECORD_TABLE).where(REPORT_RECORD_TABLE.c.report_id == report.id))
        }
    page = subject_page(read, report.subject_key, today=today)
    current = {(v.kind, v.key): v for v in shown_records(page)} if page is not None else {}
    changes: list[Change] = []
    withdrawn: Counter[str] = Counter()
    for ref, (version, digest) in sorted(shown.items()):
        now = current.get(ref)
        if now is None:
            withdrawn[ref[0]] += 1
            changes.append(Change(kind=ref[0], change="withdrawn"))
        elif now.version != version or record_digest(now) != digest:
            changes.append(Change(kind=ref[0], change="updated", record_date=_record_date(now)))
    for ref, now in sorted(current.items()):
        if ref not in shown:
            changes.append(Change(kind=ref[0], change="added", record_date=_record_date(now)))
    return Verification(
        genuine=True,
        issued_at=report.issued_at if isinstance(report.issued_at, datetime) else None,
        package_seq=int(report.package_seq),
        subject_name=page.subject.name if page is not None else None,
        subject_key=report.subject_key,
        changes=changes,
        withdrawn=dict(withdrawn),
    )
