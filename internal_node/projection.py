"""The publishable projection: one stored record in, one outcome out — publish a masked row, withdraw
it, hold it for an operator, or block it because the leak guard found something.

Pure: no database, no clock (``today`` is a parameter), no I/O. Records and subjects are plain
mappings with the field names of docs/DATA.md (dates as ``date`` or ISO strings, amounts as
``Decimal``, ``int`` or strings). docs/POLICY.md, "The projection", describes the order of the checks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import re
import unicodedata
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from internal_node.freetext import FREE_TEXT_FIELDS, NAME_FIELDS, mask_own_name, scan_free_text
from internal_node.leakguard import Finding, normalise, resident_id_birth_date, scan_row
from internal_node.masking import HIDDEN, RULES, MaskRule
from internal_node.policy import (
    CATEGORIES,
    FIELDS,
    KINDS,
    PARTY_KINDS,
    SEVERITIES,
    Action,
    DisclosurePolicy,
    PolicyError,
)
from keys import canonical
from keys.strict import ascii_int, calendar_date
from nodekit.i18n import N_

RowValue = str | int | None
Row = dict[str, RowValue]

NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "licence": ("decision_doc_no", "authority"),
    "penalty": ("decision_no", "authority"),
    "list_entry": ("list_type", "doc_no", "deciding_dept"),
    "commitment": ("commitment_code",),
    "gov_credit": ("record_no", "department"),
}
"""Each record kind's natural key (subjects are keyed by :func:`subject_identifier`)."""

DOC_NO_FIELDS = {
    "licence": "decision_doc_no",
    "penalty": "decision_no",
    "list_entry": "doc_no",
    "commitment": "commitment_code",
    "gov_credit": "record_no",
}
DECISION_DATE_FIELDS = {
    "licence": "decision_date",
    "penalty": "decision_date",
    "list_entry": "listed_date",
    "commitment": "commitment_date",
    "gov_credit": "occurred_date",
}
DATE_FIELDS = frozenset(
    {
        "decision_date",
        "valid_from",
        "valid_to",
        "penalty_valid_until",
        "listed_date",
        "valid_until",
        "removed_date",
        "commitment_date",
        "determined_date",
        "occurred_date",
        "due_date",
        "resolved_date",
        "birth_date",
    }
)

# record_status / withdrawal_reason values (docs/DATA.md) that withdraw a record, and the reason sent
WITHDRAWING = {"repaired": "repaired", "revoked": "revoked", "objection_upheld": "objection-upheld"}
PUBLISHABLE_STATUSES = frozenset({"", "normal", "updated"})
HOLD_REASONS = frozenset({"needs-review", "held", "incomplete"})

# the subject's fields, and the party fields of a record that stand for them when no subject is given
SUBJECT_FROM_PARTY = {
    "name": "party_name",
    "category": "party_category",
    "uscc": "party_uscc",
    "id_type": "party_id_type",
    "id_no": "party_id_no",
    "legal_rep": "legal_rep",
    "legal_rep_id_type": "legal_rep_id_type",
    "legal_rep_id_no": "legal_rep_id_no",
}
PARTY_TO_SUBJECT = {party: subj for subj, party in SUBJECT_FROM_PARTY.items()}

RENAMED = {("subject", "id_no"): "id_masked"}
"""Row names that differ from the stored field's (docs/DATA.md: subjects publish ``id_masked``)."""


# --- outcomes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Publish:
    """Upsert ``row`` as ``version`` of ``key`` in ``table`` on the public side."""

    table: str
    key: str
    version: int
    row: Row


@dataclass(frozen=True)
class Withdraw:
    """Remove ``key`` from ``table`` on the public side, for ``reason`` (a code of WITHDRAWAL_REASONS)."""

    table: str
    key: str
    version: int
    reason: str


@dataclass(frozen=True)
class Hold:
    """Not published until an operator acts; ``detail`` says what is missing (never record contents)."""

    table: str
    key: str
    version: int
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Review:
    """This version waits for a person: the leak guard or a free-text detector found something in its
    row. Nothing is sealed for it; the version published before, if any, stays published until a
    person decides (docs/adr/0009-review-hold.md). ``row`` is what would be published if a person
    approves this exact version; it never leaves the internal node otherwise."""

    table: str
    key: str
    version: int
    findings: tuple[Finding, ...]
    row: Row = dataclasses.field(default_factory=dict, repr=False, compare=False)


Outcome = Publish | Withdraw | Hold | Review

KnownId = Callable[[str], bool]
"""Whether the credit database holds this (18-character, upper-case) ID number for some subject."""

NUMBER_FIELDS: dict[str, tuple[str, ...]] = {
    "licence": ("doc_no", "decision_doc_no", "licence_no"),
    "penalty": ("doc_no", "decision_no"),
    "list_entry": ("doc_no",),
    "gov_credit": ("doc_no", "record_no"),
}
"""Licence- and decision-number fields, where an 18-character value passing the ID check is an ID
number only if the database holds it or it fails the kind's declared number format (``[numbers]``)."""


def to_send(outcome: Outcome, *, published: bool) -> Outcome | None:
    """What export sends for ``outcome`` given whether the record is on the public side now.

    Publish: sent. Withdraw: sent only if published (nothing to take back otherwise). Hold: a published
    record is withdrawn with the hold's reason, an unpublished one sends nothing. Review: returned as
    is — the caller records the hold and seals nothing for it (the published version, if any, stays).
    """
    if isinstance(outcome, Publish | Review):
        return outcome
    if not published:
        return None
    if isinstance(outcome, Hold):
        return Withdraw(outcome.table, outcome.key, outcome.version, outcome.reason)
    return outcome


# --- keys ----------------------------------------------------------------------------------------


def opaque_key(pseudonym_key: bytes, table: str, parts: Iterable[str]) -> str:
    """First 16 bytes (hex) of HMAC-SHA256(pseudonym_key, table NUL part NUL part …)."""
    if len(pseudonym_key) < 16:
        raise ValueError("the pseudonym key must be at least 16 bytes")
    message = "\x00".join([table, *parts]).encode("utf-8")
    return hmac.new(pseudonym_key, message, hashlib.sha256).digest()[:16].hex()


def _clean(value: object) -> str:
    return "" if value is None else str(value).strip()


def _id_number(value: object) -> str:
    return "".join(unicodedata.normalize("NFKC", _clean(value)).split()).upper()


def subject_identifier(subject: Mapping[str, Any]) -> tuple[str, ...]:
    """What identifies a subject: ``("uscc", USCC)``, else ``(id_type, ID number)``, else ``("name", name)``."""
    uscc = _clean(subject.get("uscc")).upper()
    if uscc:
        return ("uscc", uscc)
    id_no = _id_number(subject.get("id_no"))
    if id_no:
        return (_clean(subject.get("id_type")), id_no)
    return ("name", _clean(subject.get("name")))


def subject_key(pseudonym_key: bytes, subject: Mapping[str, Any]) -> str:
    """The opaque, stable key of a subject: no natural person's ID number crosses the gap."""
    return opaque_key(pseudonym_key, "subject", subject_identifier(subject))


def record_key(pseudonym_key: bytes, kind: str, record: Mapping[str, Any]) -> str:
    """The opaque, stable key of a record of ``kind`` (its table), from its natural key."""
    if kind == "subject":
        return subject_key(pseudonym_key, record)
    return opaque_key(pseudonym_key, kind, (_clean(record.get(f)) for f in NATURAL_KEYS[kind]))


# --- values --------------------------------------------------------------------------------------


class _Invalid:
    pass


_INVALID = _Invalid()


def as_date(value: object) -> date | _Invalid | None:
    """A date from a ``date``, a ``datetime`` or an ISO ``YYYY-MM-DD`` string; None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parsed = calendar_date(value.strip()) if isinstance(value, str) else None
    return _INVALID if parsed is None else parsed


_TYPE_SEPARATORS = re.compile(r"[;；,，、\s]+")


def row_value(field: str, value: object) -> RowValue:
    """A stored value in the row's types: dates ISO, amounts as decimal strings, penalty types joined."""
    if value is None:
        return None
    if field == "penalty_types":
        items = value if isinstance(value, list | tuple | set | frozenset) else _TYPE_SEPARATORS.split(str(value))
        return ";".join(s for s in (str(i).strip() for i in items) if s)
    if field in DATE_FIELDS:
        parsed = as_date(value)
        if isinstance(parsed, date):
            return parsed.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if abs(value) <= canonical.MAX_SAFE_INT else str(value)
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f") if math.isfinite(value) else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def apply(action: Action, field: str, value: object) -> RowValue:
    """``value`` after ``action`` (a dropped field gives None; callers omit it from the row)."""
    if action.op == "drop":
        return None
    converted = row_value(field, value)
    if action.op == "mask":
        return RULES[action.rule](converted)
    return converted


# --- the projection ------------------------------------------------------------------------------


def _version(record: Mapping[str, Any]) -> int:
    value = record.get("version", 0)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"record version must be an integer, found {type(value).__name__}")
    if isinstance(value, str):
        number = ascii_int(value.strip())
        if number is None:
            raise ValueError(f"record version must be an integer, found {value!r}")
        return number
    return value


def _subject_view(kind: str, record: Mapping[str, Any], subject: Mapping[str, Any] | None) -> dict[str, Any]:
    """The subject's fields: the subject mapping, completed from the record's party fields."""
    if kind == "subject":
        return dict(record)
    view: dict[str, Any] = {}
    if kind in PARTY_KINDS:
        view = {f: record.get(p) for f, p in SUBJECT_FROM_PARTY.items()}
    elif kind == "gov_credit":
        view = {"name": record.get("department"), "category": "government", "uscc": record.get("department_uscc")}
    for name, value in (subject or {}).items():
        if value is not None and value != "":
            view[name] = value
    return view


def eighteenth_birthday(born: date) -> date:
    """The day a person born on ``born`` turns 18 (29 February births: 1 March in a common year)."""
    try:
        return born.replace(year=born.year + 18)
    except ValueError:
        return date(born.year + 18, 3, 1)


def project(
    kind: str,
    record: Mapping[str, Any],
    subject: Mapping[str, Any] | None,
    policy: DisclosurePolicy,
    *,
    today: date,
    pseudonym_key: bytes,
    known_id: KnownId | None = None,
) -> Outcome:
    """Decide what the public side gets of ``record`` (of ``kind``) about ``subject`` on ``today``.

    ``known_id`` answers whether the credit database holds an ID number (the field-aware ID guard);
    without it every value passing the ID check counts as one."""
    if kind not in KINDS:
        raise PolicyError(
            N_("unknown record kind {kind!r} (known: {known})"),
            params={"kind": kind, "known": ", ".join(KINDS)},
            reason="kind",
        )
    if isinstance(today, datetime):
        today = today.date()
    table = kind
    key = record_key(pseudonym_key, kind, record)
    version = _version(record)

    def hold(reason: str, detail: str = "") -> Hold:
        return Hold(table, key, version, reason, detail)

    def withdraw(reason: str) -> Withdraw:
        return Withdraw(table, key, version, reason)

    # 1. the record's own state: deleted, withdrawn for a reason, not public
    status = _clean(record.get("record_status")).lower()
    if status == "deleted":
        return withdraw("deleted")
    if status in WITHDRAWING:
        return withdraw(WITHDRAWING[status])
    if status not in PUBLISHABLE_STATUSES:
        return hold("incomplete", f"record_status {status!r} is not a known status")
    reason = _clean(record.get("withdrawal_reason")).lower()
    if reason:
        return (
            withdraw(WITHDRAWING[reason]) if reason in WITHDRAWING else hold("incomplete", "unknown withdrawal_reason")
        )
    disclosure = _clean(record.get("disclosure")) or "public"
    if disclosure not in policy.export_classes:
        return withdraw("not-public")

    # 2. who the record is about: a natural person needs an ID number, and a minor is never published
    view = _subject_view(kind, record, subject)
    category = _clean(view.get("category"))
    if kind == "gov_credit" and not category:
        category = "government"
    if category not in CATEGORIES:
        return hold("incomplete", "subject category missing or unknown")
    decision_field = DECISION_DATE_FIELDS.get(kind)
    decided = as_date(record.get(decision_field)) if decision_field else today
    if isinstance(decided, _Invalid):
        return hold("incomplete", f"{decision_field}: not a date")
    if category == "natural_person":
        id_no = _id_number(view.get("id_no"))
        if not id_no:
            return hold("needs-review", "natural person without an ID number")
        born = as_date(view.get("birth_date"))
        if not isinstance(born, date) and _clean(view.get("id_type")) in ("", "resident_id"):
            born = resident_id_birth_date(id_no)
        if not isinstance(born, date):
            if policy.unknown_age == "hold":
                return hold("needs-review", "age of a natural person cannot be established")
        elif decided is None:
            return hold("incomplete", f"{decision_field}: missing (needed to tell a minor)")
        elif decided < eighteenth_birthday(born):
            return withdraw("minor")

    # 3. holds an operator or the ingest put on the record or its subject
    for source in (record, subject or {}):
        held = _clean(source.get("held_reason"))
        if held:
            return hold(held if held in HOLD_REASONS else "held", "held_reason set")

    # 4. the publication period
    ends = _period_ends(kind, record, policy, decided)
    if isinstance(ends, str):
        return hold("incomplete", ends)
    publish_until: date | None = None
    end_reason = "expired"
    for end, why in ends:
        if publish_until is None or end < publish_until:
            publish_until, end_reason = end, why
    if publish_until is not None and today > publish_until:
        return withdraw(end_reason)

    # 5. the row, the subject's own name masked in its free text, then the leak guard over all of it
    # and the free-text detectors over its free text: anything found waits for a person
    row = build_row(kind, record, view, category, policy, publish_until, subject_key(pseudonym_key, view))
    own_name = _clean(view.get("name")) if category == "natural_person" else ""
    free = sorted(FREE_TEXT_FIELDS[kind] & row.keys())
    if own_name:
        shown = row.get("subject_name")
        masked = shown if isinstance(shown, str) and shown else HIDDEN
        for name in free:
            value = row[name]
            if isinstance(value, str):
                row[name] = mask_own_name(value, own_name, masked)
    findings = _number_fields(kind, row, scan_row(kind, key, row), policy, known_id)
    # a field is never its own exemption: a name typed into certificate_name (both a name and free
    # text) must not be waved through because the row shows certificate_name anyway
    names = [(f, v) for f in NAME_FIELDS if isinstance(v := row.get(f), str)]
    for name in free:
        value = row[name]
        if not isinstance(value, str) or not value:
            continue
        exempt = [v for f, v in names if f != name] + ([own_name] if own_name else [])
        for hit in scan_free_text(value, exempt_names=exempt):
            finding = Finding(table, key, name, hit.rule, hit.description, match=hit.match, context=hit.context)
            if not any((f.field, f.rule, f.description) == (name, hit.rule, hit.description) for f in findings):
                findings.append(finding)
    if findings:
        return Review(table, key, version, tuple(findings), row)
    return Publish(table, key, version, row)


def _number_fields(
    kind: str, row: Row, findings: list[Finding], policy: DisclosurePolicy, known_id: KnownId | None
) -> list[Finding]:
    """The field-aware ID guard: in a licence- or decision-number field whose whole value is 18
    characters passing the ID check, the value is an ID number only if the database holds it or it
    fails the kind's declared number format; anywhere else the check alone decides."""
    fields = NUMBER_FIELDS.get(kind, ())
    kept: list[Finding] = []
    for f in findings:
        value = row.get(f.field)
        if f.rule == "resident-id" and f.field in fields and isinstance(value, str):
            number = "".join(normalise(value).split()).upper()
            if len(number) == 18 and number == f.match.upper():
                known = known_id is None or known_id(number)
                if not known and policy.number_format_matches(kind, number):
                    continue
        kept.append(f)
    return kept


def _period_ends(
    kind: str, record: Mapping[str, Any], policy: DisclosurePolicy, decided: date | None
) -> list[tuple[date, str]] | str:
    """Every date after which the record must not be shown, with the withdrawal reason it gives, or
    a problem (for a hold)."""
    if kind == "subject":
        return []
    ends: list[tuple[date, str]] = []
    severity = None
    if kind == "penalty":
        severity = _clean(record.get("severity")).lower()
        if severity not in SEVERITIES:
            return "severity missing or unknown"
    period = policy.period(kind, severity)
    if period.count is not None:
        if decided is None:
            return f"{DECISION_DATE_FIELDS[kind]}: missing (the publication period counts from it)"
        end = period.end(decided)
        if end is not None:
            ends.append((end, "expired"))
    own = {"penalty": ("publish_until",), "gov_credit": ("publish_until",), "list_entry": ("valid_until",)}
    for name in own.get(kind, ()):
        value = as_date(record.get(name))
        if isinstance(value, _Invalid):
            return f"{name}: not a date"
        if value is not None:
            ends.append((value, "expired"))
    if kind == "list_entry":
        removed = as_date(record.get("removed_date"))
        if isinstance(removed, _Invalid):
            return "removed_date: not a date"
        if removed is not None:
            # removed on that day: shown until the day before
            ends.append((removed - timedelta(days=1), "removed"))
    return ends


def build_row(
    kind: str,
    record: Mapping[str, Any],
    view: Mapping[str, Any],
    category: str,
    policy: DisclosurePolicy,
    publish_until: date | None,
    skey: str,
) -> Row:
    """The published row: the common fields, then each of the kind's fields the policy does not drop.

    Every value taken from the record or the subject passes through its field's action; subject_name
    and uscc follow the subject kind's ``name`` and ``uscc`` actions."""
    doc_field = DOC_NO_FIELDS.get(kind)
    row: Row = {
        "subject_key": skey,
        "subject_name": apply(policy.action("subject", "name", category), "name", view.get("name")),
        "subject_category": category,
        "uscc": apply(policy.action("subject", "uscc", category), "uscc", view.get("uscc")),
        "doc_no": apply(policy.action(kind, doc_field, category), doc_field, record.get(doc_field))
        if doc_field
        else None,
        "publish_until": publish_until.isoformat() if publish_until else None,
        "source_unit": apply(policy.action(kind, "source_unit", category), "source_unit", record.get("source_unit")),
    }
    for step in field_plan(policy, kind, category):
        value = record.get(step.field)
        if value is None and step.fallback is not None:
            value = view.get(step.fallback)
        converted = value if step.plain and type(value) is str else row_value(step.field, value)
        row[step.name] = converted if step.mask is None else step.mask(converted)
    return row


@dataclass(frozen=True, slots=True)
class FieldStep:
    """One published field of a kind's row under one policy and subject category, decided once."""

    name: str  # in the row
    field: str  # as stored
    mask: MaskRule | None  # None: published as converted by :func:`row_value`
    plain: bool  # a ``str`` value is its own row value (neither a date field nor penalty types)
    fallback: str | None  # the subject field a party field takes when the record leaves it empty


# plans per policy object (a policy is immutable; its digest is costly to compute per record)
_PLANS: dict[int, tuple[weakref.ref[DisclosurePolicy], dict[tuple[str, str], tuple[FieldStep, ...]]]] = {}
_COMMON_NAMES = ("subject_key", "subject_name", "subject_category", "uscc", "doc_no", "publish_until", "source_unit")


def field_plan(policy: DisclosurePolicy, kind: str, category: str) -> tuple[FieldStep, ...]:
    """The fields :func:`build_row` writes after the common ones, with their actions resolved: the same
    for every record of ``kind`` about a subject of ``category``, so worked out once per policy object. Dropped fields are not in the plan; the order is the kind's."""
    held = _PLANS.get(id(policy))
    if held is None or held[0]() is not policy:
        if len(_PLANS) > 64:  # policies come and go in a long-running process; plans are cheap to redo
            _PLANS.clear()
        held = _PLANS[id(policy)] = (weakref.ref(policy), {})
    plans = held[1]
    plan = plans.get((kind, category))
    if plan is not None:
        return plan
    steps: list[FieldStep] = []
    seen = set(_COMMON_NAMES)  # uscc and source_unit are common fields, set by the same action
    for field in FIELDS[kind]:
        name = RENAMED.get((kind, field), field)
        if name in seen:
            continue
        seen.add(name)
        action = policy.action(kind, field, category)
        if action.op == "drop":
            continue
        steps.append(
            FieldStep(
                name=name,
                field=field,
                mask=RULES[action.rule] if action.op == "mask" else None,
                plain=field not in DATE_FIELDS and field != "penalty_types",
                fallback=PARTY_TO_SUBJECT.get(field) if kind in PARTY_KINDS else None,
            )
        )
    plan = plans[(kind, category)] = tuple(steps)
    return plan
