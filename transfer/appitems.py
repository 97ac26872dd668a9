"""The format-2 item kinds of the applications workflow: binding requests and decisions, applications
(objection, repair, complaint) with their disarmed attachments, the internal node's acknowledgements
(received, due) and application decisions (docs/FORMAT.md §10.6). Pure schema checks; ``transfer.items``
calls them."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from keys.errors import EncodingError
from keys.strict import calendar_date, matches, whole
from keys.times import parse_time
from transfer.errors import PackageRejected

Item = dict[str, Any]

# Kinds that only a format-2 package may carry (FORMAT.md §10.2); a format-1 reader never sees them.
FORMAT2_KINDS = frozenset(
    {"binding-request", "binding-decision", "application", "application-status", "application-decision"}
)
APPLICATION_TYPES = frozenset({"objection", "repair", "complaint"})
STATUS_TYPES = APPLICATION_TYPES | {"binding"}  # what an acknowledgement names: an application or a binding
SUBJECT_CATEGORIES = frozenset({"legal", "natural"})
BINDING_DECISIONS = frozenset({"approved", "refused"})
# which categories and which decisions each application type admits
CATEGORIES: dict[str, frozenset[str]] = {
    "objection": frozenset({"inaccurate", "wrong-subject", "overdue", "other"}),
    "repair": frozenset({"repair"}),
    "complaint": frozenset({"department", "subject", "platform", "other"}),
}
DECISIONS: dict[str, frozenset[str]] = {
    "objection": frozenset({"upheld", "partially-upheld", "rejected", "not-accepted"}),
    "repair": frozenset({"approved", "refused", "not-accepted"}),
    "complaint": frozenset({"answered", "not-accepted"}),
}
ATTACHMENT_TYPES = frozenset({"image/png", "image/jpeg"})  # after content disarm: images only
MAX_ATTACHMENTS = 5
MAX_ATTACHMENT = 4 * 1024 * 1024  # decoded bytes of one disarmed attachment
MAX_TEXT = 16384  # bytes of UTF-8: a statement, a reason
MAX_NAME = 400  # bytes of UTF-8: a subject's or a complaint target's name
MAX_REP = 200
MAX_CONTACT = 64
RECORD_TABLES = frozenset({"subject", "licence", "penalty", "list_entry", "commitment", "gov_credit"})
_ID = whole(r"[0-9a-f]{32}")
# GB 32100 alphabet (no I, O, S, V, Z) for a credit code; GB 11643 for a resident ID number. The check
# characters are verified on the internal node, against its own data: here only the form.
_USCC = whole(r"[0-9A-HJ-NPQRTUWXY]{18}")
_ID_NUMBER = whole(r"[0-9]{17}[0-9X]")
_DIGIT_RUN = re.compile(r"\d{7}")  # any script: see transfer.items
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_CTRL = re.compile(r"[\x00-\x1f\x7f]")


def _bad(kind: str, what: str) -> PackageRejected:
    return PackageRejected(f"{kind} item: {what}", reason="bad-schema")


def _members(item: Item, kind: str, members: frozenset[str]) -> None:
    if item.keys() != members:
        raise _bad(kind, f"members {sorted(item)}; expected {sorted(members)}")


def _too_long(v: str, limit: int) -> bool:
    return len(v) > limit // 4 and len(v.encode("utf-8", "surrogatepass")) > limit


def _text(item: Item, key: str, kind: str, limit: int, *, nullable: bool = False) -> None:
    v = item[key]
    if v is None and nullable:
        return
    if not isinstance(v, str) or not v.strip() or _too_long(v, limit):
        raise _bad(kind, f"{key} must be a non-blank string of at most {limit} bytes of UTF-8")


def _id(item: Item, key: str, kind: str, *, nullable: bool = False) -> None:
    v = item[key]
    if v is None and nullable:
        return
    if not matches(v, _ID):
        raise _bad(kind, f"{key} must be 32 lowercase hex digits")


def _one_of(item: Item, key: str, kind: str, allowed: frozenset[str]) -> None:
    v = item[key]
    if not isinstance(v, str) or v not in allowed:
        raise _bad(kind, f"{key} {repr(v)[:40]} is not one of {sorted(allowed)}")


def _time(item: Item, key: str, kind: str) -> None:
    try:
        parse_time(item[key], key)
    except EncodingError as exc:
        raise _bad(kind, str(exc)) from exc


def _masked(item: Item, kind: str) -> None:
    contact = item["contact"]
    if contact is not None and (
        not isinstance(contact, str) or _too_long(contact, MAX_CONTACT) or "*" not in contact
        or _DIGIT_RUN.search(contact)
    ):  # fmt: skip
        raise _bad(kind, f"contact must be null or a masked hint (with '*', at most 6 digits in a row, "
                         f"at most {MAX_CONTACT} bytes)")  # fmt: skip


_BINDING_REQUEST = frozenset(
    {"kind", "id", "account", "submitted", "subject_category", "identifier", "name", "legal_rep", "contact"}
)
_BINDING_DECISION = frozenset({"kind", "id", "decision", "subject_key", "decided", "reason"})
_APPLICATION = frozenset(
    {"kind", "id", "type", "binding", "table", "key", "version", "submitted", "category", "target", "statement",
     "contact", "attachments"}
)  # fmt: skip
_APPLICATION_STATUS = frozenset({"kind", "id", "type", "received", "due"})
_APPLICATION_DECISION = frozenset({"kind", "id", "type", "decision", "decided", "reason"})
_ATTACHMENT = frozenset({"name", "media_type", "data"})


def binding_request(item: Item) -> None:
    """An account's claim to act for a subject: the full identifiers the claimant gave (public → internal)."""
    kind = "binding-request"
    _members(item, kind, _BINDING_REQUEST)
    _id(item, "id", kind)
    _id(item, "account", kind)
    _time(item, "submitted", kind)
    _one_of(item, "subject_category", kind, SUBJECT_CATEGORIES)
    pattern = _USCC if item["subject_category"] == "legal" else _ID_NUMBER
    if not matches(item["identifier"], pattern):
        what = "an 18-character unified social credit code" if pattern is _USCC else "an 18-character ID number"
        raise _bad(kind, f"identifier must be {what}")
    _text(item, "name", kind, MAX_NAME)
    _text(item, "legal_rep", kind, MAX_REP, nullable=True)
    if item["subject_category"] == "legal" and item["legal_rep"] is None:
        raise _bad(kind, "legal_rep is required for a legal person")
    # the contact of a binding request is the claimant's own, in full: the credit office calls it back
    _text(item, "contact", kind, MAX_CONTACT)


def binding_decision(item: Item) -> None:
    """The credit office's decision on a binding request (internal → public)."""
    kind = "binding-decision"
    _members(item, kind, _BINDING_DECISION)
    _id(item, "id", kind)
    _one_of(item, "decision", kind, BINDING_DECISIONS)
    _id(item, "subject_key", kind, nullable=True)
    if (item["decision"] == "approved") != (item["subject_key"] is not None):
        raise _bad(kind, "subject_key is set exactly when the binding is approved")
    _time(item, "decided", kind)
    _text(item, "reason", kind, MAX_TEXT)


def _attachment(att: object, kind: str, index: int) -> None:
    if not isinstance(att, dict) or att.keys() != _ATTACHMENT:
        raise _bad(kind, f"attachments[{index}] must be an object with {sorted(_ATTACHMENT)}")
    name = att["name"]
    if (
        not isinstance(name, str)
        or not 1 <= len(name.encode("utf-8", "surrogatepass")) <= 255
        or name.startswith(".")
        or any(c in name for c in "/\\")
        or _CTRL.search(name)
    ):
        raise _bad(kind, f"attachments[{index}].name must be a plain file name (no path, control or leading dot)")
    media_type = att["media_type"]
    if not isinstance(media_type, str) or media_type not in ATTACHMENT_TYPES:
        raise _bad(kind, f"attachments[{index}].media_type must be one of {sorted(ATTACHMENT_TYPES)}")
    data = att["data"]
    if not isinstance(data, str) or len(data) > (MAX_ATTACHMENT // 3 + 1) * 4:
        raise _bad(kind, f"attachments[{index}].data must be base64 of at most {MAX_ATTACHMENT} bytes")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(kind, f"attachments[{index}].data is not valid base64") from None
    if len(raw) > MAX_ATTACHMENT or attachment_type(raw) != media_type:
        raise _bad(kind, f"attachments[{index}] is not a whole {media_type} image (content check, FORMAT.md §10.6)")


def attachment_type(data: bytes) -> str | None:
    """``image/png`` or ``image/jpeg`` if ``data`` is one whole image of that type and nothing after it."""
    # ending in the image's own end marker: nothing appended after it (a polyglot's second file)
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and data.endswith(_PNG_END):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff") and data.endswith(b"\xff\xd9"):
        return "image/jpeg"
    return None


def application(item: Item) -> None:
    """An objection, repair application or complaint with its disarmed attachments (public → internal)."""
    kind = "application"
    _members(item, kind, _APPLICATION)
    _id(item, "id", kind)
    _one_of(item, "type", kind, APPLICATION_TYPES)
    typ = item["type"]
    _id(item, "binding", kind, nullable=True)
    record = (item["table"], item["key"], item["version"])
    if typ != "complaint":
        if item["binding"] is None or None in record:
            raise _bad(kind, f"an application of type {typ} names its binding and the record (table, key, version)")
    elif record != (None, None, None) and None in record:
        raise _bad(kind, "a complaint names a record completely (table, key, version) or not at all")
    if item["table"] is not None:
        _one_of(item, "table", kind, RECORD_TABLES)
        _id(item, "key", kind)
        v = item["version"]
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 2**53 - 1:
            raise _bad(kind, "version must be an integer from 1 to 2^53-1")
    _time(item, "submitted", kind)
    _one_of(item, "category", kind, CATEGORIES[typ])
    _text(item, "target", kind, MAX_NAME, nullable=True)
    _text(item, "statement", kind, MAX_TEXT)
    _masked(item, kind)
    atts = item["attachments"]
    if not isinstance(atts, list) or len(atts) > MAX_ATTACHMENTS:
        raise _bad(kind, f"attachments must be a list of at most {MAX_ATTACHMENTS}")
    for i, att in enumerate(atts):
        _attachment(att, kind, i)


def application_status(item: Item) -> None:
    """The internal node's acknowledgement of a binding request or an application: when it was received
    and the date it is due to be decided by (internal → public)."""
    kind = "application-status"
    _members(item, kind, _APPLICATION_STATUS)
    _id(item, "id", kind)
    _one_of(item, "type", kind, STATUS_TYPES)
    _time(item, "received", kind)
    due = item["due"]
    if not isinstance(due, str) or calendar_date(due) is None:
        raise _bad(kind, "due must be a YYYY-MM-DD calendar date")
    if due < item["received"][:10]:
        raise _bad(kind, "due is before the day the application was received")


def application_decision(item: Item) -> None:
    """The credit office's decision on an application, with its reasons (internal → public)."""
    kind = "application-decision"
    _members(item, kind, _APPLICATION_DECISION)
    _id(item, "id", kind)
    _one_of(item, "type", kind, APPLICATION_TYPES)
    _one_of(item, "decision", kind, DECISIONS[item["type"]])
    _time(item, "decided", kind)
    _text(item, "reason", kind, MAX_TEXT)


VALIDATORS = {
    "binding-request": binding_request,
    "binding-decision": binding_decision,
    "application": application,
    "application-status": application_status,
    "application-decision": application_decision,
}
