"""What a disclosure policy may name: the record kinds, subject categories and severities, every field
of docs/DATA.md per kind, the fields no policy may name, and the withdrawal reason codes."""

from __future__ import annotations

KINDS = ("subject", "licence", "penalty", "list_entry", "commitment", "gov_credit")
CATEGORIES = ("legal_person", "natural_person", "individual_business", "government")
SEVERITIES = ("minor", "general", "serious")
DISCLOSURE_CLASSES = ("public", "shared", "not_public")
NEVER_EXPORTED = frozenset({"shared", "not_public"})

COMMON_FIELDS = ("source_unit", "source_unit_uscc", "remarks")
PARTY_FIELDS = (
    "party_name",
    "party_category",
    "party_uscc",
    "party_reg_no",
    "party_org_code",
    "party_tax_no",
    "party_institution_no",
    "party_social_org_no",
    "legal_rep",
    "legal_rep_id_type",
    "legal_rep_id_no",
    "party_id_type",
    "party_id_no",
)
OWN_FIELDS: dict[str, tuple[str, ...]] = {
    "subject": (
        "name",
        "category",
        "uscc",
        "id_type",
        "id_no",
        "legal_rep",
        "legal_rep_id_type",
        "legal_rep_id_no",
        "registration_authority",
        "address",
        "phone",
        "birth_date",
    ),
    "licence": (
        "decision_doc_title",
        "decision_doc_no",
        "licence_category",
        "certificate_name",
        "licence_no",
        "content",
        "decision_date",
        "valid_from",
        "valid_to",
        "authority",
        "authority_uscc",
        "licence_status",
    ),
    "penalty": (
        "decision_no",
        "violation_type",
        "violation_facts",
        "legal_basis",
        "penalty_types",
        "content",
        "fine_amount",
        "confiscation_amount",
        "suspended_licence",
        "decision_date",
        "penalty_valid_until",
        "severity",
        "authority",
        "authority_uscc",
    ),
    "list_entry": (
        "list_type",
        "list_name",
        "reason",
        "basis",
        "deciding_dept",
        "doc_no",
        "listed_date",
        "valid_until",
        "removed_date",
        "removal_reason",
        "measures",
    ),
    "commitment": (
        "commitment_code",
        "commitment_type",
        "matter",
        "content",
        "liability",
        "commitment_date",
        "valid_until",
        "fulfilment",
        "determined_date",
        "determined_by",
        "accepting_unit",
    ),
    "gov_credit": (
        "record_no",
        "department",
        "department_uscc",
        "credit_area",
        "item_type",
        "title",
        "description",
        "counterparty",
        "counterparty_uscc",
        "amount",
        "occurred_date",
        "due_date",
        "outcome",
        "resolved_date",
        "accountability_action",
    ),
}
PARTY_KINDS = frozenset({"licence", "penalty", "list_entry", "commitment"})

FIELDS: dict[str, tuple[str, ...]] = {
    kind: own + (PARTY_FIELDS if kind in PARTY_KINDS else ()) + COMMON_FIELDS for kind, own in OWN_FIELDS.items()
}
"""Every field a policy may name, per kind (docs/DATA.md). No other field of a record ever reaches a
published row, whatever the policy says."""

RESERVED_FIELDS: dict[str, str] = {
    "version": "record metadata, carried by the outcome, never a row field",
    "record_status": "record metadata, never published",
    "disclosure": "record metadata, decides whether the record is exported at all",
    "held_reason": "record metadata, never published",
    "withdrawal_reason": "record metadata, never published",
    "created_at": "record metadata, never published",
    "updated_at": "record metadata, never published",
    "publish_until": "computed by the projection (the earlier of the period's end and the department's date)",
    "subject_key": "computed by the projection (a keyed hash)",
    "id": "database identity, never published",
    "subject_id": "database identity, never published",
    "natural_key": "the subject's identifier, published only as subject_key",
    "change_seq": "export bookkeeping, never published",
    "content_digest": "ingest bookkeeping, never published",
}

WITHDRAWAL_REASONS: dict[str, str] = {
    "deleted": "已删除",
    "expired": "公示期满",
    "removed": "已移出名单",
    "repaired": "信用修复",
    "revoked": "已撤销",
    "objection-upheld": "异议成立",
    "not-public": "不予公开",
    "minor": "涉及未成年人",
    "needs-review": "待审核",
    "held": "暂缓公示",
    "incomplete": "信息待补正",
}
"""Reason codes of withdrawals and holds, with the label the public side may show (overridable)."""
