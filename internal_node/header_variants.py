"""Header variants: how departments' files name the standard's columns in practice, per record kind.

The standard's headers and their long-standing aliases live with the fields (``columns.py``); this
table adds the names of the "双公示" data standard's earlier editions (the 2016 national template:
``处罚名称``, ``处罚事由``, ``处罚结果``, ``许可截止期`` …) and those seen on provincial and city
credit portals (``处罚日期`` for ``处罚决定日期`` …). A header read through this table is recorded
with the ingest in the transfer log (``variants``), so an auditor sees which column was taken for
which field. What this table does not know, ``ingest --map 列名=field`` maps (docs/INGEST.md)."""

from __future__ import annotations

from collections.abc import Mapping

# kind → field → header variants (each variant names exactly one field of its kind; a clash is
# refused when the kinds are built)
VARIANTS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "penalty": {
        "decision_no": ("行政处罚决定文书号", "处罚文书号", "处罚决定文书号", "处罚决定书编号"),
        "violation_type": ("违法行为", "处罚名称", "案件名称"),
        "violation_facts": ("处罚事由", "违法事实及处罚事由", "案由"),
        "legal_basis": ("处罚依据及条款", "法律依据"),
        "penalty_types": ("处罚类别1", "处罚类型", "处罚种类及类别"),
        "content": ("处罚结果", "处罚决定内容"),
        "decision_date": ("处罚日期", "处罚决定时间", "作出处罚决定日期", "决定日期", "处罚生效期"),
        "penalty_valid_until": ("处罚截止期", "处罚有效期至"),
        "publish_until": ("公示截止日期", "公示期限"),
        "authority": ("处罚实施机关", "作出处罚决定的机关名称", "执法机关", "处罚机关名称"),
        "authority_uscc": ("处罚实施机关统一社会信用代码", "处罚机关代码"),
        "fine_amount": ("罚款金额（万元）", "罚款数额(万元)", "罚没金额(万元)"),
    },
    "licence": {
        "decision_doc_no": ("行政许可决定书文号", "许可文书号", "许可决定书文号"),
        "decision_doc_title": ("许可决定书名称", "项目名称"),
        "licence_category": ("审批类别", "许可类型"),
        "decision_date": ("许可日期", "许可决定时间", "决定日期"),
        "valid_from": ("许可生效期", "有效期起", "有效期开始日期", "许可有效期自"),
        "valid_to": ("许可截止期", "有效期止", "有效期结束日期", "许可有效期至"),
        "authority": ("许可实施机关", "审批机关", "发证机关"),
        "authority_uscc": ("许可实施机关统一社会信用代码", "许可机关代码"),
        "licence_no": ("许可证号", "证书编号"),
    },
    "list_entry": {
        "listed_date": ("列入时间", "认定日期"),
        "removed_date": ("移出时间",),
        "deciding_dept": ("列入部门", "认定机关"),
        "doc_no": ("列入文书号", "认定文号"),
    },
    "commitment": {
        "commitment_date": ("承诺时间", "作出承诺日期"),
        "accepting_unit": ("受理单位", "承诺受理部门"),
    },
    "gov_credit": {
        "occurred_date": ("发生时间",),
        "department": ("失信政府部门名称",),
    },
}
