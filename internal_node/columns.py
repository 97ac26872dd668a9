"""The documented column mapping of department files, per record kind: each field's English name,
the Chinese headers of the national "双公示" standard and common variants, its type and whether it
is required (docs/INGEST.md lists the same table)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from internal_node import vocab
from internal_node.vocab import Vocabulary


class FieldType(StrEnum):
    TEXT = "text"  # one line, at most max_len characters
    LONGTEXT = "longtext"  # free text, line breaks allowed
    DATE = "date"
    AMOUNT = "amount"  # 万元, decimal ≥ 0
    ENUM = "enum"
    ENUM_LIST = "enum_list"  # several values separated by ;
    USCC = "uscc"  # GB 32100 check character verified
    ORG_CODE = "org_code"  # GB 11714, check is a warning only
    ID_NO = "id_no"  # checked as a resident ID when the paired type says so
    COMMITMENT_CODE = "commitment_code"


LONGTEXT_MAX = 20_000


@dataclass(frozen=True)
class FieldSpec:
    """One column of a kind: how it is named in files, what it holds and whether it is required."""

    name: str
    label: str
    type: FieldType = FieldType.TEXT
    max_len: int = 200
    required: bool = False
    vocab: Vocabulary | None = None
    default: str | None = None  # stored code used when the column is absent or the cell is blank
    aliases: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()  # earlier editions' and portals' names (header_variants.py)

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.name, self.label, *self.aliases, *self.variants)


_f = FieldSpec


T, L, D, A, E, EL, U, OC, ID = (
    FieldType.TEXT,
    FieldType.LONGTEXT,
    FieldType.DATE,
    FieldType.AMOUNT,
    FieldType.ENUM,
    FieldType.ENUM_LIST,
    FieldType.USCC,
    FieldType.ORG_CODE,
    FieldType.ID_NO,
)

COMMON = (
    _f("source_unit", "数据来源单位", T, aliases=("来源单位",)),
    _f("source_unit_uscc", "数据来源单位统一社会信用代码", U, aliases=("来源单位统一社会信用代码",)),
    _f("disclosure", "公开类型", E, vocab=vocab.DISCLOSURE, default="public", aliases=("公开属性", "公开范围")),
    _f("record_status", "信息状态", E, vocab=vocab.RECORD_STATUS, default="normal", aliases=("数据状态", "记录状态")),
    _f("withdrawal_reason", "撤下原因", E, vocab=vocab.WITHDRAWAL_REASON, aliases=("撤回原因",)),
    _f("remarks", "备注", L),
)

PARTY = (
    _f("party_name", "行政相对人名称", T, required=True, aliases=("相对人名称",)),
    _f(
        "party_category",
        "行政相对人类别",
        E,
        required=True,
        vocab=vocab.PARTY_CATEGORY,
        aliases=("相对人类别", "主体类别"),
    ),
    _f(
        "party_uscc",
        "统一社会信用代码",
        U,
        aliases=("行政相对人代码_1", "行政相对人代码_1(统一社会信用代码)", "相对人统一社会信用代码"),
    ),
    _f("party_reg_no", "工商注册号", T, max_len=64, aliases=("行政相对人代码_2", "行政相对人代码_2(工商注册号)")),
    _f(
        "party_org_code", "组织机构代码", OC, max_len=32, aliases=("行政相对人代码_3", "行政相对人代码_3(组织机构代码)")
    ),
    _f("party_tax_no", "税务登记号", T, max_len=64, aliases=("行政相对人代码_4", "行政相对人代码_4(税务登记号)")),
    _f(
        "party_institution_no",
        "事业单位证书号",
        T,
        max_len=64,
        aliases=("行政相对人代码_5", "行政相对人代码_5(事业单位证书号)"),
    ),
    _f(
        "party_social_org_no",
        "社会组织登记证号",
        T,
        max_len=64,
        aliases=("行政相对人代码_6", "行政相对人代码_6(社会组织登记证号)"),
    ),
    _f("legal_rep", "法定代表人", T, aliases=("法定代表人姓名", "法定代表人(负责人)", "负责人")),
    _f("legal_rep_id_type", "法定代表人证件类型", E, vocab=vocab.ID_TYPE),
    _f("legal_rep_id_no", "法定代表人证件号码", ID, max_len=64),
    _f("party_id_type", "证件类型", E, vocab=vocab.ID_TYPE, aliases=("相对人证件类型",)),
    _f("party_id_no", "证件号码", ID, max_len=64, aliases=("相对人证件号码", "身份证号码", "证件号")),
)

SUBJECT = (
    _f("name", "主体名称", T, required=True, aliases=("名称", "企业名称")),
    _f("category", "主体类别", E, required=True, vocab=vocab.SUBJECT_CATEGORY, aliases=("行政相对人类别",)),
    _f("uscc", "统一社会信用代码", U, aliases=("行政相对人代码_1",)),
    _f("id_type", "证件类型", E, vocab=vocab.ID_TYPE),
    _f("id_no", "证件号码", ID, max_len=64, aliases=("身份证号码",)),
    _f("legal_rep", "法定代表人", T, aliases=("法定代表人姓名", "负责人")),
    _f("legal_rep_id_type", "法定代表人证件类型", E, vocab=vocab.ID_TYPE),
    _f("legal_rep_id_no", "法定代表人证件号码", ID, max_len=64),
    _f("registration_authority", "登记机关", T),
    _f("address", "住所", T, max_len=400, aliases=("地址", "住所/地址", "经营场所", "住址")),
    _f("phone", "联系电话", T, max_len=64, aliases=("电话",)),
)

LICENCE = (
    _f("decision_doc_title", "行政许可决定文书名称", T, required=True, aliases=("许可决定文书名称",)),
    _f("decision_doc_no", "行政许可决定文书号", T, max_len=100, required=True, aliases=("许可决定文书号",)),
    _f("licence_category", "许可类别", E, required=True, vocab=vocab.LICENCE_CATEGORY),
    _f("certificate_name", "许可证书名称", T),
    _f("licence_no", "许可编号", T, max_len=100, aliases=("许可证书编号",)),
    _f("content", "许可内容", L, required=True),
    _f("decision_date", "许可决定日期", D, required=True),
    _f("valid_from", "有效期自", D, required=True),
    _f("valid_to", "有效期至", D),
    _f("authority", "许可机关", T, required=True),
    _f("authority_uscc", "许可机关统一社会信用代码", U, required=True),
    _f("licence_status", "当前状态", E, vocab=vocab.LICENCE_STATUS, default="valid", aliases=("许可状态",)),
)

PENALTY = (
    _f("decision_no", "行政处罚决定书文号", T, max_len=100, required=True, aliases=("处罚决定书文号", "决定书文号")),
    _f("violation_type", "违法行为类型", T, required=True),
    _f("violation_facts", "违法事实", L, required=True, aliases=("主要违法事实",)),
    _f("legal_basis", "处罚依据", L, required=True),
    _f("penalty_types", "处罚类别", EL, max_len=400, required=True, vocab=vocab.PENALTY_TYPE, aliases=("处罚种类",)),
    _f("content", "处罚内容", L, required=True),
    _f("fine_amount", "罚款金额(万元)", A, aliases=("罚款金额",)),
    _f(
        "confiscation_amount",
        "没收违法所得、没收非法财物的金额(万元)",
        A,
        aliases=("没收违法所得、没收非法财物的金额", "没收金额(万元)", "没收金额"),
    ),
    _f("suspended_licence", "暂扣或吊销证照名称及编号", T, max_len=400),
    _f("decision_date", "处罚决定日期", D, required=True),
    _f("penalty_valid_until", "处罚有效期", D),
    _f("publish_until", "公示截止期", D),
    _f(
        "severity",
        "严重程度",
        E,
        required=True,
        vocab=vocab.SEVERITY,
        aliases=("失信程度", "失信严重程度", "违法行为严重程度"),
    ),
    _f("authority", "处罚机关", T, required=True),
    _f("authority_uscc", "处罚机关统一社会信用代码", U, required=True),
)

LIST_ENTRY = (
    _f("list_type", "名单类型", E, required=True, vocab=vocab.LIST_TYPE),
    _f("list_name", "名单名称", T),
    _f("reason", "列入事由", L, required=True, aliases=("列入原因",)),
    _f("basis", "认定依据", L),
    _f("deciding_dept", "认定部门", T, required=True, aliases=("认定单位",)),
    _f("doc_no", "认定文书号", T, max_len=100, required=True, aliases=("认定文书编号",)),
    _f("listed_date", "列入日期", D, required=True),
    _f("valid_until", "有效期至", D),
    _f("removed_date", "移出日期", D),
    _f("removal_reason", "移出原因", L),
    _f("measures", "惩戒/激励措施", L, aliases=("惩戒措施", "激励措施", "联合奖惩措施")),
)

COMMITMENT = (
    _f("commitment_code", "承诺编码", FieldType.COMMITMENT_CODE, max_len=20, required=True),
    _f("commitment_type", "承诺类型", E, required=True, vocab=vocab.COMMITMENT_TYPE),
    _f("matter", "承诺事由", L, required=True),
    _f("content", "承诺内容", L, required=True),
    _f("liability", "违诺责任", L),
    _f("commitment_date", "承诺作出日期", D, required=True, aliases=("承诺日期",)),
    _f("valid_until", "承诺有效期", D),
    _f("fulfilment", "承诺履行状态", E, vocab=vocab.FULFILMENT, default="pending", aliases=("履行状态",)),
    _f("determined_date", "认定日期", D),
    _f("determined_by", "认定单位", T),
    _f("accepting_unit", "承诺受理单位", T, required=True),
)

# A commitment's party is "the one who commits" (承诺人): accept those headers too.
_COMMITMENT_PARTY_ALIASES = {
    "party_name": ("承诺人名称",),
    "party_category": ("承诺人类别",),
    "party_uscc": ("承诺人代码",),
}
_LIST_PARTY_ALIASES = {"party_name": ("主体名称", "失信主体名称"), "party_uscc": ("主体统一社会信用代码",)}

GOV_CREDIT = (
    _f("record_no", "记录编号", T, max_len=100, required=True),
    _f("department", "政府部门名称", T, required=True, aliases=("部门名称",)),
    _f("department_uscc", "政府部门统一社会信用代码", U, required=True, aliases=("部门统一社会信用代码",)),
    _f("credit_area", "诚信领域", E, required=True, vocab=vocab.CREDIT_AREA),
    _f("item_type", "事项类型", E, required=True, vocab=vocab.ITEM_TYPE),
    _f("title", "事项名称", T, required=True),
    _f("description", "事项描述", L),
    _f("counterparty", "相对方", T, aliases=("相对方名称",)),
    _f("counterparty_uscc", "相对方统一社会信用代码", U),
    _f("amount", "金额(万元)", A, aliases=("金额", "涉及金额(万元)")),
    _f("occurred_date", "发生日期", D, required=True),
    _f("due_date", "应履行/办结日期", D, aliases=("应履行日期", "办结期限")),
    _f("outcome", "履行状态", E, vocab=vocab.OUTCOME, default="open"),
    _f("resolved_date", "办结/清偿日期", D, aliases=("办结日期", "清偿日期")),
    _f("accountability_action", "问责措施", L),
    _f("publish_until", "公示截止期", D),
)


def _with_aliases(fields: Sequence[FieldSpec], extra: Mapping[str, tuple[str, ...]]) -> tuple[FieldSpec, ...]:
    out = []
    for spec in fields:
        more = extra.get(spec.name, ())
        out.append(FieldSpec(**{**spec.__dict__, "aliases": spec.aliases + more}) if more else spec)
    return tuple(out)


@dataclass(frozen=True)
class KindSpec:
    """A record kind as ingested: its fields in documented order and its natural key."""

    kind: str
    label: str
    fields: tuple[FieldSpec, ...]
    key: tuple[str, ...]
    has_party: bool
    by_name: dict[str, FieldSpec] = field(init=False, repr=False, compare=False)
    _headers: dict[str, str] = field(init=False, repr=False, compare=False)
    _variants: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from internal_node.header_variants import VARIANTS

        extra = VARIANTS.get(self.kind, {})
        unknown = set(extra) - {f.name for f in self.fields}
        if unknown:
            raise ValueError(f"kind {self.kind}: header variants for unknown fields {sorted(unknown)}")
        fields = tuple(
            FieldSpec(**{**f.__dict__, "variants": extra[f.name]}) if f.name in extra else f for f in self.fields
        )
        object.__setattr__(self, "fields", fields)
        standard = {normalise_header(h) for f in fields for h in (f.name, f.label, *f.aliases)}
        object.__setattr__(
            self, "_variants", frozenset(normalise_header(v) for f in fields for v in f.variants) - standard
        )
        by_name = {f.name: f for f in self.fields}
        headers: dict[str, str] = {}
        for spec in self.fields:
            for header in spec.headers:
                key = normalise_header(header)
                if headers.get(key, spec.name) != spec.name:
                    raise ValueError(f"kind {self.kind}: header {header!r} names two fields")
                headers[key] = spec.name
        object.__setattr__(self, "by_name", by_name)
        object.__setattr__(self, "_headers", headers)

    def field_for(self, header: str) -> str | None:
        """The field a file's column header names, or None for a column this kind does not know."""
        return self._headers.get(normalise_header(header))

    def is_variant(self, header: str) -> bool:
        """Whether ``header`` is known only from the variants table (recorded with the ingest)."""
        return normalise_header(header) in self._variants

    def field_named(self, name: str) -> str | None:
        """The field an operator names in ``--map``/``--default``: its English name, label or any header."""
        return name if name in self.by_name else self.field_for(name)


_MARKERS = re.compile(r"^\*+|\*+$|\((?:必填|选填|可选|非必填)\)$")


def normalise_header(header: str) -> str:
    """Fold the ways one header is written: full-width brackets and letters (NFKC), blanks, case,
    and the required-field markers of templates (``*名称``, ``名称(必填)``)."""
    text = "".join(unicodedata.normalize("NFKC", header).split()).lower()
    previous = None
    while previous != text:
        previous, text = text, _MARKERS.sub("", text)
    return text


KINDS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec("subject", "主体", (*SUBJECT, *COMMON), ("natural_key",), has_party=False),
        KindSpec("licence", "行政许可", (*PARTY, *LICENCE, *COMMON), ("decision_doc_no", "authority"), has_party=True),
        KindSpec("penalty", "行政处罚", (*PARTY, *PENALTY, *COMMON), ("decision_no", "authority"), has_party=True),
        KindSpec(
            "list_entry",
            "红黑名单",
            (*_with_aliases(PARTY, _LIST_PARTY_ALIASES), *LIST_ENTRY, *COMMON),
            ("list_type", "doc_no", "deciding_dept"),
            has_party=True,
        ),
        KindSpec(
            "commitment",
            "信用承诺",
            (*_with_aliases(PARTY, _COMMITMENT_PARTY_ALIASES), *COMMITMENT, *COMMON),
            ("commitment_code",),
            has_party=True,
        ),
        KindSpec("gov_credit", "政务诚信", (*GOV_CREDIT, *COMMON), ("record_no", "department"), has_party=False),
    )
}
