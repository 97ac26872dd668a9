"""How published fields and codes are shown: English message ids (translated through the catalogue,
zh-CN by default) for the field names and enumeration codes of docs/DATA.md. A field or code not
listed is shown as it is."""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message id for extraction; it is translated where it is shown."""
    return message


KIND_LABELS = {
    "subject": N_("Registration"),
    "licence": N_("Administrative licences"),
    "penalty": N_("Administrative penalties"),
    "list_entry": N_("List entries"),
    "commitment": N_("Credit commitments"),
    "gov_credit": N_("Government credit"),
}

# Fields never shown as rows of their own: the page shows them elsewhere, or they are internal keys.
HIDDEN_FIELDS = frozenset({"subject_key", "subject_name", "subject_category", "name", "category", "uscc"})

FIELD_LABELS = {
    "source_unit": N_("Source department"),
    "doc_no": N_("Document number"),
    "publish_until": N_("Published until"),
    "id_masked": N_("ID number (masked)"),
    "legal_rep": N_("Legal representative"),
    "registration_authority": N_("Registration authority"),
    "address": N_("Address"),
    "decision_doc_title": N_("Licence decision title"),
    "decision_doc_no": N_("Licence decision number"),
    "licence_category": N_("Licence category"),
    "certificate_name": N_("Certificate name"),
    "licence_no": N_("Licence number"),
    "content": N_("Content"),
    "decision_date": N_("Decision date"),
    "valid_from": N_("Valid from"),
    "valid_to": N_("Valid to"),
    "authority": N_("Deciding authority"),
    "licence_status": N_("Status"),
    "decision_no": N_("Decision number"),
    "violation_type": N_("Violation type"),
    "violation_facts": N_("Facts of the violation"),
    "legal_basis": N_("Legal basis"),
    "penalty_types": N_("Penalty types"),
    "fine_amount": N_("Fine (10,000 yuan)"),
    "confiscation_amount": N_("Confiscated (10,000 yuan)"),
    "penalty_valid_until": N_("Penalty valid until"),
    "severity": N_("Severity"),
    "list_type": N_("List"),
    "list_name": N_("List name"),
    "reason": N_("Reason for listing"),
    "basis": N_("Basis"),
    "deciding_dept": N_("Deciding department"),
    "listed_date": N_("Date listed"),
    "valid_until": N_("Valid until"),
    "removed_date": N_("Date removed"),
    "removal_reason": N_("Reason for removal"),
    "measures": N_("Measures"),
    "commitment_code": N_("Commitment code"),
    "commitment_type": N_("Commitment type"),
    "matter": N_("Matter"),
    "liability": N_("Liability for breach"),
    "commitment_date": N_("Commitment date"),
    "fulfilment": N_("Fulfilment"),
    "determined_date": N_("Date determined"),
    "determined_by": N_("Determined by"),
    "accepting_unit": N_("Accepting unit"),
    "record_no": N_("Record number"),
    "department": N_("Department"),
    "credit_area": N_("Area of integrity"),
    "item_type": N_("Item type"),
    "title": N_("Title"),
    "description": N_("Description"),
    "counterparty": N_("Counterparty"),
    "amount": N_("Amount (10,000 yuan)"),
    "occurred_date": N_("Date occurred"),
    "due_date": N_("Due date"),
    "outcome": N_("Outcome"),
    "resolved_date": N_("Date resolved"),
    "accountability_action": N_("Accountability action"),
}

CODE_LABELS = {
    "legal_person": N_("Legal person or organisation"),
    "natural_person": N_("Natural person"),
    "individual_business": N_("Individual business"),
    "government": N_("Government department"),
    "red": N_("Red list (trustworthy)"),
    "dishonest": N_("Serious dishonesty list"),
    "minor": N_("Minor"),
    "general": N_("General"),
    "serious": N_("Serious"),
    "valid": N_("Valid"),
    "invalid": N_("Invalid"),
    "fulfilled": N_("Fulfilled"),
    "partial": N_("Partly fulfilled"),
    "unfulfilled": N_("Not fulfilled"),
    "pending": N_("Not yet due"),
    "open": N_("Open"),
    "breached": N_("Breached"),
    "cleared": N_("Cleared"),
}
CODED_FIELDS = frozenset(
    {"licence_status", "severity", "list_type", "fulfilment", "outcome", "subject_category", "category"}
)
