"""Sample records for the disclosure-policy tests: valid identifiers and one record of each kind with
every field of docs/DATA.md filled in."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

PSEUDONYM_KEY = bytes(range(32))
TODAY = date(2026, 11, 26)


def resident_id(region: str = "530102", born: date = date(1985, 7, 14), seq: str = "123") -> str:
    """An 18-character resident ID number with a correct GB 11643 check character."""
    body = f"{region}{born:%Y%m%d}{seq}"
    total = sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def uscc(body: str = "91530100MA6K12345") -> str:
    """An 18-character USCC with a correct GB 32100 check character."""
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body))
    return body + USCC_ALPHABET[(31 - total % 31) % 31]


ADULT_ID = resident_id()  # born 1985-07-14
LEGAL_REP_ID = resident_id("110105", date(1970, 1, 2), "456")
PHONE = "13812345678"
ADDRESS = "云南省昆明市五华区护国路88号3栋2单元501室"
BANK_ACCOUNT = "6222021234567890123"
COMPANY_USCC = uscc("91530100MA6K12345")
AUTHORITY_USCC = uscc("11530100MB0123456")
SOURCE_USCC = uscc("11530100MB0654321")

META = {"version": 1, "record_status": "normal", "disclosure": "public", "held_reason": None}


def party(category: str = "natural_person", id_no: str | None = ADULT_ID) -> dict[str, Any]:
    if category == "natural_person":
        return {
            "party_name": "张三丰",
            "party_category": "natural_person",
            "party_uscc": None,
            "party_reg_no": None,
            "party_org_code": None,
            "party_tax_no": id_no,
            "party_institution_no": None,
            "party_social_org_no": None,
            "legal_rep": None,
            "legal_rep_id_type": None,
            "legal_rep_id_no": None,
            "party_id_type": "resident_id",
            "party_id_no": id_no,
        }
    return {
        "party_name": "昆明滇池食品有限公司",
        "party_category": category,
        "party_uscc": COMPANY_USCC,
        "party_reg_no": "530100000012345",
        "party_org_code": "MA6K12345",
        "party_tax_no": "530100MA6K12345",
        "party_institution_no": None,
        "party_social_org_no": None,
        "legal_rep": "李四",
        "legal_rep_id_type": "resident_id",
        "legal_rep_id_no": LEGAL_REP_ID,
        "party_id_type": None,
        "party_id_no": None,
    }


def subject(category: str = "natural_person", id_no: str | None = ADULT_ID) -> dict[str, Any]:
    common = {**META, "source_unit": "昆明市市场监督管理局", "source_unit_uscc": SOURCE_USCC, "remarks": "无"}
    if category == "natural_person":
        return {
            **common,
            "name": "张三丰",
            "category": "natural_person",
            "uscc": None,
            "id_type": "resident_id",
            "id_no": id_no,
            "legal_rep": None,
            "legal_rep_id_type": None,
            "legal_rep_id_no": None,
            "registration_authority": None,
            "address": ADDRESS,
            "phone": PHONE,
            "birth_date": None,
        }
    return {
        **common,
        "name": "昆明滇池食品有限公司",
        "category": category,
        "uscc": COMPANY_USCC,
        "id_type": None,
        "id_no": None,
        "legal_rep": "李四",
        "legal_rep_id_type": "resident_id",
        "legal_rep_id_no": LEGAL_REP_ID,
        "registration_authority": "昆明市市场监督管理局",
        "address": "云南省昆明市官渡区春城路100号",
        "phone": "0871-64123456",
        "birth_date": None,
    }


def _common() -> dict[str, Any]:
    return {**META, "source_unit": "昆明市市场监督管理局", "source_unit_uscc": SOURCE_USCC, "remarks": "备注"}


def licence(**party_fields: Any) -> dict[str, Any]:
    return {
        **_common(),
        **party_fields,
        "decision_doc_title": "食品经营许可决定书",
        "decision_doc_no": "昆市监许〔2025〕88号",
        "licence_category": "ordinary",
        "certificate_name": "食品经营许可证",
        "licence_no": "JY15301020012345",
        "content": "预包装食品销售",
        "decision_date": date(2025, 3, 1),
        "valid_from": date(2025, 3, 1),
        "valid_to": date(2030, 2, 28),
        "authority": "昆明市市场监督管理局",
        "authority_uscc": AUTHORITY_USCC,
        "licence_status": "valid",
    }


def penalty(**party_fields: Any) -> dict[str, Any]:
    return {
        **_common(),
        **party_fields,
        "decision_no": "昆市监罚〔2026〕12号",
        "violation_type": "虚假宣传",
        "violation_facts": "当事人在其经营场所发布虚假广告，侵犯他人商业秘密。",
        "legal_basis": "《中华人民共和国广告法》第五十五条",
        "penalty_types": "fine;warning",
        "content": "警告，并处罚款2万元",
        "fine_amount": Decimal("2.000000"),
        "confiscation_amount": Decimal("0"),
        "suspended_licence": None,
        "decision_date": date(2026, 6, 1),
        "penalty_valid_until": None,
        "publish_until": None,
        "severity": "general",
        "authority": "昆明市市场监督管理局",
        "authority_uscc": AUTHORITY_USCC,
    }


def list_entry(**party_fields: Any) -> dict[str, Any]:
    return {
        **_common(),
        **party_fields,
        "list_type": "dishonest",
        "list_name": "严重失信主体名单",
        "reason": "拒不履行法院判决",
        "basis": "《失信被执行人名单信息公布办法》",
        "deciding_dept": "昆明市中级人民法院",
        "doc_no": "（2026）云01执123号",
        "listed_date": date(2026, 1, 10),
        "valid_until": date(2029, 1, 9),
        "removed_date": None,
        "removal_reason": None,
        "measures": "限制高消费",
    }


def commitment(**party_fields: Any) -> dict[str, Any]:
    return {
        **_common(),
        **party_fields,
        "commitment_code": "53010020260301000001",
        "commitment_type": "certification",
        "matter": "办理食品经营许可",
        "content": "承诺所提交材料真实有效",
        "liability": "承担相应法律责任",
        "commitment_date": date(2026, 3, 1),
        "valid_until": date(2027, 3, 1),
        "fulfilment": "pending",
        "determined_date": None,
        "determined_by": None,
        "accepting_unit": "昆明市五华区政务服务中心",
    }


def gov_credit() -> dict[str, Any]:
    return {
        **_common(),
        "record_no": "ZW-2026-0001",
        "department": "昆明市某区住房和城乡建设局",
        "department_uscc": AUTHORITY_USCC,
        "credit_area": "commercial",
        "item_type": "arrears",
        "title": "拖欠企业工程款",
        "description": "拖欠工程款项，已列入清欠计划",
        "counterparty": "王五",
        "counterparty_uscc": None,
        "amount": Decimal("125.5"),
        "occurred_date": date(2026, 2, 1),
        "due_date": date(2026, 6, 30),
        "outcome": "open",
        "resolved_date": None,
        "accountability_action": None,
        "publish_until": None,
    }


RECORD_BUILDERS = {"licence": licence, "penalty": penalty, "list_entry": list_entry, "commitment": commitment}


def record(kind: str, category: str = "natural_person", id_no: str | None = ADULT_ID) -> dict[str, Any]:
    """A record of ``kind`` about a party of ``category`` (subjects: the subject itself)."""
    if kind == "subject":
        return subject(category, id_no)
    if kind == "gov_credit":
        return gov_credit()
    return RECORD_BUILDERS[kind](**party(category, id_no))
