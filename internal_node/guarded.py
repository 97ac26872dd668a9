"""What a department file may undo only deliberately: a record's withdrawal (credit repair, expiry,
revocation, an upheld objection, deletion) and a field an upheld objection corrected. A changed row
that would undo either is refused with one line naming the record, the withdrawal or the objection
and its date, unless the ingest was run with ``--reactivate`` / ``--override-objection`` (whose
reasons go to the transfer log)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Table, select

from internal_node.columns import KindSpec
from internal_node.projection import WITHDRAWING, record_key
from internal_node.publication import REVERSIBLE, STATE_WITHDRAW
from internal_node.pubmodels import PROTECTED_FIELD, PUBLICATION
from internal_node.rows import ValidRow
from internal_node.upsert import Guarded, Undone
from internal_node.validate import Problem
from nodekit.i18n import N_

ROW = "(row)"
LABELS = {
    "deleted": "删除", "expired": "公示期满", "removed": "移出名单", "repaired": "信用修复", "revoked": "撤销",
    "objection-upheld": "异议成立",
}  # fmt: skip


def value_digest(value: Any) -> str:
    """SHA-256 of a stored value as the ingest validated it (what a protected field keeps)."""
    plain = value.isoformat() if isinstance(value, date | datetime) else value if value is None else str(value)
    return hashlib.sha256(orjson.dumps(plain)).hexdigest()


def _withdrawn_by_record(r: Any) -> tuple[str, date] | None:
    if r.record_status == "deleted":
        return "deleted", r.updated_at.date()
    if r.withdrawal_reason in WITHDRAWING:
        return WITHDRAWING[r.withdrawal_reason], r.updated_at.date()
    return None


def _keeps_withdrawn(values: Mapping[str, Any]) -> bool:
    return values.get("record_status") == "deleted" or bool(values.get("withdrawal_reason"))


def check_changes(
    conn: Connection,
    spec: KindSpec,
    table: Table,
    guarded: Guarded,
    changed: Mapping[tuple[Any, ...], Any],
    stored: Mapping[tuple[Any, ...], Any],
    latest: Mapping[tuple[Any, ...], tuple[ValidRow, str]],
) -> tuple[dict[tuple[Any, ...], Problem], list[Undone]]:
    """Of the ``changed`` records (natural key → stored id, digest, seq), those whose new row undoes a
    withdrawal or a protected field, refused (with their problem) or, when the operator said so, let
    through and listed."""
    if not changed:
        return {}, []
    kind = spec.kind
    keys = {nk: record_key(guarded.pseudonym, kind, latest[nk][0].values) for nk in changed}
    p = PUBLICATION.c
    withdrawn: dict[str, tuple[str, date | None]] = {}
    for key, reason, on in conn.execute(
        select(p.key, p.reason, p.withdrawn_on).where(
            p.table_name == kind, p.key.in_(list(keys.values())), p.state == STATE_WITHDRAW
        )
    ):
        if reason in REVERSIBLE:
            withdrawn[key] = (reason, on)
    ids = {changed[nk][0]: nk for nk in changed}
    f = PROTECTED_FIELD.c
    protected: dict[tuple[Any, ...], list[Any]] = {}
    for prot in conn.execute(
        select(f.record_id, f.field, f.value_digest, f.objection, f.protected_at).where(
            f.table_name == kind, f.record_id.in_(list(ids))
        )
    ):
        protected.setdefault(ids[prot.record_id], []).append(prot)
    refused: dict[tuple[Any, ...], Problem] = {}
    undone: list[Undone] = []
    for nk in changed:
        given = latest[nk][0]
        label = f"{kind} {', '.join(str(given.values[k]) for k in spec.key)}"
        found = _withdrawn_by_record(stored[nk]) or withdrawn.get(keys[nk])
        if found is not None and not _keeps_withdrawn(given.values):
            reason, on = found
            if guarded.reactivate is None:
                template = (
                    N_(
                        "{record}: withdrawn ({label}, {reason}) on {when}; this row would publish it again: ingest "
                        "with --reactivate REASON if that is intended"
                    )
                    if on
                    else N_(
                        "{record}: withdrawn ({label}, {reason}) on an earlier date; this row would publish it again: "
                        "ingest with --reactivate REASON if that is intended"
                    )
                )
                refused[nk] = Problem.say(
                    given.line, ROW, template, record=label, label=LABELS.get(reason, reason), reason=reason,
                    when=on.isoformat() if on else "",
                )  # fmt: skip
                continue
            undone.append(Undone(kind, keys[nk], given.line, "reactivated"))
        for prot in protected.get(nk, []):
            if value_digest(given.values.get(prot.field)) == prot.value_digest:
                continue
            if guarded.override_objection is None:
                refused[nk] = Problem.say(
                    given.line, prot.field,
                    N_("{record}: corrected through upheld objection {objection} on {day}; this row would change "
                       "it back: ingest with --override-objection REASON if that is intended"),
                    record=label, objection=prot.objection, day=f"{prot.protected_at:%Y-%m-%d}",
                )  # fmt: skip
                break
            undone.append(Undone(kind, keys[nk], given.line, "objection-overridden"))
    return refused, undone


def protect_fields(
    conn: Connection, kind: str, record_id: int, values: Mapping[str, Any], *, objection: str, at: datetime, by: str
) -> None:
    """Protect fields corrected through an upheld objection (for the objection workflow to call)."""
    from sqlalchemy import delete, insert

    f = PROTECTED_FIELD.c
    for name, value in values.items():
        conn.execute(delete(PROTECTED_FIELD).where(f.table_name == kind, f.record_id == record_id, f.field == name))
        conn.execute(
            insert(PROTECTED_FIELD).values(
                table_name=kind,
                record_id=record_id,
                field=name,
                value_digest=value_digest(value),
                objection=objection[:64],
                protected_at=at,
                protected_by=by[:200],
            )
        )
