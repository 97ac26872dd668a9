"""Person names in free text, found with the jieba segmenter's dictionary and its person-name tags.

The tagger is loaded lazily, once per process, from the dictionary that ships in the jieba package
(never from a cache file: jieba's default cache is a pickle in the shared temporary folder, which
another local user could plant, and whose presence would make results depend on the machine). A
word counts as a person's name when the segmenter makes it a word of its own, the dictionary tags it
``nr`` (or it is a new word the segmenter's HMM found), it starts with a common surname followed by one or
two characters, and neither it nor the character after it reads as a place, an organisation or
an anonymised name (张某). docs/POLICY.md ("Other people's names") gives the measured rates.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from typing import Any

from internal_node.masking import COMPOUND_SURNAMES

# The 300-odd most common single-character surnames of present-day registers (百家姓 order does not
# matter here): a tagged word that does not start with one is not taken for a name.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄"
    "窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查"
    "麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴"
    "盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况"
    "那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)

# what an anonymised name looks like after its surname: 张某, 李某某, 王*, 赵××
_ANONYMISED = re.compile(r"[某*×xX＊]+")
# a word ending like this, or followed by this, names a place, an organisation or an object
_NOT_NAME_END = frozenset(
    "区县市镇乡村路街道巷号楼栋省州局厅院所站店厂场馆社部委办室队组处科园城湾港湖山河江桥井证书表单卡法条款项规例"
)
_NOT_NAME_NEXT = frozenset("区县市镇乡村路街道巷省州局厅院所站店厂场馆社部委办园城湾港湖山河江桥牌")
# common words the dictionary tags as names that are not people in case texts
_STOPWORDS = frozenset(
    {
        "许可证", "许可", "高新", "黄金", "石林", "晋宁", "王府", "白云", "金马", "金碧", "明码", "文明", "安全",
        "万元", "元旦", "华夏", "江南", "海关", "南屏", "龙头", "程序", "周边", "周年", "史料", "向阳", "朝阳",
        "于是", "于此", "常年", "时间", "时任", "时至", "全国", "全市", "全省", "全部", "方面", "方式", "方案",
        "成本", "成品", "原料", "原告", "原因", "和平", "平安", "高速", "高温", "高压", "马路", "江湖", "单位",
        "党委", "党组", "国家", "国务院", "商务", "商品", "管理", "司法", "解放", "宣传", "齐全", "连锁", "卫生",
        "包装", "经营", "容缺", "白天", "田间", "林地", "林业", "谷物", "叶片", "钟表", "金额", "金融", "余额", "余款",
    }
)  # fmt: skip
_CACHE_SIZE = 50_000


class _Tagger:
    """The segmenter and the dictionary's part-of-speech tags, built once on first use."""

    def __init__(self) -> None:
        import jieba
        import jieba.posseg

        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        # the dictionary shipped in the package, parsed here: no cache file is read or written
        tokenizer.FREQ, tokenizer.total = tokenizer.gen_pfdict(tokenizer.get_dict_file())
        tokenizer.initialized = True
        self.tokenizer: Any = tokenizer
        self.tags: dict[str, str] = jieba.posseg.POSTokenizer(tokenizer).word_tag_tab
        self.cache: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self.lock = threading.Lock()

    def names(self, clause: str) -> tuple[str, ...]:
        with self.lock:
            hit = self.cache.get(clause)
            if hit is not None:
                self.cache.move_to_end(clause)
                return hit
            found = tuple(self._names(clause))
            self.cache[clause] = found
            if len(self.cache) > _CACHE_SIZE:
                self.cache.popitem(last=False)
            return found

    def _names(self, clause: str) -> list[str]:
        out: list[str] = []
        words = list(self.tokenizer.cut(clause, HMM=True))
        for i, word in enumerate(words):
            tag = self.tags.get(word)
            new_word = tag is None and word not in self.tokenizer.FREQ
            if tag not in ("nr", "nrfg") and not new_word:
                continue
            following = words[i + 1][:1] if i + 1 < len(words) else ""
            if is_person_name(word, following):
                out.append(word)
        return out


def surname_of(word: str) -> str:
    """The word's leading surname (compound ones first), or "" when it starts with none."""
    for length in (4, 3, 2):
        if len(word) > length and word[:length] in COMPOUND_SURNAMES:
            return word[:length]
    return word[0] if word and word[0] in SURNAMES else ""


def is_person_name(word: str, following: str = "") -> bool:
    """Whether a word the segmenter made (tagged as a name, or new to its dictionary) reads as a
    person's full name: a common surname, one or two more characters, not anonymised (张某), not
    ending or followed by a place, organisation or object word, not a listed common word."""
    surname = surname_of(word)
    given = word[len(surname) :]
    if not surname or not 1 <= len(given) <= 2 or word in _STOPWORDS:
        return False
    if not all("\u4e00" <= ch <= "\u9fff" for ch in word):
        return False
    if _ANONYMISED.fullmatch(given) or given[0] in "某氏总工姐哥叔婶":
        return False
    return word[-1] not in _NOT_NAME_END and following not in _NOT_NAME_NEXT


_TAGGER: _Tagger | None = None
_LOAD = threading.Lock()


def tagger() -> _Tagger:
    """The process's one tagger (about two seconds to build; CLI commands that never read free text
    never pay for it)."""
    global _TAGGER
    if _TAGGER is None:
        with _LOAD:
            if _TAGGER is None:
                _TAGGER = _Tagger()
    return _TAGGER


def person_names(clause: str) -> tuple[str, ...]:
    """The person names in one clause of text (a clause is cached: case texts repeat their phrasing)."""
    return tagger().names(clause)
