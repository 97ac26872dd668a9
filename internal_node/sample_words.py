"""The vocabulary of the sample-data generator: names, districts, industries, licence and violation
types, commitments and government-credit items of a Kunming-like city (fictitious, never real firms)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = tuple(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰玉萍红梅鑫华建国志文婷雪琳浩宇子轩梓涵一诺欣怡思源嘉豪俊杰晓燕春兰海"
)

# (GB/T 2260 code, district) of Kunming's urban districts
REGIONS = (
    ("530102", "五华区"),
    ("530103", "盘龙区"),
    ("530111", "官渡区"),
    ("530112", "西山区"),
    ("530113", "东川区"),
    ("530114", "呈贡区"),
    ("530115", "晋宁区"),
)

BRAND_WORDS = tuple(
    [
        "滇池",
        "金马",
        "碧鸡",
        "春城",
        "翠湖",
        "盘龙",
        "螺峰",
        "云岭",
        "高原",
        "彩云",
        "茶马",
        "石林",
        "宏达",
        "恒泰",
        "鑫源",
        "华兴",
        "博远",
        "瑞丰",
        "嘉禾",
        "锦程",
        "鼎盛",
        "天拓",
        "润泽",
        "兴邦",
        "长青",
        "凯瑞",
        "汇通",
        "众诚",
        "明远",
        "安泰",
        "永昌",
        "正和",
        "祥云",
        "腾越",
        "雅安",
        "同德",
        "合力",
        "拓新",
        "弘毅",
        "泓源",
        "晨光",
        "沐阳",
        "朗润",
        "启航",
        "德馨",
        "聚丰",
        "信达",
        "卓越",
        "昭通",
        "阳光",
        "绿野",
        "清泉",
        "星辰",
        "银河",
        "东方",
        "南屏",
        "金碧",
        "大观",
        "官渡",
        "宝象",
    ]
)
ORG_FORMS = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司", "集团有限公司")
SHOPS = (
    "米线店",
    "便利店",
    "小吃店",
    "五金店",
    "理发店",
    "水果店",
    "烧烤店",
    "汽车修理部",
    "鲜花店",
    "茶叶店",
    "饵块店",
)
ROADS = (
    "人民中路",
    "青年路",
    "北京路",
    "东风西路",
    "滇池路",
    "环城南路",
    "金碧路",
    "广福路",
    "春城路",
    "白塔路",
    "学府路",
)


@dataclass(frozen=True)
class Industry:
    word: str
    licence: str | None  # department that licenses it, if any
    penalty: str  # department most likely to penalise it


INDUSTRIES = (
    Industry("科技", None, "samr"),
    Industry("商贸", "samr", "samr"),
    Industry("餐饮管理", "samr", "samr"),
    Industry("食品", "samr", "samr"),
    Industry("建筑工程", "housing", "housing"),
    Industry("房地产开发", "housing", "housing"),
    Industry("环保科技", "eco", "eco"),
    Industry("化工", "eco", "eco"),
    Industry("物流", None, "tax"),
    Industry("生物医药", "samr", "samr"),
    Industry("农业开发", None, "tax"),
    Industry("旅游文化", None, "samr"),
    Industry("汽车服务", None, "samr"),
    Industry("建材", "eco", "eco"),
    Industry("劳务", "housing", "housing"),
    Industry("信息技术", None, "tax"),
    Industry("电子商务", None, "samr"),
    Industry("印务", "eco", "eco"),
    Industry("物业服务", None, "housing"),
    Industry("酒店管理", "samr", "samr"),
)
SHOP_INDUSTRY = Industry("", "samr", "urban")


@dataclass(frozen=True)
class LicenceKind:
    title: str
    doc_tag: str
    category: str
    certificate: str
    years: int
    long_term: bool
    contents: tuple[str, ...]
    number: Callable[[str, date, int], str]


LICENCES = {
    "samr": LicenceKind(
        "食品经营许可决定书",
        "食许",
        "普通",
        "食品经营许可证",
        5,
        False,
        ("预包装食品销售（含冷藏冷冻食品）", "热食类食品制售", "预包装食品销售；散装食品销售", "糕点类食品制售"),
        lambda uscc, d, n: f"JY1530100{d:%y}{n:05d}",
    ),
    "eco": LicenceKind(
        "排污许可证核发决定书",
        "环许",
        "核准",
        "排污许可证",
        5,
        False,
        ("大气污染物排放：颗粒物、二氧化硫、氮氧化物", "水污染物排放：化学需氧量、氨氮", "一般工业固体废物贮存"),
        lambda uscc, d, n: f"{uscc}001{'VPUQ'[n % 4]}",
    ),
    "housing": LicenceKind(
        "建筑工程施工许可决定书",
        "施许",
        "普通",
        "建筑工程施工许可证",
        3,
        True,
        ("住宅项目建筑工程施工", "商业综合体建筑工程施工", "厂房及配套设施建筑工程施工", "市政道路改造工程施工"),
        lambda uscc, d, n: f"530100{d:%Y%m%d}{n:04d}",
    ),
}

PENALTY_TAG = {"samr": "处罚", "tax": "税罚", "eco": "罚", "housing": "罚", "urban": "罚决"}


@dataclass(frozen=True)
class Violation:
    type: str
    facts: str  # {name}, {date}
    basis: str


VIOLATIONS = {
    "samr": (
        Violation(
            "侵犯商业秘密",
            "经查，{name}于{date}以不正当手段获取并使用权利人的商业秘密（客户名单及报价信息），构成侵犯商业秘密行为。",
            "《中华人民共和国反不正当竞争法》第二十一条",
        ),
        Violation(
            "虚假宣传",
            "经查，{name}于{date}在其网店页面对商品的功能作虚假的商业宣传，欺骗、误导消费者。",
            "《中华人民共和国反不正当竞争法》第二十条",
        ),
        Violation(
            "销售不符合食品安全标准的食品",
            "经抽检，{name}于{date}销售的食品菌落总数项目不符合食品安全国家标准。",
            "《中华人民共和国食品安全法》第一百二十四条",
        ),
        Violation(
            "价格违法",
            "经查，{name}于{date}未按规定明码标价，且在标价之外加价出售商品。",
            "《中华人民共和国价格法》第四十二条",
        ),
        Violation(
            "未按规定报送年度报告",
            "{name}未按照规定的期限公示{date}所属年度报告。",
            "《企业信息公示暂行条例》第十八条",
        ),
    ),
    "tax": (
        Violation(
            "未按规定期限办理纳税申报",
            "{name}未按照规定的期限办理{date}所属期增值税纳税申报和报送纳税资料。",
            "《中华人民共和国税收征收管理法》第六十二条",
        ),
        Violation(
            "偷税",
            "{name}于{date}通过在账簿上多列支出的手段少缴应纳税款，企业内部控制制度不健全。",
            "《中华人民共和国税收征收管理法》第六十三条",
        ),
        Violation(
            "虚开发票",
            "{name}于{date}为他人开具与实际经营业务情况不符的增值税普通发票。",
            "《中华人民共和国发票管理办法》第三十五条",
        ),
    ),
    "eco": (
        Violation(
            "超标排放大气污染物",
            "经监测，{name}于{date}排放的颗粒物浓度超过国家规定的排放标准。",
            "《中华人民共和国大气污染防治法》第九十九条",
        ),
        Violation(
            "未批先建",
            "{name}建设项目环境影响报告表未经批准，于{date}擅自开工建设。",
            "《中华人民共和国环境影响评价法》第三十一条",
        ),
        Violation(
            "危险废物贮存不规范",
            "{name}于{date}未按照规定设置危险废物识别标志，危险废物混合贮存。",
            "《中华人民共和国固体废物污染环境防治法》第一百一十二条",
        ),
    ),
    "housing": (
        Violation(
            "未取得施工许可证擅自施工",
            "{name}承建的项目于{date}在未取得施工许可证的情况下擅自施工。",
            "《中华人民共和国建筑法》第六十四条；《建设工程质量管理条例》第五十七条",
        ),
        Violation(
            "违法分包",
            "{name}于{date}将承包的工程违法分包给不具备相应资质的单位。",
            "《建设工程质量管理条例》第六十二条",
        ),
    ),
    "urban": (
        Violation(
            "占道经营",
            "{name}于{date}未经批准在城市道路两侧摆摊设点经营，影响市容环境卫生。",
            "《城市市容和环境卫生管理条例》第三十六条",
        ),
        Violation(
            "随意倾倒建筑垃圾",
            "{name}于{date}在非指定地点随意倾倒建筑垃圾。",
            "《城市市容和环境卫生管理条例》第三十九条",
        ),
    ),
}

DISHONEST_REASONS = (
    "因严重违法失信行为受到较重行政处罚，情节严重",
    "拒不履行法院生效判决确定的给付义务",
    "在政府采购活动中提供虚假材料谋取中标",
    "拖欠农民工工资数额巨大，经责令限期支付逾期未支付",
)


@dataclass(frozen=True)
class CommitmentKind:
    label: str
    matter: str
    content: str


COMMITMENT_TYPES = (
    CommitmentKind(
        "审批替代型",
        "申请食品经营许可告知承诺审批",
        "本单位承诺已经符合告知的条件、标准和要求，愿意承担不实承诺的法律责任。",
    ),
    CommitmentKind(
        "容缺受理型",
        "申请建筑工程施工许可容缺受理",
        "本单位承诺在规定期限内补齐所缺材料，逾期未补齐的自愿接受撤销处理。",
    ),
    CommitmentKind("证明事项型", "办理证明事项告知承诺", "本人（本单位）承诺所提交的信息真实、准确、完整。"),
    CommitmentKind(
        "信用修复型", "申请失信信息信用修复", "本单位承诺已纠正失信行为，今后依法诚信经营，自愿接受社会监督。"
    ),
    CommitmentKind("行业自律型", "加入行业协会诚信经营公约", "本单位承诺遵守行业自律公约，诚信经营，公平竞争。"),
    CommitmentKind("主动型", "主动公开信用承诺", "本单位承诺依法经营、诚实守信，接受社会监督。"),
)


@dataclass(frozen=True)
class GovItem:
    area: str
    item_type: str
    title: str  # {firm}, {dept}
    description: str
    counterparty: bool
    amount: tuple[float, float] | None
    outcomes: tuple[str, ...]
    weights: tuple[int, ...]
    departments: tuple[str, ...]


_ALL = ("samr", "tax", "eco", "housing", "urban", "education", "transport", "zwfw")

GOV_ITEMS = {
    "ndrc": (
        GovItem(
            "服务诚信",
            "服务承诺",
            "{dept}政务服务事项承诺时限办结",
            "承诺政务服务事项在法定时限内压缩50%办结",
            False,
            None,
            ("已履行", "失信", "未履行"),
            (8, 1, 1),
            _ALL,
        ),
        GovItem(
            "执行诚信",
            "司法判决执行",
            "{dept}与{firm}合同纠纷案判决执行",
            "人民法院生效判决确定的付款义务",
            True,
            (5, 300),
            ("已履行", "未履行"),
            (4, 1),
            ("housing", "transport", "education"),
        ),
        GovItem(
            "监管诚信",
            "问责",
            "{dept}监管履职问责",
            "对监管工作中失职失责行为的问责处理",
            False,
            None,
            ("已履行",),
            (1,),
            _ALL,
        ),
        GovItem(
            "决策诚信",
            "其他",
            "{dept}重大行政决策公开征求意见",
            "涉企重大行政决策事前公开征求意见并反馈采纳情况",
            False,
            None,
            ("已履行", "未履行"),
            (9, 1),
            _ALL,
        ),
    ),
    "finance": (
        GovItem(
            "商务诚信",
            "拖欠企业账款",
            "{dept}拖欠{firm}工程款",
            "政府机关、事业单位拖欠中小企业账款清理",
            True,
            (3, 900),
            ("已清偿", "未履行"),
            (7, 3),
            ("housing", "transport", "education", "urban"),
        ),
        GovItem(
            "商务诚信",
            "政府采购",
            "{dept}政府采购合同履约",
            "政府采购合同按约定支付采购资金",
            True,
            (1, 200),
            ("已履行", "失信"),
            (9, 1),
            _ALL,
        ),
        GovItem(
            "商务诚信",
            "合同履约",
            "{dept}与{firm}服务合同履约",
            "政府购买服务合同履约情况",
            True,
            (1, 80),
            ("已履行", "未履行", "失信"),
            (8, 1, 1),
            _ALL,
        ),
    ),
}

ACCOUNTABILITY = ("通报批评", "诫勉谈话", "责令作出书面检查", "党纪政务处分")
