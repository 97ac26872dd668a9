"""The filing pages (issue 17): a logged-in person binds an account to a subject, files objections and
repair applications on that subject's records, files complaints, and follows each on its own status
page. Filings per account per day are bounded, a duplicate (the same account, kind and record while the
first is open) is merged into the first, and every upload passes ``uploads`` before it is kept."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from public_node.models import ApplicationDecision, ApplicationStatus
from public_node.queries import get_record
from public_node.web.app import platform
from public_node.web.appmodels import WebApplication, WebAttachment, WebBinding
from public_node.web.authmodels import Account
from public_node.web.pages import rate_limited
from public_node.web.security import audit, caller_known, csrf_checked, current_account, page, redirect
from public_node.web.uploads import MAX_UPLOAD, UploadRefused, disarm_all
from transfer.appitems import CATEGORIES, MAX_ATTACHMENTS, MAX_TEXT, RECORD_TABLES
from transfer.log import EventCode

router = APIRouter(include_in_schema=False, dependencies=[Depends(rate_limited), Depends(caller_known)])
DAILY_LIMIT = 10  # filings (binding requests and applications) per account per day
UPLOAD_BODY = MAX_ATTACHMENTS * MAX_UPLOAD + 256 * 1024  # what the guard lets a filing's body be
TYPE_LABELS = {"binding": "主体绑定", "objection": "信用异议", "repair": "信用修复", "complaint": "投诉举报"}
DECISION_LABELS = {
    "approved": "通过", "refused": "不予通过", "upheld": "异议成立", "partially-upheld": "异议部分成立",
    "rejected": "异议不成立", "not-accepted": "不予受理", "answered": "已答复",
}  # fmt: skip
MARKS = {"objection": "异议处理中", "repair": "信用修复审核中"}
_USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}", re.ASCII)
_ID_NO = re.compile(r"[0-9]{17}[0-9X]", re.ASCII)
_KEY = re.compile(r"[0-9a-f]{32}", re.ASCII)
_DIGITS = re.compile(r"\d")
Text = Annotated[str, Form(max_length=MAX_TEXT)]
Short = Annotated[str, Form(max_length=400)]


@dataclass(frozen=True)
class Status:
    id: str
    type: str
    filed_at: datetime
    record: str | None
    decision: str | None
    reason: str | None
    decided: str | None
    sent: bool
    merged: int
    received: datetime | None = None  # the credit office's acknowledgement (application-status)
    due: date | None = None


def mask_contact(contact: str) -> str | None:
    """The hint that crosses (FORMAT.md §10.3): a phone keeps its first 3 and last 4 digits, a name its first
    character; full contact details stay on the platform."""
    c = contact.strip()
    if not c:
        return None
    digits = _DIGITS.findall(c)
    if len(digits) >= 7:
        return f"{''.join(digits[:3])}****{''.join(digits[-4:])}"
    return c[:1] + "*"


def _refuse(request: Request, status: int, message: str, template: str = "apply_error.html") -> Response:
    return page(request, template, status=status, message=message)


def _decisions(request: Request, ids: list[str]) -> dict[str, ApplicationDecision]:
    if not ids:
        return {}
    with platform(request).read() as s:
        rows = s.scalars(select(ApplicationDecision).where(ApplicationDecision.id.in_(ids)))
        return {d.id: d for d in rows}


def _acknowledged(request: Request, ids: list[str]) -> dict[str, ApplicationStatus]:
    """The internal node's acknowledgements (received, due) of these filings, by id."""
    if not ids:
        return {}
    with platform(request).read() as s:
        return {a.id: a for a in s.scalars(select(ApplicationStatus).where(ApplicationStatus.id.in_(ids)))}


def _filed_today(request: Request, s: Session, account: Account) -> int:
    p = platform(request)
    start = datetime.combine(p.today(), time.min, tzinfo=p.zone).astimezone(p.clock().tzinfo)
    n = 0
    for model in (WebBinding, WebApplication):
        n += s.scalar(select(func.count()).select_from(model).where(
            model.account_id == account.id, model.filed_at >= start)) or 0  # fmt: skip
    return n


def _over_limit(request: Request, s: Session, account: Account) -> bool:
    if _filed_today(request, s, account) < DAILY_LIMIT:
        return False
    audit(request, s, EventCode.ADMIN_ACTION, result="refused", reason="daily-limit",
          subject={"action": "file", "account": account.id})  # fmt: skip
    return True


@router.get("/applications")
def my_applications(request: Request, account: Annotated[Account, Depends(current_account)]) -> Response:
    """The account's binding requests and applications, each with its state."""
    p = platform(request)
    with p.web_transaction() as s:
        bindings = list(s.scalars(select(WebBinding).where(WebBinding.account_id == account.id)))
        apps = list(s.scalars(select(WebApplication).where(WebApplication.account_id == account.id)))
    ids = [b.id for b in bindings] + [a.id for a in apps]
    decided, acked = _decisions(request, ids), _acknowledged(request, ids)
    rows = [_status(b.id, "binding", b.filed_at, None, b.sent_seq, 0, decided, acked) for b in bindings]
    rows += [_status(a.id, a.type, a.filed_at, a.key, a.sent_seq, a.merged, decided, acked) for a in apps]
    rows.sort(key=lambda r: r.filed_at, reverse=True)
    return page(request, "applications.html", rows=rows, types=TYPE_LABELS, decisions=DECISION_LABELS)


def _status(ident: str, typ: str, filed: datetime, record: str | None, sent: int | None, merged: int,
            decided: dict[str, ApplicationDecision], acked: dict[str, ApplicationStatus]) -> Status:  # fmt: skip
    d, k = decided.get(ident), acked.get(ident)
    return Status(ident, typ, filed, record, d.decision if d else None, d.reason if d else None,
                  d.decided if d else None, sent is not None, merged, k.received if k else None,
                  k.due if k else None)  # fmt: skip


@router.get("/applications/bind")
def bind_form(request: Request, account: Annotated[Account, Depends(current_account)]) -> Response:
    return page(request, "bind.html")


@router.post("/applications/bind", dependencies=[Depends(csrf_checked)])
def bind(
    request: Request,
    account: Annotated[Account, Depends(current_account)],
    category: Short,
    identifier: Short,
    name: Short,
    contact: Short,
    legal_rep: Short = "",
) -> Response:
    """A binding request: checked for form here, against the full data by the credit office."""
    status, out = file_binding(request, account, category, identifier, name, contact, legal_rep)
    if status == 429:
        return _refuse(request, 429, out)
    if status != 200:
        return page(request, "bind.html", status=status, error=out)
    return redirect(f"/applications/{out}")


def file_binding(
    request: Request, account: Account, category: str, identifier: str, name: str, contact: str, legal_rep: str
) -> tuple[int, str]:
    """File a binding request for the form and the API: (200, its id) or (status, the message why not)."""
    ident = identifier.strip().upper()
    if category not in ("legal", "natural"):
        return 400, "请选择主体类别"
    if not (_USCC if category == "legal" else _ID_NO).fullmatch(ident):
        return 400, "统一社会信用代码或身份证号码格式不正确"
    if not name.strip() or not contact.strip() or len(contact.strip()) > 64 or (
        category == "legal" and not legal_rep.strip()
    ):  # fmt: skip
        return 400, "请填写名称、联系方式，法人还须填写法定代表人"
    p = platform(request)
    with p.web_transaction() as s:
        if _over_limit(request, s, account):
            return 429, f"每个账户每天最多提交 {DAILY_LIMIT} 件申请，请明天再试"
        b = WebBinding(
            id=secrets.token_hex(16), account_id=account.id, subject_category=category, identifier=ident,
            name=name.strip()[:400], legal_rep=legal_rep.strip()[:200] or None, contact=contact.strip()[:64],
            filed_at=p.clock(),
        )  # fmt: skip
        s.add(b)
        audit(request, s, EventCode.ADMIN_ACTION, subject={"action": "bind", "id": b.id})
    return 200, b.id


def _approved_binding(request: Request, account: Account, subject_key: str) -> str | None:
    """The account's binding approved for ``subject_key`` (its id), or None."""
    with platform(request).web_transaction() as s:
        mine = [b.id for b in s.scalars(select(WebBinding).where(WebBinding.account_id == account.id))]
    for d in _decisions(request, mine).values():
        if d.type == "binding" and d.decision == "approved" and d.subject_key == subject_key:
            return d.id
    return None


@router.get("/applications/new")
def apply_form(
    request: Request, account: Annotated[Account, Depends(current_account)], type: str = "complaint",
    table: str = "", key: str = "",
) -> Response:  # fmt: skip
    if type not in CATEGORIES:
        return _refuse(request, 404, "没有这种申请")
    return page(request, "apply.html", type=type, table=table[:16], key=key[:32], label=TYPE_LABELS[type],
                categories=sorted(CATEGORIES[type]), max_files=MAX_ATTACHMENTS)  # fmt: skip


# the login, then the origin, before anything reads the body (csrf_checked reads the form for its token):
# an anonymous client, or a page of another site, makes no worker spool and parse megabytes of form
@router.post("/applications/new", dependencies=[Depends(current_account), Depends(csrf_checked)])
async def apply(request: Request, account: Annotated[Account, Depends(current_account)]) -> Response:
    """File an objection, a repair application or a complaint, with up to five attachments."""
    form = await request.form(max_files=MAX_ATTACHMENTS + 1, max_fields=20)

    def get(k: str) -> str:
        v = form.get(k)
        return v[:MAX_TEXT] if isinstance(v, str) else ""

    typ, table, key, category = get("type"), get("table"), get("key"), get("category")
    uploads: list[tuple[str, bytes]] = []
    for f in form.getlist("files"):
        if isinstance(f, UploadFile):  # (starlette's: what the form parser returns)
            if f.filename:
                uploads.append((f.filename, await f.read(MAX_UPLOAD + 1)))
        elif f:
            return _refuse(request, 400, "附件须以文件形式上传")
    # Pillow, pdftoppm (up to 20 s a file) and the database off the event loop: a worker keeps answering
    filed = await run_in_threadpool(file_application, request, account, typ, table, key, category,
                                    get("statement"), get("target"), get("contact"), uploads)  # fmt: skip
    if filed.status != 200:
        return _refuse(request, filed.status, filed.message)
    return redirect(f"/applications/{filed.id}" + ("?merged=1" if filed.merged else ""))


@dataclass(frozen=True)
class Filed:
    """What filing came to: 200 with the application's id (``merged``: into an open duplicate), or an HTTP
    status with the message shown to the person."""

    status: int
    id: str = ""
    message: str = ""
    merged: bool = False


def file_application(
    request: Request, account: Account, typ: str, table: str, key: str, category: str, statement: str,
    target: str, contact: str, uploads: list[tuple[str, bytes]],
) -> Filed:  # fmt: skip
    """File an objection, a repair application or a complaint (the form and the API both come here)."""
    statement, target = statement[:MAX_TEXT].strip(), target.strip()[:400]
    if typ not in CATEGORIES or category not in CATEGORIES[typ] or not statement:
        return Filed(400, message="请选择申请类别并填写事实与理由")
    p = platform(request)
    record = None
    if table or key or typ != "complaint":
        if table not in RECORD_TABLES or not _KEY.fullmatch(key):
            return Filed(400, message="请从信用记录页面提出申请")
        with p.read() as rs:
            record = get_record(rs, table, key, today=p.today())
        if record is None:
            return Filed(404, message="申请所指的信用记录不存在")
    binding = None
    if typ != "complaint":
        assert record is not None
        binding = _approved_binding(request, account, record.subject_key)
        if binding is None:
            with p.web_transaction() as s:
                audit(request, s, EventCode.ADMIN_ACTION, result="refused", reason="not-bound",
                      subject={"action": "file", "type": typ, "key": key})  # fmt: skip
            return Filed(403, message="只有已绑定该主体的账户可以对其信用记录提出异议或信用修复")
    try:
        disarmed = disarm_all(uploads)
    except UploadRefused as exc:
        with p.web_transaction() as s:
            audit(request, s, EventCode.ADMIN_ACTION, result="refused", reason=exc.reason,
                  subject={"action": "upload", "type": typ})  # fmt: skip
        return Filed(400, message=f"附件不予接收：{exc}")
    with p.web_transaction() as s:
        duplicate = _open_duplicate(request, s, account, typ, table or None, key or None, target or None)
        if duplicate is not None:
            duplicate.merged += 1
            audit(request, s, EventCode.ADMIN_ACTION, result="merged", subject={"action": "file", "id": duplicate.id})
            return Filed(200, duplicate.id, merged=True)
        if _over_limit(request, s, account):
            return Filed(429, message=f"每个账户每天最多提交 {DAILY_LIMIT} 件申请，请明天再试")
        app = WebApplication(
            id=secrets.token_hex(16), account_id=account.id, type=typ, binding_id=binding,
            table_name=table or None, key=key or None, version=record.version if record else None,
            category=category, target=target or None, statement=statement, contact=mask_contact(contact),
            filed_at=p.clock(), merged=0,
        )  # fmt: skip
        s.add(app)
        s.flush()
        for n, d in enumerate(disarmed):
            s.add(WebAttachment(application_id=app.id, n=n, name=d.name, media_type=d.media_type, data=d.data))
        audit(request, s, EventCode.ADMIN_ACTION, subject={"action": "file", "id": app.id, "type": typ})
    return Filed(200, app.id)


def _open_duplicate(
    request: Request, s: Session, account: Account, typ: str, table: str | None, key: str | None, target: str | None
) -> WebApplication | None:
    same = s.scalars(
        select(WebApplication).where(
            WebApplication.account_id == account.id, WebApplication.type == typ,
            WebApplication.table_name.is_(None) if table is None else WebApplication.table_name == table,
            WebApplication.key.is_(None) if key is None else WebApplication.key == key,
        )
    ).all()  # fmt: skip
    if typ == "complaint" and key is None:
        same = [a for a in same if a.target == target]
    decided = _decisions(request, [a.id for a in same])
    return next((a for a in same if a.id not in decided), None)


@router.get("/applications/{ident}")
def status_page(request: Request, ident: str, account: Annotated[Account, Depends(current_account)]) -> Response:
    """One application's own page: what was filed, whether it has crossed, and the decision."""
    if not _KEY.fullmatch(ident):
        return _refuse(request, 404, "没有这件申请")
    p = platform(request)
    with p.web_transaction() as s:
        b = s.get(WebBinding, ident)
        a = s.get(WebApplication, ident)
        row: Any = b if b is not None and b.account_id == account.id else None
        row = row or (a if a is not None and a.account_id == account.id else None)
        atts = [] if a is None or row is None else [t.name for t in s.scalars(
            select(WebAttachment).where(WebAttachment.application_id == ident))]  # fmt: skip
    if row is None:  # another account's application is as unknown as a missing one
        return _refuse(request, 404, "没有这件申请")
    typ = "binding" if isinstance(row, WebBinding) else row.type
    st = _status(ident, typ, row.filed_at, getattr(row, "key", None), row.sent_seq, getattr(row, "merged", 0),
                 _decisions(request, [ident]), _acknowledged(request, [ident]))  # fmt: skip
    return page(request, "application.html", st=st, row=row, attachments=atts, types=TYPE_LABELS,
                decisions=DECISION_LABELS, merged=request.query_params.get("merged") == "1")  # fmt: skip


_OPEN_MARKS = select(WebApplication.id, WebApplication.key, WebApplication.type).where(
    WebApplication.key.in_(bindparam("keys", expanding=True)), WebApplication.type.in_(list(MARKS))
)


def record_marks(request: Request, keys: list[str]) -> dict[str, str]:
    """For a record page: 异议处理中 / 信用修复审核中 on records with an open objection or repair."""
    if not keys:
        return {}
    p = platform(request)
    # every subject page: a read, never the write lock; one statement built once, on a Core connection
    with p.web_read_engine.connect() as conn, conn.begin():
        open_ = [(str(i), k, str(t)) for i, k, t in conn.execute(_OPEN_MARKS, {"keys": keys}) if k is not None]
    decided = _decisions(request, [i for i, _, _ in open_])
    marks: dict[str, str] = {}
    for ident, key, typ in open_:
        if ident not in decided:
            marks[key] = MARKS[typ] if key not in marks or typ == "objection" else marks[key]
    return marks
