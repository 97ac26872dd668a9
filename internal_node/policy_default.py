"""The default disclosure policy file that ``internal-node init`` writes into a new home."""

DEFAULT_POLICY_TOML = """\
# credgap disclosure policy (internal node): what may be published, and in which form.
# `internal-node policy check` validates this file and prints its digest; every package carries the
# digest of the policy that produced it. docs/POLICY.md describes every setting.
#
# Each field of each record kind gets one action:
#   "publish"        published as stored
#   "mask:<rule>"    published masked; rules: id_number (110105********002X), name (张*, 欧阳*),
#                    phone (138****5678), address (cut to the district), bank_account (****1234),
#                    full (***)
#   "drop"           not published at all
# For a field of kind K when the record's subject is of category C, the first of these that is set
# wins: [kinds.K.C], [kinds.K], [party.C], [party] (party fields only), then [kinds.K] default, which
# is "drop" when not given. Fields this file does not name are therefore dropped, and fields that
# are not in docs/DATA.md are never published, whatever this file says.
# Categories: legal_person, natural_person, individual_business, government. A subject of unknown
# category is treated as a natural person.
#
# Not configurable (always applied): records of natural persons under 18 on the decision date are
# never published; a natural person without an ID number is held for operator review; deleted,
# repaired, revoked and objection-upheld records are withdrawn; the leak guard blocks any row that
# holds a resident ID number or a classification marking; ID numbers are never published in full,
# legal representatives' ID numbers never at all, natural persons' phones and addresses never in full.

version = 1

[export]
# Disclosure classes that may be exported. Only "public" (可向社会公开) may be listed: "shared"
# (特定范围内公开, within government) and "not_public" (不可公开) are never exported. An empty list
# exports nothing (records already published are withdrawn).
classes = ["public"]

[periods]
# How long a record stays published, counted from its decision date (licence: decision_date;
# list_entry: listed_date; commitment: commitment_date; gov_credit: occurred_date). Durations:
# 90d, 12w, 3m, 1y, or "none" (no end). A period ends on the corresponding day (3m from 2025-01-31
# ends 2025-04-30); the record is withdrawn ("expired") the day after. The record's own end wins when
# earlier: a list entry's valid_until and removed_date, a gov_credit or penalty publish_until.
licence = "none"
list_entry = "none"
commitment = "none"
gov_credit = "none"

[periods.penalty]
# Negative information by severity (national rules of 2025: 轻微 may stay unpublished, otherwise at
# most 3 months; 一般 3 months to 1 year; 严重 1 to 3 years). The department's publish_until wins when
# it is earlier. These rules changed in 2019, 2023 and 2025: check them against the current ones.
minor = "3m"
general = "1y"
serious = "3y"

[minors]
# A natural person whose age cannot be established (no resident ID number and no birth date, e.g. a
# passport holder) may be a minor: "hold" keeps their records for operator review, "publish" does not.
unknown_age = "hold"

[withdrawal]
# The label the public side may show for each withdrawal reason (the codes are fixed).
deleted = "已删除"
expired = "公示期满"
removed = "已移出名单"
repaired = "信用修复"
revoked = "已撤销"
objection-upheld = "异议成立"
not-public = "不予公开"
minor = "涉及未成年人"
needs-review = "待审核"
held = "暂缓公示"
incomplete = "信息待补正"

[numbers]
# The format of each kind's licence and decision numbers (licence: decision_doc_no, licence_no;
# penalty: decision_no; list_entry: doc_no; gov_credit: record_no), a regular expression the whole
# value must match, or "" for none. In these fields an 18-character value that passes the resident-ID
# check counts as an ID number only if the credit database holds it for some subject or it does not
# have this format; everywhere else (and in free text) the check alone decides.
licence = "[0-9]{18}"
penalty = ""
list_entry = ""
gov_credit = ""

[party]
# The party (行政相对人) fields shared by licences, penalties, list entries and commitments.
party_name = "publish"
party_category = "publish"
party_uscc = "publish"
party_reg_no = "publish"
party_org_code = "publish"
# a legacy tax number of an individual was the owner's ID number; the USCC replaces it (三证合一)
party_tax_no = "drop"
party_institution_no = "publish"
party_social_org_no = "publish"
legal_rep = "publish"
legal_rep_id_type = "drop"
# shared within government only
legal_rep_id_no = "drop"
party_id_type = "publish"
party_id_no = "mask:id_number"

[party.natural_person]
party_name = "mask:name"
# a natural person has no legal representative: a name put there is likely their own, unmasked
legal_rep = "drop"
# a natural person has no organisation codes: whatever a department put there is not published
party_reg_no = "drop"
party_org_code = "drop"
party_institution_no = "drop"
party_social_org_no = "drop"

[kinds.subject]
# Subjects (主体). The published row's subject_name and uscc follow the name and uscc rules here,
# for the subject rows and for every record about the subject. id_no is published as id_masked.
default = "drop"
name = "publish"
category = "publish"
uscc = "publish"
id_type = "publish"
id_no = "mask:id_number"
legal_rep = "publish"
legal_rep_id_type = "drop"
legal_rep_id_no = "drop"
registration_authority = "publish"
# home addresses and contact details are never published; see [kinds.subject.legal_person]
address = "drop"
phone = "drop"
birth_date = "drop"
source_unit = "publish"
source_unit_uscc = "publish"
# free text written for the internal side
remarks = "drop"

[kinds.subject.natural_person]
name = "mask:name"
legal_rep = "drop"

[kinds.subject.legal_person]
# an organisation's registered address (住所) is public registration information
address = "publish"

[kinds.licence]
# Administrative licences (行政许可). Unnamed fields (remarks) are dropped.
default = "drop"
decision_doc_title = "publish"
decision_doc_no = "publish"
licence_category = "publish"
certificate_name = "publish"
licence_no = "publish"
content = "publish"
decision_date = "publish"
valid_from = "publish"
valid_to = "publish"
authority = "publish"
authority_uscc = "publish"
licence_status = "publish"
source_unit = "publish"
source_unit_uscc = "publish"

[kinds.penalty]
# Administrative penalties (行政处罚). publish_until is computed, see [periods.penalty].
default = "drop"
decision_no = "publish"
violation_type = "publish"
violation_facts = "publish"
legal_basis = "publish"
penalty_types = "publish"
content = "publish"
fine_amount = "publish"
confiscation_amount = "publish"
suspended_licence = "publish"
decision_date = "publish"
penalty_valid_until = "publish"
severity = "publish"
authority = "publish"
authority_uscc = "publish"
source_unit = "publish"
source_unit_uscc = "publish"

[kinds.list_entry]
# Red list (守信激励) and serious-dishonesty list (严重失信主体名单) entries.
default = "drop"
list_type = "publish"
list_name = "publish"
reason = "publish"
basis = "publish"
deciding_dept = "publish"
doc_no = "publish"
listed_date = "publish"
valid_until = "publish"
removed_date = "publish"
removal_reason = "publish"
measures = "publish"
source_unit = "publish"
source_unit_uscc = "publish"

[kinds.commitment]
# Credit commitments (信用承诺).
default = "drop"
commitment_code = "publish"
commitment_type = "publish"
matter = "publish"
content = "publish"
liability = "publish"
commitment_date = "publish"
valid_until = "publish"
fulfilment = "publish"
determined_date = "publish"
determined_by = "publish"
accepting_unit = "publish"
source_unit = "publish"
source_unit_uscc = "publish"

[kinds.gov_credit]
# Government credit (政务诚信): the subject is the department (category government).
default = "drop"
record_no = "publish"
department = "publish"
department_uscc = "publish"
credit_area = "publish"
item_type = "publish"
title = "publish"
description = "publish"
# the counterparty is a third party (possibly a natural person): its name and code are not published
counterparty = "drop"
counterparty_uscc = "drop"
amount = "publish"
occurred_date = "publish"
due_date = "publish"
outcome = "publish"
resolved_date = "publish"
accountability_action = "publish"
source_unit = "publish"
source_unit_uscc = "publish"
"""
