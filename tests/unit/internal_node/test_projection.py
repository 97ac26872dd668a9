"""The publishable projection: rows after masking, withdrawals, holds, minors, publication periods,
the leak guard on the whole row, the keys and the digest of what would be sealed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from internal_node.policy import (
    DEFAULT_POLICY_TOML,
    FIELDS,
    KINDS,
    DisclosurePolicy,
    PolicyError,
    default_policy,
    parse_policy,
)
from internal_node.projection import (
    Hold,
    Outcome,
    Publish,
    Review,
    Withdraw,
    opaque_key,
    project,
    record_key,
    subject_key,
    to_send,
)
from keys import canonical
from tests.unit.internal_node.disclosure_samples import (
    ADDRESS,
    ADULT_ID,
    AUTHORITY_USCC,
    BANK_ACCOUNT,
    COMPANY_USCC,
    LEGAL_REP_ID,
    PHONE,
    PSEUDONYM_KEY,
    TODAY,
    gov_credit,
    party,
    penalty,
    record,
    resident_id,
    subject,
)

POLICY = default_policy()


def run(
    kind: str,
    rec: dict[str, Any],
    subj: dict[str, Any] | None = None,
    *,
    today: date = TODAY,
    policy: DisclosurePolicy = POLICY,
) -> Outcome:
    return project(kind, rec, subj, policy, today=today, pseudonym_key=PSEUDONYM_KEY)


def published(outcome: Outcome) -> dict[str, str | int | None]:
    assert isinstance(outcome, Publish), outcome
    return outcome.row


def test_samples_cover_every_field() -> None:
    for kind, fields in FIELDS.items():
        for category in ("legal_person", "natural_person"):
            assert set(fields) <= set(record(kind, category)), kind


# --- rows ----------------------------------------------------------------------------------------


def test_legal_person_penalty_row() -> None:
    rec = penalty(**party("legal_person"))
    out = run("penalty", rec)
    assert isinstance(out, Publish)
    assert (out.table, out.version) == ("penalty", 1)
    assert out.key == record_key(PSEUDONYM_KEY, "penalty", rec)
    row = out.row
    assert row["subject_key"] == subject_key(PSEUDONYM_KEY, {"uscc": COMPANY_USCC})
    assert row["subject_name"] == row["party_name"] == "昆明滇池食品有限公司"
    assert row["subject_category"] == "legal_person"
    assert row["uscc"] == row["party_uscc"] == COMPANY_USCC
    assert row["doc_no"] == row["decision_no"] == "昆市监罚〔2026〕12号"
    assert row["publish_until"] == "2027-06-01"  # general: 1 year from 2026-06-01
    assert row["source_unit"] == "昆明市市场监督管理局"
    assert row["penalty_types"] == "fine;warning"
    assert row["fine_amount"] == "2.000000" and row["confiscation_amount"] == "0"
    assert row["decision_date"] == "2026-06-01"
    assert row["authority_uscc"] == AUTHORITY_USCC
    assert row["legal_rep"] == "李四"
    for dropped in ("legal_rep_id_no", "legal_rep_id_type", "party_tax_no", "remarks", "version"):
        assert dropped not in row
    assert list(row)[:7] == [
        "subject_key",
        "subject_name",
        "subject_category",
        "uscc",
        "doc_no",
        "publish_until",
        "source_unit",
    ]
    assert canonical.decode(canonical.encode(dict(row))) == row  # strings, ints and nulls only


def test_natural_person_penalty_row_is_masked() -> None:
    row = published(run("penalty", penalty(**party("natural_person"))))
    assert row["subject_name"] == row["party_name"] == "张**"
    assert row["party_id_no"] == ADULT_ID[:6] + "********" + ADULT_ID[-4:]
    assert row["uscc"] is None
    assert "party_tax_no" not in row and "party_reg_no" not in row
    assert row["subject_key"] == subject_key(PSEUDONYM_KEY, {"id_type": "resident_id", "id_no": ADULT_ID})


def test_penalty_types_as_a_list_and_with_chinese_separators() -> None:
    assert (
        published(run("penalty", {**penalty(**party("legal_person")), "penalty_types": ["fine", "warning"]}))[
            "penalty_types"
        ]
        == "fine;warning"
    )
    assert (
        published(run("penalty", {**penalty(**party("legal_person")), "penalty_types": "fine； warning"}))[
            "penalty_types"
        ]
        == "fine;warning"
    )


def test_subject_rows() -> None:
    natural = published(run("subject", subject("natural_person")))
    assert natural["name"] == natural["subject_name"] == "张**"
    assert natural["id_masked"] == ADULT_ID[:6] + "********" + ADULT_ID[-4:]
    assert "id_no" not in natural and "address" not in natural and "phone" not in natural
    assert natural["doc_no"] is None and natural["publish_until"] is None
    company = published(run("subject", subject("legal_person")))
    assert company["name"] == "昆明滇池食品有限公司" and company["uscc"] == COMPANY_USCC
    assert company["address"] == "云南省昆明市官渡区春城路100号"  # an organisation's registered address
    assert "phone" not in company and "legal_rep_id_no" not in company
    assert company["subject_key"] == subject_key(PSEUDONYM_KEY, subject("legal_person"))


def test_the_subject_mapping_completes_the_party_fields() -> None:
    rec = penalty(**party("natural_person"))
    for name in ("party_name", "party_id_no", "party_category", "party_id_type"):
        rec[name] = None
    row = published(run("penalty", rec, subject("natural_person")))
    assert row["subject_name"] == row["party_name"] == "张**"
    assert row["party_id_no"] == ADULT_ID[:6] + "********" + ADULT_ID[-4:]


def test_gov_credit_is_about_the_department() -> None:
    row = published(run("gov_credit", gov_credit()))
    assert row["subject_category"] == "government"
    assert row["subject_name"] == "昆明市某区住房和城乡建设局"
    assert row["uscc"] == AUTHORITY_USCC
    assert row["amount"] == "125.5"
    assert "counterparty" not in row and "counterparty_uscc" not in row  # a third party


def test_fields_outside_the_data_contract_never_reach_a_row() -> None:
    policy = parse_policy(
        "version = 1\n[kinds.licence]\ndefault = 'publish'\nlegal_rep_id_no = 'drop'\nparty_id_no = 'drop'\n"
    )
    rec = {
        **record("licence", "legal_person"),
        "id": 7,
        "subject_id": 3,
        "change_seq": 99,
        "bank_account": BANK_ACCOUNT,
    }
    row = published(run("licence", rec, policy=policy))
    assert not {"id", "subject_id", "change_seq", "bank_account", "held_reason", "disclosure"} & set(row)


# --- the safe defaults ---------------------------------------------------------------------------

SECRETS = (ADULT_ID, LEGAL_REP_ID, PHONE, BANK_ACCOUNT, ADDRESS, "护国路88号", "张三丰")


def _natural_person_everything(kind: str) -> dict[str, Any]:
    """A natural person's record with every DATA.md field set, personal data in every personal field,
    and fields that are not in the data contract besides."""
    rec = record(kind, "natural_person")
    rec.update({"bank_account": BANK_ACCOUNT, "phone": PHONE, "address": ADDRESS, "contact": PHONE, "id": 1})
    if kind != "subject":
        rec.update({"legal_rep": "张三丰", "legal_rep_id_type": "resident_id", "legal_rep_id_no": LEGAL_REP_ID})
    if kind == "gov_credit":
        rec.update({"counterparty": "张三丰", "counterparty_uscc": None})
    return rec


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("with_subject", [False, True])
def test_defaults_publish_no_personal_data_of_natural_persons(kind: str, with_subject: bool) -> None:
    rec = _natural_person_everything(kind)
    subj = subject("natural_person") | {"bank_account": BANK_ACCOUNT} if with_subject and kind != "gov_credit" else None
    row = published(run(kind, rec, subj))
    for value in row.values():
        for secret in SECRETS:
            assert secret not in str(value), (kind, secret, value)
    if kind != "gov_credit":
        assert row["subject_category"] == "natural_person"
        assert row["subject_name"] == "张**"


@pytest.mark.parametrize("kind", KINDS)
def test_an_id_number_in_any_field_is_masked_dropped_or_blocked(kind: str) -> None:
    for field in FIELDS[kind]:
        if field in ("category", "party_category", "id_type", "party_id_type"):
            continue  # an enumeration: a wrong value there is an ingest error, not a text field
        rec = _natural_person_everything(kind)
        rec[field] = f"见{ADULT_ID}号"
        out = run(kind, rec)
        if isinstance(out, Review):
            assert {f.field for f in out.findings} <= {field, "doc_no", "source_unit", "subject_name", "uscc"}
        elif isinstance(out, Publish):
            assert all(ADULT_ID not in str(v) for v in out.row.values()), (kind, field)
        else:  # a date or an ID number field that no longer parses: held, nothing leaves
            assert isinstance(out, Hold), (kind, field, out)


# --- withdrawals and holds -----------------------------------------------------------------------


def test_deleted_withdraws() -> None:
    out = run("penalty", {**penalty(**party("legal_person")), "record_status": "deleted", "version": 4})
    assert out == Withdraw("penalty", record_key(PSEUDONYM_KEY, "penalty", penalty()), 4, "deleted")


@pytest.mark.parametrize(
    ("value", "reason"), [("repaired", "repaired"), ("revoked", "revoked"), ("objection_upheld", "objection-upheld")]
)
def test_repaired_revoked_and_objection_upheld_withdraw(value: str, reason: str) -> None:
    rec = penalty(**party("legal_person"))
    assert run("penalty", {**rec, "withdrawal_reason": value}) == replace_reason(run("penalty", {**rec}), reason)
    assert isinstance(run("penalty", {**rec, "record_status": value}), Withdraw)


def replace_reason(out: Outcome, reason: str) -> Withdraw:
    assert isinstance(out, Publish)
    return Withdraw(out.table, out.key, out.version, reason)


def test_unknown_status_or_withdrawal_reason_is_held() -> None:
    rec = penalty(**party("legal_person"))
    out = run("penalty", {**rec, "record_status": "frozen"})
    assert isinstance(out, Hold) and out.reason == "incomplete"
    out = run("penalty", {**rec, "withdrawal_reason": "bored"})
    assert isinstance(out, Hold) and out.reason == "incomplete"


@pytest.mark.parametrize("disclosure", ["shared", "not_public", "secret"])
def test_non_public_classes_are_never_exported(disclosure: str) -> None:
    out = run("penalty", {**penalty(**party("legal_person")), "disclosure": disclosure})
    assert isinstance(out, Withdraw) and out.reason == "not-public"


def test_an_empty_export_list_exports_nothing() -> None:
    policy = parse_policy("version = 1\n[export]\nclasses = []\n")
    out = run("penalty", penalty(**party("legal_person")), policy=policy)
    assert isinstance(out, Withdraw) and out.reason == "not-public"
    assert isinstance(
        run("penalty", {**penalty(**party("legal_person")), "disclosure": None}), Publish
    )  # default public


def test_natural_person_without_id_number_is_held() -> None:
    out = run("penalty", penalty(**party("natural_person", id_no=None)))
    assert isinstance(out, Hold) and out.reason == "needs-review"
    out = run("subject", subject("natural_person", id_no="  "))
    assert isinstance(out, Hold) and out.reason == "needs-review"


def test_held_records_stay_held() -> None:
    rec = penalty(**party("legal_person"))
    out = run("penalty", {**rec, "held_reason": "operator: check the amount"})
    assert isinstance(out, Hold) and (out.reason, out.detail) == ("held", "held_reason set")
    assert "amount" not in out.detail
    out = run("penalty", rec, subject("legal_person") | {"held_reason": "needs-review"})
    assert isinstance(out, Hold) and out.reason == "needs-review"


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"severity": None}, "severity missing or unknown"),
        ({"severity": "huge"}, "severity missing or unknown"),
        ({"decision_date": "2026-13-01"}, "decision_date: not a date"),
        ({"decision_date": "yesterday"}, "decision_date: not a date"),
        ({"decision_date": None}, "decision_date: missing"),
        ({"publish_until": "soon"}, "publish_until: not a date"),
        ({"party_category": "robot"}, "subject category missing or unknown"),
    ],
)
def test_incomplete_records_are_held(change: dict[str, Any], detail: str) -> None:
    out = run("penalty", {**penalty(**party("legal_person")), **change})
    assert isinstance(out, Hold) and out.reason == "incomplete" and out.detail.startswith(detail), out


# --- minors --------------------------------------------------------------------------------------

CHILD_ID = resident_id("530102", date(2010, 3, 1), "234")
LEAPLING_ID = resident_id("530102", date(2008, 2, 29), "234")


@pytest.mark.parametrize(
    ("id_no", "decided", "minor"),
    [
        (CHILD_ID, date(2028, 2, 29), True),  # the day before the 18th birthday
        (CHILD_ID, date(2028, 3, 1), False),  # the 18th birthday
        (LEAPLING_ID, date(2026, 2, 28), True),  # born 29 February: 18 on 1 March of a common year
        (LEAPLING_ID, date(2026, 3, 1), False),
        (ADULT_ID, date(2003, 7, 13), True),
        (ADULT_ID, date(2003, 7, 14), False),
    ],
)
def test_minors_are_never_published(id_no: str, decided: date, minor: bool) -> None:
    rec = {**penalty(**party("natural_person", id_no)), "decision_date": decided, "severity": "serious"}
    out = run("penalty", rec, today=decided + timedelta(days=1))
    if minor:
        assert isinstance(out, Withdraw) and out.reason == "minor"
        assert to_send(out, published=False) is None  # never published: nothing to send
    else:
        assert isinstance(out, Publish)


def test_a_minor_is_still_not_published_as_an_adult() -> None:
    rec = {**penalty(**party("natural_person", CHILD_ID)), "decision_date": date(2026, 1, 5), "severity": "serious"}
    out = run("penalty", rec, today=date(2028, 12, 1))
    assert isinstance(out, Withdraw) and out.reason == "minor"


def test_minor_subject_rows_use_today() -> None:
    assert isinstance(run("subject", subject("natural_person", CHILD_ID), today=date(2028, 2, 29)), Withdraw)
    assert isinstance(run("subject", subject("natural_person", CHILD_ID), today=date(2028, 3, 1)), Publish)


def test_birth_date_field_and_legacy_ids() -> None:
    rec = {**penalty(**party("natural_person", "530102100301234")), "decision_date": date(2026, 1, 5)}
    assert isinstance(run("penalty", rec), Publish)  # 15-digit legacy: born 1910
    out = run("penalty", rec, subject("natural_person", "530102100301234") | {"birth_date": date(2010, 3, 1)})
    assert isinstance(out, Withdraw) and out.reason == "minor"


def test_unknown_age_is_held_unless_the_policy_says_publish() -> None:
    rec = {**penalty(**party("natural_person", "E12345678")), "party_id_type": "passport"}
    out = run("penalty", rec)
    assert isinstance(out, Hold) and out.reason == "needs-review"
    lenient = parse_policy(POLICY_TEXT_WITH_UNKNOWN_AGE_PUBLISH)
    row = published(run("penalty", rec, policy=lenient))
    assert row["party_id_no"] == "E1*****78"


POLICY_TEXT_WITH_UNKNOWN_AGE_PUBLISH = DEFAULT_POLICY_TOML.replace('unknown_age = "hold"', 'unknown_age = "publish"')


# --- publication periods -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "last_day"),
    [("minor", date(2026, 9, 1)), ("general", date(2027, 6, 1)), ("serious", date(2029, 6, 1))],
)
def test_penalty_periods_by_severity(severity: str, last_day: date) -> None:
    rec = {**penalty(**party("legal_person")), "severity": severity, "decision_date": date(2026, 6, 1)}
    assert published(run("penalty", rec, today=last_day))["publish_until"] == last_day.isoformat()
    out = run("penalty", rec, today=last_day + timedelta(days=1))
    assert isinstance(out, Withdraw) and out.reason == "expired"


def test_the_departments_date_wins_only_when_earlier() -> None:
    rec = {**penalty(**party("legal_person")), "decision_date": date(2026, 6, 1), "severity": "general"}
    assert (
        published(run("penalty", {**rec, "publish_until": date(2026, 12, 31)}, today=date(2026, 7, 1)))["publish_until"]
        == "2026-12-31"
    )
    assert (
        published(run("penalty", {**rec, "publish_until": "2030-01-01"}, today=date(2026, 7, 1)))["publish_until"]
        == "2027-06-01"
    )
    out = run("penalty", {**rec, "publish_until": date(2026, 12, 31)}, today=date(2027, 1, 1))
    assert isinstance(out, Withdraw) and out.reason == "expired"


def test_configured_periods() -> None:
    policy = parse_policy(
        DEFAULT_POLICY_TOML.replace('minor = "3m"', 'minor = "0d"').replace('licence = "none"', 'licence = "5y"')
    )
    rec = {**penalty(**party("legal_person")), "severity": "minor", "decision_date": date(2026, 6, 1)}
    assert isinstance(run("penalty", rec, today=date(2026, 6, 1), policy=policy), Publish)
    assert isinstance(run("penalty", rec, today=date(2026, 6, 2), policy=policy), Withdraw)
    lic = record("licence", "legal_person")  # decided 2025-03-01
    assert published(run("licence", lic, today=date(2030, 3, 1), policy=policy))["publish_until"] == "2030-03-01"
    assert isinstance(run("licence", lic, today=date(2030, 3, 2), policy=policy), Withdraw)
    assert published(run("licence", lic, today=date(2090, 1, 1)))["publish_until"] is None  # default: no end


def test_list_entries_end_at_valid_until_or_removal() -> None:
    rec = record("list_entry", "legal_person")  # valid until 2029-01-09
    assert published(run("list_entry", rec))["publish_until"] == "2029-01-09"
    out = run("list_entry", rec, today=date(2029, 1, 10))
    assert isinstance(out, Withdraw) and out.reason == "expired"
    removed = {**rec, "removed_date": date(2026, 11, 20), "removal_reason": "信用修复"}
    out = run("list_entry", removed)
    assert isinstance(out, Withdraw) and out.reason == "removed"
    assert published(run("list_entry", removed, today=date(2026, 11, 19)))["publish_until"] == "2026-11-19"


def test_gov_credit_and_commitments() -> None:
    rec = {**gov_credit(), "publish_until": date(2026, 12, 31)}
    assert published(run("gov_credit", rec))["publish_until"] == "2026-12-31"
    assert isinstance(run("gov_credit", rec, today=date(2027, 1, 1)), Withdraw)
    assert (
        published(run("commitment", record("commitment", "legal_person"), today=date(2099, 1, 1)))["publish_until"]
        is None
    )


def test_today_may_be_a_datetime() -> None:
    rec = penalty(**party("legal_person"))
    assert run("penalty", rec, today=datetime(2026, 11, 26, 23, 59)) == run("penalty", rec)


# --- the leak guard on the row ------------------------------------------------------------------


def test_an_id_number_in_free_text_holds_the_record_for_review() -> None:
    rec = {**penalty(**party("legal_person")), "violation_facts": f"当事人李四（身份证号{LEGAL_REP_ID}）"}
    out = run("penalty", rec)
    assert isinstance(out, Review)
    [finding] = out.findings
    assert (finding.kind, finding.key, finding.field, finding.rule) == (
        "penalty",
        out.key,
        "violation_facts",
        "resident-id",
    )
    assert LEGAL_REP_ID not in str(finding)


def test_a_classification_marking_holds_the_record_for_review() -> None:
    out = run("penalty", {**penalty(**party("legal_person")), "content": "机密★一年 处罚内容"})
    assert isinstance(out, Review) and out.findings[0].field == "content"
    out = run("penalty", {**penalty(**party("legal_person")), "content": "侵犯商业秘密，内部控制不健全"})
    assert isinstance(out, Publish)


def test_dropped_fields_are_not_scanned_because_they_are_not_sealed() -> None:
    out = run("penalty", {**penalty(**party("legal_person")), "remarks": f"【内部】{ADULT_ID}"})
    assert isinstance(out, Publish)


# --- keys ----------------------------------------------------------------------------------------


def test_keys_are_stable_opaque_and_keyed() -> None:
    rec = penalty(**party("legal_person"))
    key = record_key(PSEUDONYM_KEY, "penalty", rec)
    assert len(key) == 32 and int(key, 16) >= 0
    assert key == opaque_key(PSEUDONYM_KEY, "penalty", ["昆市监罚〔2026〕12号", "昆明市市场监督管理局"])
    assert key == record_key(PSEUDONYM_KEY, "penalty", {**rec, "content": "changed", "version": 9})
    assert key != record_key(PSEUDONYM_KEY, "penalty", {**rec, "authority": "另一机关"})
    assert key != record_key(bytes(32), "penalty", rec)
    assert key != opaque_key(PSEUDONYM_KEY, "licence", ["昆市监罚〔2026〕12号", "昆明市市场监督管理局"])
    natural = subject_key(PSEUDONYM_KEY, {"id_type": "resident_id", "id_no": ADULT_ID.lower()})
    assert natural == subject_key(PSEUDONYM_KEY, {"id_type": "resident_id", "id_no": f" {ADULT_ID} "})
    with pytest.raises(ValueError, match="at least 16 bytes"):
        opaque_key(b"short", "penalty", [])


def test_unknown_kind_and_bad_version() -> None:
    with pytest.raises(PolicyError, match="unknown record kind 'fine'"):
        run("fine", {})
    with pytest.raises(ValueError, match="version"):
        run("penalty", {**penalty(**party("legal_person")), "version": "two"})
    assert published(run("penalty", {**penalty(**party("legal_person")), "version": "3"})) is not None


# --- what export sends, and the digest of it -----------------------------------------------------


def test_to_send() -> None:
    pub = run("penalty", penalty(**party("legal_person")))
    wd = Withdraw("penalty", "k", 2, "expired")
    hold = Hold("penalty", "k", 2, "needs-review")
    block = Review("penalty", "k", 2, ())
    assert to_send(pub, published=False) is pub and to_send(pub, published=True) is pub
    assert to_send(wd, published=False) is None and to_send(wd, published=True) is wd
    assert to_send(hold, published=False) is None
    assert to_send(hold, published=True) == Withdraw("penalty", "k", 2, "needs-review")
    assert to_send(block, published=True) is block and to_send(block, published=False) is block
