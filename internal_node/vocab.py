"""The controlled vocabularies of the credit data: the English codes stored in the database and the
Chinese labels (and numeric codes) departments write in their files (docs/DATA.md)."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Term:
    """One value of a vocabulary: its stored code, its Chinese label and other spellings accepted on input."""

    code: str
    label: str
    aliases: tuple[str, ...] = ()


def _norm(text: str) -> str:
    # NFKC folds full-width letters, digits and brackets; spaces inside a label carry no meaning
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


@dataclass(frozen=True)
class Vocabulary:
    """A closed set of codes; ``parse`` accepts the code, the Chinese label or an alias."""

    name: str
    terms: tuple[Term, ...]
    _lookup: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup: dict[str, str] = {}
        for term in self.terms:
            for spelling in (term.code, term.label, *term.aliases):
                key = _norm(spelling)
                if lookup.get(key, term.code) != term.code:
                    raise ValueError(f"vocabulary {self.name}: {spelling!r} names two codes")
                lookup[key] = term.code
        object.__setattr__(self, "_lookup", lookup)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.terms)

    def label(self, code: str) -> str:
        for term in self.terms:
            if term.code == code:
                return term.label
        raise KeyError(code)

    def lookup(self, raw: str) -> str | None:
        """The code ``raw`` stands for, or None."""
        code = self._lookup.get(raw)  # the common case: the file spells it exactly as we do
        return code if code is not None else self._lookup.get(_norm(raw))

    def describe(self) -> str:
        """The accepted values, for error messages: ``code (label)`` pairs."""
        return ", ".join(f"{t.code} ({t.label})" for t in self.terms)


def _v(name: str, terms: Iterable[tuple[str, str] | tuple[str, str, tuple[str, ...]]]) -> Vocabulary:
    return Vocabulary(name, tuple(Term(*t) for t in terms))


PARTY_CATEGORY = _v(
    "party_category",
    [
        ("legal_person", "法人及非法人组织", ("法人", "非法人组织", "法人和非法人组织", "法人或非法人组织")),
        ("natural_person", "自然人", ()),
        ("individual_business", "个体工商户", ("个体户",)),
    ],
)

# A subject is also a government department when it is the subject of a government-credit record.
SUBJECT_CATEGORY = _v(
    "subject_category",
    [*((t.code, t.label, t.aliases) for t in PARTY_CATEGORY.terms), ("government", "政府部门", ("政府机关", "机关"))],
)

ID_TYPE = _v(
    "id_type",
    [
        ("resident_id", "身份证", ("居民身份证", "中华人民共和国居民身份证", "身份证号", "居民身份证号码")),
        ("passport", "护照号", ("护照",)),
        ("hk_macao_pass", "港澳居民来往内地通行证", ("港澳居民通行证", "港澳通行证")),
        ("taiwan_pass", "台湾居民来往大陆通行证", ("台湾居民通行证", "台胞证")),
        ("foreign_permanent_id", "外国人永久居留身份证", ("外国人永久居留证",)),
        ("other", "其他", ()),
    ],
)

DISCLOSURE = _v(
    "disclosure",
    [
        ("public", "可向社会公开", ("社会公开", "公开")),
        ("shared", "特定范围内公开", ("政务共享", "共享")),
        ("not_public", "不可公开", ("不公开", "不予公开")),
    ],
)

RECORD_STATUS = _v(
    "record_status",
    [
        ("normal", "正常", ("新增",)),
        ("updated", "更新", ("修改", "变更")),
        ("deleted", "删除", ()),
    ],
)

# Why a record is withdrawn from the public side although it is not deleted (the 信用修复,
# revocation, objection upheld); set by the credit office, or delivered in a file.
WITHDRAWAL_REASON = _v(
    "withdrawal_reason",
    [
        ("repaired", "信用修复", ("已修复",)),
        ("revoked", "撤销", ("已撤销", "决定撤销")),
        ("objection_upheld", "异议成立", ()),
    ],
)

LICENCE_CATEGORY = _v(
    "licence_category",
    [
        ("ordinary", "普通", ()),
        ("special", "特许", ()),
        ("recognition", "认可", ()),
        ("approval", "核准", ()),
        ("registration", "登记", ()),
        ("other", "其他", ()),
    ],
)

LICENCE_STATUS = _v("licence_status", [("valid", "有效", ("1",)), ("invalid", "无效", ("2",))])

PENALTY_TYPE = _v(
    "penalty_type",
    [
        ("warning", "警告", ()),
        ("circulated_criticism", "通报批评", ()),
        ("fine", "罚款", ()),
        ("confiscate_illegal_gains", "没收违法所得", ()),
        ("confiscate_illegal_property", "没收非法财物", ()),
        ("suspend_licence", "暂扣许可证件", ("暂扣许可证", "暂扣执照")),
        ("lower_qualification", "降低资质等级", ()),
        ("revoke_licence", "吊销许可证件", ("吊销许可证", "吊销执照")),
        ("restrict_business", "限制开展生产经营活动", ()),
        ("order_suspension", "责令停产停业", ()),
        ("order_closure", "责令关闭", ()),
        ("restrict_practice", "限制从业", ()),
        ("administrative_detention", "行政拘留", ()),
        ("other", "其他", ()),
    ],
)

SEVERITY = _v("severity", [("minor", "轻微", ()), ("general", "一般", ()), ("serious", "严重", ())])

LIST_TYPE = _v(
    "list_type",
    [
        ("red", "守信激励对象", ("红名单", "守信激励")),
        ("dishonest", "严重失信主体名单", ("黑名单", "严重失信", "失信")),
    ],
)

COMMITMENT_TYPE = _v(
    "commitment_type",
    [
        ("approval_substitute", "审批替代型", ()),
        ("tolerance_acceptance", "容缺受理型", ()),
        ("certification", "证明事项型", ()),
        ("credit_repair", "信用修复型", ()),
        ("industry_self_discipline", "行业自律型", ()),
        ("voluntary", "主动型", ()),
        ("other", "其他", ()),
    ],
)

FULFILMENT = _v(
    "fulfilment",
    [
        ("fulfilled", "全部履行", ()),
        ("partial", "部分履行", ()),
        ("unfulfilled", "全部未履行", ()),
        ("pending", "未到期", ()),
    ],
)

CREDIT_AREA = _v(
    "credit_area",
    [
        ("decision", "决策诚信", ()),
        ("execution", "执行诚信", ()),
        ("supervision", "监管诚信", ()),
        ("service", "服务诚信", ()),
        ("commercial", "商务诚信", ()),
    ],
)

ITEM_TYPE = _v(
    "item_type",
    [
        ("service_commitment", "服务承诺", ()),
        ("arrears", "拖欠企业账款", ("拖欠账款",)),
        ("procurement", "政府采购", ()),
        ("contract", "合同履约", ()),
        ("judgment", "司法判决执行", ()),
        ("accountability", "问责", ()),
        ("other", "其他", ()),
    ],
)

OUTCOME = _v(
    "outcome",
    [
        ("open", "未履行", ()),
        ("fulfilled", "已履行", ()),
        ("breached", "失信", ()),
        ("cleared", "已清偿", ()),
    ],
)
