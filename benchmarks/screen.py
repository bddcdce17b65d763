"""Labelled screening benchmark: queries made from the real list data, scored with `ScreeningIndex`.

Builds, at run time and seeded, a labelled query set from the US lists in
`../shared/data/screening/nsfreg/` (Entity List, MEU, NS-CMIC, 1260H, DPL):

positives (query -> the list entry it must hit), by category
    a_exact        a list name as printed
    b_alias        each alias
    c_legal_form   "Co., Ltd." <-> "Company Limited" <-> "Limited" <-> dropped; "Inc." <-> "Corp."
    d_word_order   two content words swapped
    e_typo         one substitution / deletion / transposition in a distinctive word of >= 6 letters
    f_case_punct   case, punctuation, brackets, spacing, hyphens, "&"/"and"
    g_city_branch  a city prefix added or dropped, a "(Shenzhen)" or "Shanghai Branch" added
    h_chinese      the NS-CMIC Chinese-script aliases, simplified and traditional (opencc), held out
    i_pinyin       list pinyin written with other spacing ("Changjiang Cunchu" -> "Changjiangcunchu")
    i_pinyin_zh    pypinyin of the held-out Chinese-script aliases
    j_translation  the common words of a Chinese company's Latin name rendered in pinyin (technology →
                   keji, co ltd → youxian gongsi) or the reverse, the distinctive words kept
    x_brand_translation  a pinyin name queried against its English alias (or the reverse), held out:
                   a brand translation no lexicon can know unseen ("Xinqiqi" ~ "Allchips"); reported,
                   but left out of the headline precision/recall (see README-screen.md)
"held out" = scored against an index built without that name, so it must be found through the
entry's other names (pinyin, translation), not by copying.

hard negatives (query -> no hit)
    n_known        well-known companies (filtered: none of their distinctive words is on the lists)
    n_institution  real universities / institutes sharing a city or words with listed ones
    n_brand_swap   a listed Chinese name with its distinctive words replaced by another brand word
    n_generic      place + industry words + legal form ("Shenzhen Electronic Technology Co., Ltd.")
    n_generated    generated unlisted company names, Latin and Chinese script

A positive is a true positive when its entry is among the hits at the threshold (top-1 is also
counted); a negative is a false positive when anything is hit. Only the screen calls are timed.
The nomenklatura name_bench pairs (826 labelled pairs) are scored too, beside logic-v2's frozen run.

    python benchmarks/screen.py [--shared ../shared] [--seed 7] [--threshold T] [--queries 1500]
                                [--json out.json] [--dump queries.jsonl]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared"
BENCH_LISTS = ("bis_entity_list.json", "bis_meu.json", "ofac_nscmic.json", "dow_1260h.json", "bis_dpl.json")
SWEEP = tuple(round(0.60 + 0.05 * i, 2) for i in range(8))
LIMIT = 10

# --- word lists (this benchmark's own; independent of the matcher's) --------------------------------

def words(text: str) -> list[str]:
    return text.split()


LEGAL_WORDS = frozenset(words("""
co company ltd limited inc incorporated corp corporation llc plc gmbh pte pvt jsc ojsc ooo sa srl ag bv nv liability joint stock
pjsc cjsc zao oao pao ao
"""))
STOPWORDS = frozenset(words("""
of the and for in at on de du la le
"""))
# Industry / organisation words: shared by many unrelated companies, so not evidence of identity.
GENERIC = frozenset(words("""
technology technologies tech science sciences scientific electronic electronics electric electrical information industry
industrial industries development engineering equipment international trading trade import export group holding holdings
research institute institution center centre university academy materials material system systems network networks
communication communications software intelligent intelligence digital semiconductor semiconductors microelectronics micro
optical optics optoelectronic optoelectronics photoelectric precision instrument instruments machinery manufacturing
component components device devices product products service services logistics supply chain new energy power aerospace
aviation space aeronautics astronautics aeronautical defense defence military nuclear marine ocean shipbuilding ship robotics
robot automation computer computing data cloud security vision video photonics laser radar satellite navigation quantum
battery chemical chemicals biotechnology biological pharmaceutical medical control measurement testing mechanical heavy
investment industrial development innovation design applied advanced integrated circuit circuits chip chips telecom
telecommunication telecommunications mobile internet commerce commercial enterprise enterprises factory plant branch office
bureau department administration ministry state national general first second third no number sports automobile auto motor
motors appliance appliances construction global united country garden finance financial economics economic foreign studies
normal agricultural fine art arts com ai green machine building commerce education culture media
"""))
# Words that make a name an institution rather than a company (no legal form is added to these).
INSTITUTION_WORDS = frozenset(words("""
institute institution university academy laboratory lab bureau department center centre school college committee ministry
army police navy force forces corps regiment brigade division unit base hospital court office administration station
"""))
PLACES = frozenset(words("""
china chinese prc beijing shanghai tianjin chongqing shenzhen guangzhou hangzhou nanjing wuhan chengdu xian xi an suzhou wuxi
hefei changsha zhengzhou jinan qingdao dalian shenyang harbin changchun xiamen fuzhou ningbo dongguan foshan zhuhai kunming
guiyang nanning lanzhou taiyuan shijiazhuang hohhot urumqi xinjiang tibet mianyang guangdong jiangsu zhejiang anhui fujian
jiangxi shandong henan hubei hunan hebei shanxi shaanxi sichuan yunnan guizhou hainan liaoning jilin heilongjiang gansu
qinghai ningxia inner mongolia hong kong hk macau macao taiwan asia pacific north south east west northwest northeast
southwest southeast central yantai weihai tangshan luoyang nantong changzhou yangzhou jiaxing shaoxing wenzhou taizhou
huizhou zhongshan shantou quanzhou nanchang yichang baoding langfang zibo weifang linyi
"""))
CITIES = (("Beijing", "北京"), ("Shanghai", "上海"), ("Shenzhen", "深圳"), ("Guangzhou", "广州"), ("Hangzhou", "杭州"),
          ("Suzhou", "苏州"), ("Chengdu", "成都"), ("Wuhan", "武汉"), ("Nanjing", "南京"), ("Xiamen", "厦门"), ("Hefei", "合肥"),
          ("Tianjin", "天津"), ("Xi'an", "西安"), ("Chongqing", "重庆"), ("Ningbo", "宁波"), ("Dongguan", "东莞"),
          ("Qingdao", "青岛"), ("Changsha", "长沙"), ("Zhuhai", "珠海"), ("Wuxi", "无锡"), ("Foshan", "佛山"), ("Jinan", "济南"),
          ("Zhengzhou", "郑州"), ("Dalian", "大连"), ("Shenyang", "沈阳"))
INDUSTRIES = (("Electronic Technology", "电子科技"), ("Semiconductor Equipment", "半导体设备"), ("Precision Machinery", "精密机械"),
              ("Information Technology", "信息技术"), ("New Materials", "新材料"), ("Optoelectronic Technology", "光电科技"),
              ("Trading", "贸易"), ("Import and Export", "进出口"), ("Intelligent Technology", "智能科技"),
              ("Microelectronics", "微电子"), ("Biotechnology", "生物科技"), ("Logistics", "物流"), ("Software", "软件"),
              ("Communication Technology", "通信技术"), ("Automation Equipment", "自动化设备"), ("Power Technology", "电力科技"),
              ("Electric Appliance", "电器"), ("Medical Devices", "医疗器械"), ("Chemical", "化工"), ("Network Technology", "网络科技"),
              ("Industrial", "实业"), ("Investment", "投资"), ("Energy Technology", "能源科技"), ("Digital Technology", "数字科技"),
              ("Instrument", "仪器"), ("Environmental Technology", "环保科技"), ("Semiconductor Technology", "半导体科技"),
              ("Integrated Circuit", "集成电路"), ("Aviation Technology", "航空科技"), ("Computer Technology", "计算机技术"))
LATIN_LEGAL = ("Co., Ltd.", "Co., Ltd.", "Co., Ltd", "Company Limited", "Limited", "Co. Ltd.", "Ltd.")
ZH_LEGAL = ("有限公司", "有限公司", "有限责任公司", "股份有限公司")
# One character per syllable, so a generated Chinese brand's pinyin is known exactly.
BRAND_SYLLABLES = {"hua": "华", "xin": "鑫", "rui": "瑞", "heng": "恒", "tai": "泰", "da": "达", "lian": "联", "zhi": "智",
                   "yuan": "源", "sheng": "盛", "hai": "海", "hong": "宏", "teng": "腾", "bo": "博", "tong": "通", "tian": "天",
                   "jin": "金", "an": "安", "de": "德", "xing": "兴", "feng": "丰", "long": "隆", "kai": "凯", "jia": "嘉",
                   "he": "和", "mei": "美", "li": "立", "ming": "明", "guang": "光", "hui": "汇", "yu": "宇", "chen": "辰",
                   "fu": "富", "kang": "康", "bao": "宝", "cheng": "诚", "shun": "顺", "yi": "易", "run": "润", "hao": "浩",
                   "lan": "蓝", "qi": "启", "jun": "骏", "neng": "能", "ying": "盈", "tuo": "拓", "pu": "普", "sen": "森",
                   "shuo": "硕", "xiang": "翔", "ze": "泽", "chang": "昌", "zhan": "展", "wen": "文", "yao": "耀", "peng": "鹏"}
PINYIN_FALSE_FRIENDS = frozenset(words("""
china chinese change mining shine guide genie bang long sun fan men pan tan gang
"""))

# Well-known companies that a naive screener confuses with listed ones. Each is dropped at run time
# if one of its distinctive words is on the lists (several famous names ARE: Alibaba, Tencent, Baidu,
# BYD, CATL, BOE, NIO are on the 1260H list; those are not negatives).
KNOWN_COMPANIES = (
    "Lenovo Group Limited", "Xiaomi Corporation", "Midea Group Co., Ltd.", "ANTA Sports Products Limited", "JD.com, Inc.",
    "Meituan", "PDD Holdings Inc.", "ByteDance Ltd.", "NetEase, Inc.", "Geely Automobile Holdings Limited",
    "Gree Electric Appliances, Inc. of Zhuhai", "Hisense Group Holdings Co., Ltd.", "Guangdong Oppo Mobile Telecommunications Corp., Ltd.",
    "Vivo Mobile Communication Co., Ltd.", "Li Ning Company Limited", "Fosun International Limited", "Dalian Wanda Group Co., Ltd.",
    "PetroChina Company Limited", "UNISOC (Shanghai) Technologies Co., Ltd.", "Luxshare Precision Industry Co., Ltd.", "Goertek Inc.",
    "Sunny Optical Technology (Group) Company Limited", "Shenzhen Mindray Bio-Medical Electronics Co., Ltd.", "Ecovacs Robotics Co., Ltd.",
    "Beijing Roborock Technology Co., Ltd.", "Anker Innovations Technology Co., Ltd.", "Transsion Holdings Limited",
    "Honor Device Co., Ltd.", "Meizu Technology Co., Ltd.", "Chongqing Changan Automobile Company Limited", "Chery Automobile Co., Ltd.",
    "SAIC Motor Corporation Limited", "Dongfeng Motor Group Company Limited", "China FAW Group Co., Ltd.", "XPeng Inc.",
    "Haidilao International Holding Ltd.", "Luckin Coffee Inc.", "China Mengniu Dairy Company Limited", "Kweichow Moutai Co., Ltd.",
    "Wuliangye Yibin Co., Ltd.", "Tsingtao Brewery Company Limited", "Kingsoft Corporation Limited", "Horizon Robotics",
    "Shanghai Enflame Technology Co., Ltd.", "Shanghai Iluvatar CoreX Semiconductor Co., Ltd.", "Kunlunxin Technology (Beijing) Co., Ltd.",
    "Pony AI Inc.", "WeRide Inc.", "Momenta Global Limited", "Bilibili Inc.", "Kuaishou Technology", "Weibo Corporation",
    "Trip.com Group Limited", "Sohu.com Limited", "Kingdee International Software Group Company Limited",
    "Yonyou Network Technology Co., Ltd.", "Neusoft Corporation", "Sangfor Technologies Inc.", "Venustech Group Inc.",
    "Qi An Xin Technology Group Inc.", "NSFOCUS Technologies Group Co., Ltd.", "NARI Technology Co., Ltd.", "Sany Heavy Industry Co., Ltd.",
    "Zoomlion Heavy Industry Science and Technology Co., Ltd.", "XCMG Construction Machinery Co., Ltd.", "Weichai Power Co., Ltd.",
    "Yutong Bus Co., Ltd.", "Envision Energy Limited", "Xinjiang Goldwind Science & Technology Co., Ltd.",
    "LONGi Green Energy Technology Co., Ltd.", "JinkoSolar Holding Co., Ltd.", "Tongwei Co., Ltd.", "Sungrow Power Supply Co., Ltd.",
    "CITIC Limited", "China Vanke Co., Ltd.", "Country Garden Holdings Company Limited", "Samsung Electronics Co., Ltd.",
    "Hon Hai Precision Industry Co., Ltd.", "Taiwan Semiconductor Manufacturing Company Limited", "United Microelectronics Corporation",
    "MediaTek Inc.", "ASML Holding N.V.", "Tokyo Electron Limited", "Infineon Technologies AG", "NXP Semiconductors N.V.",
    "Applied Materials, Inc.", "Lam Research Corporation", "NVIDIA Corporation", "Advanced Micro Devices, Inc.", "Intel Corporation",
    "Texas Instruments Incorporated", "SK hynix Inc.", "Hua Hong Semiconductor Limited", "GigaDevice Semiconductor Inc.",
    "Will Semiconductor Co., Ltd.", "Montage Technology Co., Ltd.", "StarPower Semiconductor Ltd.", "Naura Technology Group Co., Ltd.",
    "Advanced Micro-Fabrication Equipment Inc. China", "Sai Micro Electronics Inc.", "JCET Group Co., Ltd.",
    "Tongfu Microelectronics Co., Ltd.", "Unigroup Guoxin Microelectronics Co., Ltd.", "Espressif Systems (Shanghai) Co., Ltd.",
    "Rockchip Electronics Co., Ltd.", "Allwinner Technology Co., Ltd.", "Amlogic (Shanghai) Co., Ltd.", "Ingenic Semiconductor Co., Ltd.",
)
# Real universities and institutes that share a city or words with listed ones ("Nanjing University"
# vs the listed "Nanjing University of Science and Technology", "Tianjin Medical University" vs "Tianjin
# University", "Beijing Institute of Fashion Technology" vs "Beijing Institute of Technology"): each is a
# different institution, so unlike a generated negative it may contain a listed name's words.
INSTITUTIONS = (
    "Tsinghua University", "Peking University", "Zhejiang University", "Nanjing University", "Shanghai Jiao Tong University",
    "Tongji University", "Sun Yat-sen University", "Xiamen University", "Jilin University", "Shandong University", "Wuhan University",
    "Hunan University", "Sichuan Agricultural University", "Tianjin Medical University", "Harbin Medical University",
    "Beijing Normal University", "Beijing Jiaotong University", "Beijing Forestry University", "China Agricultural University",
    "Southeast University", "Northwest University", "Northeastern University", "Shanghai Institute of Technology",
    "Nanjing Institute of Technology", "Wuhan Institute of Technology", "Harbin University of Commerce", "Nanjing Forestry University",
    "Beijing Foreign Studies University", "Shanghai University of Finance and Economics", "Sichuan Fine Arts Institute",
    "Tianjin Foreign Studies University", "Harbin Normal University", "Northwest A&F University", "East China Normal University",
    "South China University of Technology", "Beijing Institute of Fashion Technology", "Beijing Institute of Petrochemical Technology",
    "Shanghai Academy of Fine Arts", "China Academy of Art", "Chinese Academy of Social Sciences",
)

# Shares of the positive queries by category (h and i_pinyin_zh: all there are, about 30, at the default size).
POSITIVE_SHARE = {"a_exact": 0.10, "b_alias": 0.12, "c_legal_form": 0.14, "d_word_order": 0.08, "e_typo": 0.14,
                  "f_case_punct": 0.10, "g_city_branch": 0.10, "h_chinese": 0.015, "i_pinyin": 0.09, "i_pinyin_zh": 0.01,
                  "j_translation": 0.08, "x_brand_translation": 0.04}
NEGATIVE_SHARE = {"n_known": 0.05, "n_institution": 0.02, "n_brand_swap": 0.15, "n_generic": 0.04, "n_generated": 0.33}
HELD_OUT_CATEGORIES = frozenset({"h_chinese", "i_pinyin_zh", "x_brand_translation"})
# Reported per category, not counted in the headline: no matcher can know an unseen brand's translation.
NOT_IN_HEADLINE = frozenset({"x_brand_translation"})
# Common company words and their pinyin, written for this benchmark (independently of chipwatch's
# lexicon, so the j_translation queries do not just echo the matcher's own dictionary).
COMMON_PINYIN = {
    "technology": "keji", "technologies": "keji", "electronics": "dianzi", "electronic": "dianzi", "trading": "maoyi",
    "trade": "maoyi", "international": "guoji", "group": "jituan", "industrial": "shiye", "industry": "chanye",
    "information": "xinxi", "development": "fazhan", "science": "kexue", "intelligent": "zhineng", "communication": "tongxin",
    "semiconductor": "bandaoti", "microelectronics": "weidianzi", "optoelectronics": "guangdian", "precision": "jingmi",
    "equipment": "shebei", "instruments": "yiqi", "network": "wangluo", "software": "ruanjian", "logistics": "wuliu",
    "investment": "touzi", "holdings": "konggu", "machinery": "jixie", "materials": "cailiao", "systems": "xitong",
}
_COMMON_BACK = {v: k for k, v in COMMON_PINYIN.items()}
_LEGAL_EN = re.compile(r",?\s*(co\.?,?\s*(ltd|limited)\.?|company limited|limited|ltd\.?)\s*$", re.I)


@dataclass
class Query:
    qid: str
    category: str
    query: str
    expected: str | None  # "LIST:entry_id" of the entry that must be hit; None for a negative
    accept: tuple[str, ...] = ()  # entries that count as the same company for top-1 (same name on another list)
    source: str = ""  # the list name it was made from, or how it was made
    index: str = "full"  # "full" or "held_out"
    country: str | None = None
    script: str = "latin"

    @property
    def positive(self) -> bool:
        return self.expected is not None


@dataclass
class QuerySet:
    queries: list[Query]
    held_out: dict[str, tuple[str, ...]] = field(default_factory=dict)  # entry key -> names left out of the held-out index
    dropped_negatives: list[str] = field(default_factory=list)  # curated negatives found on the lists


# --- loading -----------------------------------------------------------------------------------------

def key(entry: Any) -> str:
    return f"{entry.list_id}:{entry.entry_id}"


def load_entries(shared: Path, files: Iterable[str] = BENCH_LISTS) -> list[Any]:
    """The list entries, read from the shared nsfreg JSON with the project's own importer."""
    from chipwatch.screen import lists

    folder = shared / "data" / "screening" / "nsfreg"
    if not folder.is_dir():
        raise SystemExit(f"no list data at {folder} (use --shared PATH)")
    entries: list[Any] = []
    for name in files:
        found, _meta = lists.parse_file(folder / name)
        entries.extend(found)
    return entries


def all_list_files(shared: Path) -> list[str]:
    folder = shared / "data" / "screening" / "nsfreg"
    return sorted(p.name for p in folder.glob("*.json") if p.name != "lists.json")


# --- text helpers ------------------------------------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[A-Za-z][A-Za-z']*|[0-9]+")
_LEGAL_TAIL = re.compile(
    r"(?:[\s,]+|^)(co\.?,?\s*ltd\.?|company,?\s+limited|company,?\s+ltd\.?|corp(?:oration)?\.?,?\s+ltd\.?|limited|ltd\.?|"
    r"inc\.?|incorporated|corporation|corp\.?|l\.?l\.?c\.?|co\.?|company|pte\.?\s+ltd\.?|pvt\.?\s+ltd\.?)\s*$", re.I)
_LTD_FAMILY = ("Co., Ltd.", "Company Limited", "Limited", "Ltd.", "Co Ltd", "")
_INC_FAMILY = ("Inc.", "Inc", "Corporation", "Corp.", "Incorporated", "")


def is_han(text: str) -> bool:
    return bool(_HAN.search(text))


def low(m: re.Match[str]) -> str:
    """A matched word as a token: lowercase, apostrophes dropped (Xi'an -> xian)."""
    return m.group().lower().replace("'", "")


def tokens(text: str) -> list[str]:
    return [t.replace("'", "") for t in _WORD.findall(text.lower())]


def stem(token: str) -> str:
    return token[:-1] if len(token) > 4 and token.endswith("s") else token


def content_tokens(text: str) -> list[str]:
    return [t for t in tokens(text) if t not in LEGAL_WORDS and t not in STOPWORDS]


def is_distinctive(token: str) -> bool:
    return (token not in LEGAL_WORDS and token not in STOPWORDS and stem(token) not in GENERIC and token not in GENERIC
            and token not in PLACES and not token.isdigit() and len(token) > 1)


@cache
def pinyin_syllables() -> frozenset[str]:
    from pypinyin import lazy_pinyin

    out: set[str] = set()
    for cp in range(0x4E00, 0x9FA6):
        out.update(s for s in lazy_pinyin(chr(cp)) if s.isascii() and s.isalpha())
    return frozenset(out - {"n", "ng", "m", "hm", "hng", "r", "ê", "yo", "lo", "o"})


@cache
def pinyin_split(token: str) -> tuple[str, ...] | None:
    """`token` cut into pinyin syllables (fewest pieces), or None when it is not pinyin."""
    syl = pinyin_syllables()
    t = token.lower()
    best: list[tuple[str, ...] | None] = [None] * (len(t) + 1)
    best[0] = ()
    for i in range(1, len(t) + 1):
        for j in range(max(0, i - 6), i):
            prev = best[j]
            if prev is not None and t[j:i] in syl and (best[i] is None or len(prev) + 1 < len(best[i])):  # type: ignore[arg-type]
                best[i] = (*prev, t[j:i])
    return best[len(t)]


def is_pinyin(token: str) -> bool:
    return token.isalpha() and token.lower() not in PINYIN_FALSE_FRIENDS and pinyin_split(token) is not None


def split_paren_tail(name: str) -> tuple[str, str]:
    m = re.search(r"\s*\([^()]*\)\s*$", name)
    return (name[: m.start()], name[m.start():]) if m and m.start() > 0 else (name, "")


def legal_form(name: str) -> tuple[str, str]:
    """(name without its trailing legal form, the legal form or "")."""
    core, tail = split_paren_tail(name)
    m = _LEGAL_TAIL.search(core)
    if not m or m.start() == 0:
        return name, ""
    return core[: m.start()].rstrip(" ,") + tail, m.group(1)


def family_of(form: str) -> tuple[str, ...]:
    f = form.lower().replace(".", "").replace(",", "")
    return _INC_FAMILY if f.startswith(("inc", "corp", "llc", "l l c")) and "ltd" not in f else _LTD_FAMILY


def looks_like_org(entry: Any) -> bool:
    if getattr(entry, "entity_type", None) == "individual":
        return False
    return any(legal_form(n)[1] or any(stem(t) in GENERIC or t in GENERIC for t in tokens(n)) for n in entry.names())


def usable_name(name: str) -> bool:
    return 2 <= len(name) <= 100 and ";" not in name and not re.match(r"^address\s*\d", name, re.I)


def case_like(word: str, model: str) -> str:
    if model.isupper() and len(model) > 1:
        return word.upper()
    if model[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def seeded(seed: int, *parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (seed, *parts)))


# --- list vocabulary (what a generated negative must stay clear of) ----------------------------------

def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Vocabulary:
    """Every token of every list name, adjacent-token joins, and the names made only of common words."""

    def __init__(self, entries: Sequence[Any]) -> None:
        words: set[str] = set()
        self.name_sets: list[frozenset[str]] = []
        generic_only: list[frozenset[str]] = []
        for e in entries:
            for n in e.names():
                toks = tokens(n)
                words.update(toks)
                words.update(a + b for a, b in pairwise(toks))
                # the name as printed, and without its bracketed parts ("... Research (NINTF)" -> "... Research")
                for form in {n, re.sub(r"\([^()]*\)", " ", n)}:
                    ct = frozenset(stem(t) for t in content_tokens(form))
                    if ct:
                        self.name_sets.append(ct)
                        if not any(is_distinctive(t) for t in ct):
                            generic_only.append(ct)
        self.words = sorted(words)
        self.word_set = frozenset(words)
        self.generic_only = generic_only
        # symmetric-delete index: a word one edit from a list word shares a one-deletion form with it
        self.by_delete: dict[str, list[str]] = defaultdict(list)
        for w in self.words:
            if len(w) >= 4:
                for k in (w, *_deletes(w)):
                    self.by_delete[k].append(w)
        self.name_set_index = frozenset(self.name_sets)
        self.by_token: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(self.name_sets):
            for t in s:
                self.by_token[t].append(i)

    def near(self, word: str) -> bool:
        """Is `word` on the lists, or (5+ letters) one edit (Damerau) from a list word?"""
        from rapidfuzz.distance import DamerauLevenshtein

        w = word.lower()
        if w in self.word_set:
            return True
        if len(w) < 5:
            return False
        cands = {v for k in (w, *_deletes(w)) for v in self.by_delete.get(k, ())}
        return any(DamerauLevenshtein.distance(w, v) <= 1 for v in cands)

    def contains_list_name(self, name: str, *, generic_only: bool = False) -> bool:
        """Do the name's words contain all the words of some list name (so it might be that entry)?"""
        t = frozenset(stem(x) for x in content_tokens(name))
        if not t:
            return True
        if generic_only:
            return any(s <= t for s in self.generic_only)
        cands: set[int] = set()
        for x in t:
            cands.update(self.by_token.get(x, ()))
        return any(self.name_sets[i] <= t for i in cands)

    def has_name(self, name: str) -> bool:
        return frozenset(stem(x) for x in content_tokens(name)) in self.name_set_index

    def clear(self, name: str) -> bool:
        """A curated or generated negative: no distinctive word near the lists, no list name inside it."""
        if any(is_distinctive(t) and self.near(t) for t in tokens(name)):
            return False
        return not self.contains_list_name(name)


@cache
def _converters() -> tuple[Any, Any]:
    import opencc

    return opencc.OpenCC("s2t"), opencc.OpenCC("t2s")


def to_traditional(text: str) -> str:
    return str(_converters()[0].convert(text))


def to_simplified(text: str) -> str:
    return str(_converters()[1].convert(text))


# --- positive generators -----------------------------------------------------------------------------

def gen_legal(name: str, rng: random.Random) -> str | None:
    core, form = legal_form(name)
    if form:
        bare = re.sub(r"[.,]", "", form.lower())
        options = [f for f in family_of(form) if re.sub(r"[.,]", "", f.lower()) != bare]
        new = rng.choice(options)
        base, tail = split_paren_tail(core)
        out = f"{base}{tail} {new}".strip() if new else core
        return out if out != name and content_tokens(out) else None
    if any(t in INSTITUTION_WORDS for t in tokens(name)):
        return None
    return f"{name} {rng.choice(('Co., Ltd.', 'Company Limited', 'Limited', 'Inc.'))}"


def gen_word_order(name: str, rng: random.Random) -> str | None:
    spans = [m for m in _WORD.finditer(name) if low(m) not in LEGAL_WORDS and low(m) not in STOPWORDS
             and low(m) not in PLACES and not m.group().isdigit() and len(m.group()) >= 3]
    if len(spans) < 2:
        return None
    if not any(is_distinctive(low(m)) for m in spans):
        return None
    pairs = [(a, b) for a, b in pairwise(spans) if not name[a.end(): b.start()].strip() and low(a) != low(b)]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    return name[: a.start()] + b.group() + name[a.end(): b.start()] + a.group() + name[b.end():]


def gen_typo(name: str, rng: random.Random) -> str | None:
    spans = [m for m in _WORD.finditer(name) if len(m.group()) >= 6 and m.group().isalpha() and is_distinctive(low(m))]
    if not spans:
        return None
    m = rng.choice(spans)
    w = m.group()
    for _ in range(10):
        op = rng.choice(("sub", "del", "swap"))
        i = rng.randrange(1, len(w)) if op != "swap" else rng.randrange(1, len(w) - 1)
        if op == "sub":
            c = rng.choice("aeiounrstlhgcdkmpwy")
            new = w[:i] + case_like(c, w[i]) + w[i + 1:]
        elif op == "del":
            new = w[:i] + w[i + 1:]
        else:
            new = w[:i] + w[i + 1] + w[i] + w[i + 2:]
        if new.lower() != w.lower():
            return name[: m.start()] + new + name[m.end():]
    return None


def gen_case_punct(name: str, rng: random.Random) -> str | None:
    ops: list[Callable[[str], str]] = [
        str.upper, str.lower,
        lambda s: re.sub(r"[.,]", "", s),
        lambda s: s.replace("(", "（").replace(")", "）"),
        lambda s: re.sub(r"\s+", "  ", s),
        lambda s: re.sub(r",\s*", ",", s),
        lambda s: s.replace("-", " ") if "-" in s else s.replace(" ", "-", 1),
        lambda s: s.replace("&", "and") if "&" in s else s.replace(" and ", " & "),
        lambda s: re.sub(r"[.,()]", " ", s).strip(),
    ]
    for _ in range(6):
        out = name
        for op in rng.sample(ops, 2):
            out = op(out)
        if out != name and content_tokens(out):
            return out
    return None


def gen_city_branch(name: str, rng: random.Random) -> str | None:
    toks = tokens(name)
    if not toks:
        return None
    first = _WORD.match(name)
    rest = name[first.end():].lstrip(" ,") if first else ""
    if (toks[0] in PLACES and rng.random() < 0.5 and any(is_distinctive(t) for t in tokens(rest))
            and not any(t in INSTITUTION_WORDS for t in toks)):
        return rest  # drop the city prefix (only where a distinctive word remains, and not from an institution)
    city = rng.choice([c for c, _ in CITIES if c.lower().replace("'", "") not in toks])
    style = rng.randrange(3)
    core, form = legal_form(name)
    if style == 0:
        return f"{city} {name}"
    if style == 1 and form:
        return f"{core} ({city}) {form}"
    return f"{name} {city} Branch"


def gen_respace_pinyin(name: str, rng: random.Random) -> str | None:
    spans = [m for m in _WORD.finditer(name)]
    # two adjacent pinyin words -> one ("Changjiang Cunchu" -> "Changjiangcunchu")
    pairs = [(a, b) for a, b in pairwise(spans)
             if is_pinyin(a.group()) and is_pinyin(b.group()) and name[a.end(): b.start()] == " "
             and (is_distinctive(low(a)) or is_distinctive(low(b))) and low(a) not in PLACES and low(b) not in PLACES]
    if pairs and rng.random() < 0.6:
        a, b = rng.choice(pairs)
        return name[: a.start()] + a.group() + b.group().lower() + name[b.end():]
    # one pinyin word of 2+ syllables -> syllables ("Huawei" -> "Hua Wei")
    singles = [m for m in spans if is_distinctive(low(m)) and is_pinyin(m.group()) and len(m.group()) >= 5
               and len(pinyin_split(m.group()) or ()) >= 2]
    if singles:
        m = rng.choice(singles)
        parts = pinyin_split(m.group()) or ()
        text = " ".join(case_like(p, m.group()) for p in parts)
        return name[: m.start()] + text + name[m.end():]
    if pairs:
        a, b = pairs[0]
        return name[: a.start()] + a.group() + b.group().lower() + name[b.end():]
    return None


ZH_LEGAL_FORMS = ("股份有限公司", "有限责任公司", "集团有限公司", "有限公司")
ZH_CITY_PREFIX = re.compile(r"^(北京|上海|天津|重庆|深圳|广州|杭州|南京|武汉|成都)市?")


def split_zh(name: str) -> tuple[str, str, str]:
    """(city prefix, middle, legal form) of a Chinese-script company name."""
    s = to_simplified(name)
    m = ZH_CITY_PREFIX.match(s)
    city = m.group() if m else ""
    rest = s[len(city):]
    form = next((f for f in ZH_LEGAL_FORMS if rest.endswith(f)), "")
    return city, rest[: len(rest) - len(form)], form


def zh_variants(name: str) -> list[tuple[str, str]]:
    """Chinese-script queries for a Chinese alias: simplified, traditional, other legal form, no city."""
    simp, trad = to_simplified(name), to_traditional(name)
    out = [(simp, "simplified"), (trad, "traditional")]
    city, mid, form = split_zh(name)
    other = {"股份有限公司": "有限公司", "有限公司": "有限责任公司", "有限责任公司": "有限公司",
             "集团有限公司": "集团股份有限公司"}.get(form)
    if other:
        out.append((city + mid + other, f"legal form {form}->{other}"))
    if city:
        out.append((mid + form, "city prefix dropped"))
    seen: set[str] = set()
    return [(q, how) for q, how in out if not (q in seen or seen.add(q))]  # type: ignore[func-returns-value]


def zh_pinyin_variants(name: str) -> list[tuple[str, str]]:
    """Pinyin renderings of a Chinese-script name: two-syllable words, and one syllable per character."""
    from pypinyin import lazy_pinyin

    city, mid, form = split_zh(name)
    syl = lazy_pinyin(mid)
    words = ["".join(syl[i: i + 2]).capitalize() for i in range(0, len(syl), 2)]
    city_py = "".join(lazy_pinyin(city.rstrip("市"))).capitalize() if city else ""
    legal = {"股份有限公司": "Co., Ltd.", "有限公司": "Co., Ltd.", "有限责任公司": "Co., Ltd.",
             "集团有限公司": "Group Co., Ltd."}.get(form, "")
    joined = " ".join(filter(None, [city_py, *words, legal]))
    spaced = " ".join(s.capitalize() for s in lazy_pinyin(to_simplified(name)))
    return [(joined, "pinyin words + English legal form"), (spaced, "pinyin, one syllable per character")]


# --- building the query set --------------------------------------------------------------------------

def _weighted_sample(items: list[Query], k: int, weights: list[float], rng: random.Random) -> list[Query]:
    """k items without replacement, chosen with the given weights (Efraimidis-Spirakis keys)."""
    if k >= len(items):
        return list(items)
    keyed = sorted(((rng.random() ** (1.0 / w), i) for i, w in enumerate(weights)), reverse=True)
    return [items[i] for _, i in sorted(keyed[:k], key=lambda t: t[1])]


def _norm_name(name: str) -> str:
    return " ".join(stem(t) for t in content_tokens(legal_form(name)[0]))


def names_by_owner(entries: Sequence[Any]) -> dict[str, set[str]]:
    """Normalised name -> the entries that carry it."""
    by_name: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        for n in e.names():
            nn = _norm_name(n)
            if nn:
                by_name[nn].add(key(e))
    return by_name


def same_company_groups(entries: Sequence[Any]) -> dict[str, tuple[str, ...]]:
    """Entries that share a normalised name (e.g. one company on the Entity List and on 1260H)."""
    out: dict[str, set[str]] = defaultdict(set)
    for keys in names_by_owner(entries).values():
        for k in keys:
            out[k].update(keys)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def gen_translate_common(name: str) -> str | None:
    """The name with its common English words in pinyin ("Beijing Huatian Haifeng Technology Co., Ltd."
    → "Beijing Huatian Haifeng Keji Youxian Gongsi"), or the reverse for a name whose common words
    are pinyin; None if it has no such word or no distinctive word to keep."""
    words = name.split()
    if not any(is_distinctive(low_word(w)) and low_word(w) not in COMMON_PINYIN and low_word(w) not in _COMMON_BACK for w in words):
        return None
    to_pinyin = any(low_word(w) in COMMON_PINYIN for w in words)
    table = COMMON_PINYIN if to_pinyin else _COMMON_BACK
    body = _LEGAL_EN.sub("", name) if to_pinyin else name
    out = [table.get(low_word(w), w).capitalize() if low_word(w) in table else w for w in body.split()]
    if out == body.split():
        return None
    if to_pinyin and body != name:
        out += ["Youxian", "Gongsi"]
    return " ".join(out)


def low_word(word: str) -> str:
    return re.sub(r"[^a-z]", "", word.lower())


def _translation_pair(entry: Any, rng: random.Random) -> tuple[str, str] | None:
    """(query, its counterpart): two names of one entry, one in pinyin and one in English ("Beijing Suanneng
    Technology Co., Ltd" / "Beijing Sophgo"), with no distinctive word in common but the same place and
    industry words (at most two differ), so that one is very likely a rendering of the other."""
    from rapidfuzz import fuzz

    pin: list[str] = []
    eng: list[str] = []
    for n in entry.names():
        if not usable_name(n) or is_han(n) or "," in legal_form(n)[0]:
            continue
        dist = [low(m) for m in _WORD.finditer(n) if is_distinctive(low(m))]
        acronyms = {low(m) for m in _WORD.finditer(n) if m.group().isupper() and len(m.group()) <= 5}
        if not dist or len(dist) > 3:
            continue
        if all(is_pinyin(t) for t in dist) and (len(dist) >= 2 or len(dist[0]) >= 5):
            pin.append(n)
        elif any(not is_pinyin(t) and len(t) >= 4 and t not in acronyms for t in dist):
            eng.append(n)
    options = [(p, e) for p in pin for e in eng] + [(e, p) for p in pin for e in eng]
    rng.shuffle(options)
    for q, other in options:
        common_q = {t for t in content_tokens(q) if not is_distinctive(t)}
        common_o = {t for t in content_tokens(other) if not is_distinctive(t)}
        if not common_q & common_o or len(common_q ^ common_o) > 2:
            continue
        rest = [n for n in entry.names() if n != q]
        qd = {t for t in tokens(q) if is_distinctive(t)}
        rest_tokens = {t for n in rest for t in tokens(n)}
        if any(t in rest_tokens or any(fuzz.ratio(t, r) >= 75 for r in rest_tokens if len(r) >= 4) for t in qd):
            continue  # the query's words are still in the entry's other names: not a translation test
        if "".join(sorted(qd)) in {"".join(tokens(n)) for n in rest}:
            continue
        return q, other
    return None


def build_queries(entries: Sequence[Any], seed: int, n_pos: int, vocab: Vocabulary | None = None) -> QuerySet:
    """The labelled queries for `entries` (deterministic for a seed and the same data)."""
    vocab = vocab or Vocabulary(entries)
    groups = same_company_groups(entries)
    owners = names_by_owner(entries)
    pools: dict[str, list[Query]] = defaultdict(list)
    weights: dict[str, list[float]] = defaultdict(list)
    held_out: dict[str, tuple[str, ...]] = {}

    def add(cat: str, q: str | None, e: Any, source: str, index: str = "full", script: str = "latin") -> None:
        if not q or not q.strip():
            return
        k = key(e)
        if cat not in ("a_exact", "b_alias") and not owners.get(_norm_name(q), set()) <= set(groups.get(k, (k,))):
            return  # the variant is another entry's name ("Chengdu Huawei Technologies" without its city): ambiguous
        pools[cat].append(Query(qid="", category=cat, query=q, expected=k, accept=groups.get(k, (k,)), source=source,
                                index=index, country=e.country, script=script))
        weights[cat].append(3.0 if e.country in ("CN", "HK") else 1.0)

    gens: dict[str, Callable[[str, random.Random], str | None]] = {
        "c_legal_form": gen_legal, "d_word_order": gen_word_order, "e_typo": gen_typo, "f_case_punct": gen_case_punct,
        "g_city_branch": gen_city_branch,
    }
    zh_entries: list[Any] = []
    for e in entries:
        k = key(e)
        if not usable_name(e.name) or getattr(e, "entity_type", None) == "address":
            continue
        org = looks_like_org(e)
        names = [n for n in e.names() if usable_name(n)]
        han = [n for n in names if is_han(n)]
        latin = [n for n in names if not is_han(n)]
        if han and latin:
            zh_entries.append(e)
        rng = seeded(seed, k)
        if latin:
            add("a_exact", e.name if not is_han(e.name) else latin[0], e, "list name")
        for a in e.aliases:
            if usable_name(a) and not is_han(a):
                add("b_alias", a, e, "alias")
        if not latin:
            continue
        for cat, gen in gens.items():
            if (cat == "c_legal_form" and not org) or (cat == "g_city_branch" and e.country not in ("CN", "HK")):
                continue
            src = rng.choice(latin)
            add(cat, gen(src, seeded(seed, k, cat)), e, src)
        if e.country in ("CN", "HK"):
            src = rng.choice(latin)
            add("i_pinyin", gen_respace_pinyin(src, seeded(seed, k, "pinyin")), e, src)

    # h / i_pinyin_zh: Chinese-script aliases, held out of the index they are scored against.
    for e in zh_entries:
        han = [n for n in e.names() if is_han(n)]
        held_out[key(e)] = tuple(han)
        for n in han:
            for q, how in zh_variants(n):
                add("h_chinese", q, e, f"{n} ({how})", "held_out", "han")
            for q, how in zh_pinyin_variants(n):
                add("i_pinyin_zh", q, e, f"{n} ({how})", "held_out", "pinyin")
    # j: common words translated between English and pinyin, distinctive words kept.
    for e in entries:
        if e.country not in ("CN", "HK"):
            continue
        for n in e.names():
            if usable_name(n) and not is_han(n):
                add("j_translation", gen_translate_common(n), e, n)
    # x: pinyin <-> English names of one entry, the query name held out (reported, not in the headline).
    for e in entries:
        if e.country not in ("CN", "HK") or key(e) in held_out:
            continue
        pair = _translation_pair(e, seeded(seed, key(e), "translation"))
        if pair:
            q, other = pair
            held_out[key(e)] = (q,)
            add("x_brand_translation", q, e, f"~ {other}", "held_out")

    rng = seeded(seed, "sample")
    queries: list[Query] = []
    for cat in ("a_exact", "b_alias", "c_legal_form", "d_word_order", "e_typo", "f_case_punct", "g_city_branch",
                "h_chinese", "i_pinyin", "i_pinyin_zh", "j_translation", "x_brand_translation"):
        pool = pools.get(cat, [])
        queries.extend(_weighted_sample(pool, math.ceil(POSITIVE_SHARE[cat] * n_pos), weights[cat], rng))
    # a held-out name only needs leaving out when one of its queries was sampled
    used = {q.expected for q in queries if q.index == "held_out"}
    held_out = {ek: v for ek, v in held_out.items() if ek in used}

    negs, dropped = build_negatives(entries, vocab, seed, n_pos)
    queries.extend(negs)
    for i, query in enumerate(queries):
        query.qid = f"q{i:05d}"
    return QuerySet(queries, held_out, dropped)


def brand_pool(vocab: Vocabulary, seed: int, size: int) -> list[tuple[str, str]]:
    """Two-syllable pinyin brand words (and their characters) that are not on the lists nor one edit away."""
    syl = sorted(BRAND_SYLLABLES)
    rng = seeded(seed, "brands")
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    tries = 0
    while len(out) < size and tries < size * 20:
        tries += 1
        a, b = rng.choice(syl), rng.choice(syl)
        word = a + b
        if a == b or word in seen:
            continue
        seen.add(word)
        if vocab.near(word) or is_distinctive(word) is False:
            continue
        out.append((word.capitalize(), BRAND_SYLLABLES[a] + BRAND_SYLLABLES[b]))
    return out


def generated_name(rng: random.Random, brands: Sequence[tuple[str, str]], chinese: bool) -> str:
    brand_en, brand_zh = rng.choice(brands)
    city_en, city_zh = rng.choice(CITIES)
    ind_en, ind_zh = rng.choice(INDUSTRIES)
    if chinese:
        form = rng.choice(ZH_LEGAL)
        style = rng.randrange(4)
        if style == 0:
            return f"{city_zh}{brand_zh}{ind_zh}{form}"
        if style == 1:
            return f"{city_zh}市{brand_zh}{ind_zh}{form}"
        if style == 2:
            return f"{brand_zh}{ind_zh}（{city_zh}）{form}"
        return f"{brand_zh}{ind_zh}{form}"
    form = rng.choice(LATIN_LEGAL)
    style = rng.randrange(5)
    if style == 0:
        return f"{city_en} {brand_en} {ind_en} {form}"
    if style == 1:
        return f"{brand_en} {ind_en} ({city_en}) {form}"
    if style == 2:
        kind = rng.choice(("International Trading", "Technology", "Electronics", "Industrial"))
        return f"{brand_en} {kind} {rng.choice(('Limited', '(Hong Kong) Limited', 'Co., Limited'))}"
    if style == 3:
        return f"{brand_en} {ind_en} {form}"
    return f"{city_en} {brand_en} {ind_en} Group {form}"


def build_negatives(entries: Sequence[Any], vocab: Vocabulary, seed: int, n_pos: int) -> tuple[list[Query], list[str]]:
    rng = seeded(seed, "negatives")
    dropped: list[str] = []
    out: list[Query] = []

    def neg(cat: str, q: str, source: str, script: str = "latin") -> None:
        out.append(Query(qid="", category=cat, query=q, expected=None, source=source, country="CN", script=script))

    def quota(cat: str) -> int:
        return math.ceil(NEGATIVE_SHARE[cat] * n_pos)

    known = []
    for name in KNOWN_COMPANIES:
        (known.append(name) if vocab.clear(name) else dropped.append(name))
    for name in rng.sample(known, min(quota("n_known"), len(known))):
        neg("n_known", name, "well-known unlisted company")
    inst = []
    for name in INSTITUTIONS:
        ok = not any(is_distinctive(t) and vocab.near(t) for t in tokens(name)) and not vocab.has_name(name)
        (inst.append(name) if ok else dropped.append(name))
    for name in rng.sample(inst, min(quota("n_institution"), len(inst))):
        neg("n_institution", name, "real institution, not listed")

    brands = brand_pool(vocab, seed, 3000)
    # brand swap: a listed Chinese name, every distinctive word replaced by one unlisted brand word
    swaps: list[tuple[str, str]] = []
    for e in entries:
        if e.country not in ("CN", "HK"):
            continue
        for n in e.names():
            if not usable_name(n) or is_han(n):
                continue
            spans = [m for m in _WORD.finditer(n) if is_distinctive(low(m))]
            rest = [t for t in content_tokens(n) if not is_distinctive(t)]
            if not spans or not any(stem(t) in GENERIC or t in GENERIC for t in rest):
                continue
            swaps.append((n, key(e)))
    rng.shuffle(swaps)
    seen: set[str] = set()
    for n, k in swaps:
        if len([q for q in out if q.category == "n_brand_swap"]) >= quota("n_brand_swap"):
            break
        spans = [m for m in _WORD.finditer(n) if is_distinctive(low(m))]
        brand = rng.choice(brands)[0]
        text = n[: spans[0].start()] + case_like(brand, spans[0].group())
        pos = spans[0].end()
        for m in spans[1:]:
            text += n[pos: m.start()].rstrip() if not n[pos: m.start()].strip() else n[pos: m.start()]
            pos = m.end()
        text = re.sub(r"\s{2,}", " ", text + n[pos:]).strip()
        if text in seen or not vocab.clear(text):
            continue
        seen.add(text)
        neg("n_brand_swap", text, f"from {k}: {n}")
    # generic traps: only common words
    tries = 0
    while len([q for q in out if q.category == "n_generic"]) < quota("n_generic") and tries < 10_000:
        tries += 1
        city = rng.choice(CITIES)[0]
        ind = rng.choice(INDUSTRIES)[0]
        form = rng.choice(LATIN_LEGAL)
        text = rng.choice((f"{city} {ind} {form}", f"{ind} {form}", f"China {ind} Group {form}", f"{city} {ind} Research Institute",
                           f"{city} International Trading {form}", f"{ind} (Hong Kong) Limited"))
        if text in seen or vocab.contains_list_name(text):
            continue
        seen.add(text)
        neg("n_generic", text, "common words only")
    # generated company names, two in three Latin
    tries = 0
    n_gen = quota("n_generated")
    while len([q for q in out if q.category == "n_generated"]) < n_gen and tries < 50_000:
        tries += 1
        chinese = rng.random() < 1 / 3
        text = generated_name(rng, brands, chinese)
        if text in seen or (not chinese and vocab.contains_list_name(text, generic_only=True)):
            continue
        seen.add(text)
        neg("n_generated", text, "generated", "han" if chinese else "latin")
    return out, dropped


def held_out_entries(entries: Sequence[Any], held_out: dict[str, tuple[str, ...]]) -> list[Any]:
    """The entries with the held-out names left out (an entry whose main name goes takes its next name)."""
    out = []
    for e in entries:
        drop = held_out.get(key(e))
        if not drop:
            out.append(e)
            continue
        names = [n for n in e.names() if n not in drop]
        out.append(e.model_copy(update={"name": names[0], "aliases": tuple(names[1:])}))
    return out


# --- evaluation --------------------------------------------------------------------------------------

@dataclass
class Outcome:
    hits: list[tuple[str, float]]  # (entry key, score), best first, at the sweep's lowest threshold


def screen_all(index: Any, queries: Sequence[Query], threshold: float, limit: int, use_country: bool) -> tuple[list[list[Any]], float]:
    """Screen every query; return the hits and the seconds spent inside `screen` only."""
    out = []
    spent = 0.0
    clock = time.perf_counter
    for q in queries:
        country = q.country if use_country else None
        t0 = clock()
        hits = index.screen(q.query, country, threshold=threshold, limit=limit)
        spent += clock() - t0
        out.append(hits)
    return out, spent


def at_threshold(hits: Sequence[tuple[str, float]], t: float, limit: int = LIMIT) -> list[str]:
    return [k for k, s in hits if s >= t - 1e-9][:limit]


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def metrics(queries: Sequence[Query], outcomes: Sequence[Sequence[tuple[str, float]]], t: float) -> dict[str, Any]:
    per: dict[str, Counter[str]] = defaultdict(Counter)
    tp = fp = fn = 0
    for q, hits in zip(queries, outcomes, strict=True):
        keys = at_threshold(hits, t)
        c = per[q.category]
        c["n"] += 1
        if q.positive:
            ok = q.expected in keys
            if q.category not in NOT_IN_HEADLINE:
                tp += ok
                fn += not ok
            c["hit"] += ok
            c["top1"] += bool(keys) and keys[0] in q.accept
            c["other"] += any(k not in q.accept for k in keys)
        else:
            bad = bool(keys)
            fp += bad
            c["fp"] += bad
    p, r, f = prf(tp, fp, fn)
    plain = [(q, h) for q, h in zip(queries, outcomes, strict=True) if q.positive and q.index == "full"]
    recall_full = sum(q.expected in at_threshold(h, t) for q, h in plain) / max(len(plain), 1)
    cats = {}
    for cat, c in sorted(per.items()):
        if cat.startswith("n_"):
            cats[cat] = {"n": c["n"], "false_positives": c["fp"], "fp_rate": c["fp"] / c["n"]}
        else:
            cats[cat] = {"n": c["n"], "recall": c["hit"] / c["n"], "top1": c["top1"] / c["n"], "other_entry_hit": c["other"] / c["n"]}
    return {"threshold": t, "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f,
            "recall_without_held_out": recall_full, "categories": cats}


def sweep(queries: Sequence[Query], outcomes: Sequence[Sequence[tuple[str, float]]]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    rows = [metrics(queries, outcomes, t) for t in SWEEP]
    ok = [r for r in rows if r["recall"] >= 0.98]
    best = max(ok, key=lambda r: (r["precision"], r["threshold"])) if ok else None
    return rows, best


def diagnose(index: Any, held_index: Any, queries: Sequence[Query], outcomes: Sequence[Sequence[tuple[str, float]]], t: float,
             per_category: int = 50) -> dict[str, list[dict[str, Any]]]:
    """Misses and false hits per category, with why: not retrieved, scored below the threshold, or
    scored high enough but crowded out of the top hits; and what the matcher made of the query."""
    from chipwatch.screen.names import analyse

    shown: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for q, hits in zip(queries, outcomes, strict=True):
        keys = at_threshold(hits, t)
        if len(shown[q.category]) >= per_category:
            continue
        idx = held_index if q.index == "held_out" else index
        if q.positive and q.expected not in keys:
            every = idx.screen(q.query, None, threshold=0.0, limit=100_000)
            rank, mine = next(((i, h) for i, h in enumerate(every) if f"{h.list}:{h.entry_id}" == q.expected), (None, None))
            forms = analyse(q.query)
            retrieved = any(key(idx.entries[idx.records[r].entry]) == q.expected for r in idx._candidates(forms))
            exp = next(e for e in idx.entries if key(e) == q.expected)
            if not retrieved:
                why = "not retrieved"
            elif mine is None:
                why = "retrieved, no distinctive word agreed"
            elif mine.score < t:
                why = f"scored {mine.score:.2f}"
            else:
                why = f"scored {mine.score:.2f} but ranked {rank + 1 if rank is not None else '?'}"
            shown[q.category].append({
                "query": q.query, "expected": q.expected, "expected_names": list(exp.names())[:4], "source": q.source, "why": why,
                "top": [f"{h.matched_name} [{h.list}] {h.score:.2f}" for h in every[:2]],
                "query_variants": [" ".join(v.tokens) + f" ({v.how})" for v in forms.variants][:3],
            })
        elif not q.positive and keys:
            top = idx.screen(q.query, None, threshold=t, limit=2)
            shown[q.category].append({"query": q.query, "source": q.source,
                                      "hits": [f"{h.matched_name} [{h.list}] {h.score:.2f}" for h in top],
                                      "explanation": top[0].explanation[:300] if top else ""})
    return dict(shown)


# --- nomenklatura name_bench --------------------------------------------------------------------------

COMPANY_SCHEMAS = frozenset({"Company", "Organization", "LegalEntity"})


def name_bench(shared: Path, t: float) -> dict[str, Any]:
    """Score name1 against a one-entry index of name2 for every labelled pair; beside logic-v2's frozen run."""
    from chipwatch.screen.match import ScreeningIndex
    from chipwatch.screen.model import ListEntry

    folder = shared / "data" / "screening" / "nomenklatura_name_bench"
    with open(folder / "cases.csv", newline="", encoding="utf-8") as fh:
        cases = list(csv.DictReader(fh))
    with open(folder / "logicv2-frozen.csv", newline="", encoding="utf-8") as fh:
        frozen = {(r["case_group"], r["schema"], r["name1"], r["name2"]): float(r["score"]) for r in csv.DictReader(fh)}
    ours: list[tuple[dict[str, str], float]] = []
    t0 = time.perf_counter()
    for i, c in enumerate(cases):
        etype = "individual" if c["schema"] == "Person" else "entity"
        idx = ScreeningIndex([ListEntry(list_id="NB", entry_id=str(i), name=c["name2"], entity_type=etype)])
        hits = idx.screen(c["name1"], None, threshold=0.0, limit=1)
        ours.append((c, hits[0].score if hits else 0.0))
    seconds = time.perf_counter() - t0

    def score(rows: list[tuple[dict[str, str], float]], thr: float) -> dict[str, Any]:
        tp = sum(1 for c, s in rows if s >= thr and c["is_match"] == "true")
        fp = sum(1 for c, s in rows if s >= thr and c["is_match"] != "true")
        fn = sum(1 for c, s in rows if s < thr and c["is_match"] == "true")
        p, r, f = prf(tp, fp, fn)
        return {"n": len(rows), "precision": p, "recall": r, "f1": f}

    out: dict[str, Any] = {"seconds": seconds, "pairs": len(cases), "frozen_pairs": len(frozen)}
    for label, keep in (("company_like", lambda c: c["schema"] in COMPANY_SCHEMAS), ("all", lambda c: True)):
        rows = [(c, s) for c, s in ours if keep(c)]
        both = [(c, s) for c, s in rows if (c["case_group"], c["schema"], c["name1"], c["name2"]) in frozen]
        lv2 = [(c, frozen[(c["case_group"], c["schema"], c["name1"], c["name2"])]) for c, s in both]
        out[label] = {"chipwatch": score(rows, t), "chipwatch_on_frozen_pairs": score(both, t), "logic_v2_frozen_0.70": score(lv2, 0.70)}
        fns = [f"FN {s:.2f} {c['name1']!r} ~ {c['name2']!r} ({c['case_group']})" for c, s in rows if s < t and c["is_match"] == "true"]
        fps = [f"FP {s:.2f} {c['name1']!r} ~ {c['name2']!r} ({c['case_group']})" for c, s in rows if s >= t and c["is_match"] != "true"]
        out[label]["errors"] = fns[:8] + fps[:8]
        out[label]["by_group"] = {g: score([(c, s) for c, s in rows if c["case_group"] == g], t)
                                  for g in sorted({c["case_group"] for c, _ in rows})}
    return out


# --- running ------------------------------------------------------------------------------------------

def run(shared: Path, seed: int, threshold: float | None, n_pos: int, use_country: bool = False,
        dump: Path | None = None, with_name_bench: bool = True, quiet: bool = False) -> dict[str, Any]:
    from chipwatch.screen.match import THRESHOLD, ScreeningIndex

    t = THRESHOLD if threshold is None else threshold
    say = (lambda *a: None) if quiet else print
    entries = load_entries(shared)
    t0 = time.perf_counter()
    qs = build_queries(entries, seed, n_pos)
    gen_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    index = ScreeningIndex(entries)
    build_s = time.perf_counter() - t0
    held = held_out_entries(entries, qs.held_out)
    held_index = ScreeningIndex(held)

    full_q = [q for q in qs.queries if q.index == "full"]
    held_q = [q for q in qs.queries if q.index == "held_out"]
    # timed pass at the chosen threshold, as a user would call it
    hits_full, s_full = screen_all(index, full_q, t, LIMIT, use_country)
    hits_held, s_held = screen_all(held_index, held_q, t, LIMIT, use_country)
    # untimed pass at the sweep's lowest threshold, for the sweep
    low = min(SWEEP[0], t)
    sw_full, _ = screen_all(index, full_q, low, 50, use_country)
    sw_held, _ = screen_all(held_index, held_q, low, 50, use_country)

    def as_keys(hs: list[list[Any]]) -> list[list[tuple[str, float]]]:
        return [[(f"{h.list}:{h.entry_id}", h.score) for h in row] for row in hs]

    queries = full_q + held_q
    main_out = as_keys(hits_full + hits_held)
    sweep_out = as_keys(sw_full + sw_held)
    headline = metrics(queries, main_out, t)
    rows, best = sweep(queries, sweep_out)
    seconds = s_full + s_held
    result: dict[str, Any] = {
        "seed": seed, "threshold": t, "entries": len(entries), "queries": len(queries),
        "positives": sum(q.positive for q in queries), "negatives": sum(not q.positive for q in queries),
        "held_out_names": sum(len(v) for v in qs.held_out.values()), "dropped_negatives": qs.dropped_negatives,
        "generate_s": gen_s, "index_build_s": build_s, "screen_s": seconds, "names_per_s": len(queries) / seconds,
        "use_country": use_country, "headline": headline, "sweep": rows, "best_threshold_recall_0.98": best,
        "diagnosis": diagnose(index, held_index, queries, main_out, t),
    }
    if with_name_bench:
        result["name_bench"] = name_bench(shared, t)
    if dump:
        write_dump(dump, queries, main_out, sweep_out, entries, qs.held_out, index, held_index, result)
    say(report(result))
    return result


def write_dump(path: Path, queries: Sequence[Query], outcomes: Sequence[Sequence[tuple[str, float]]],
               sweep_outcomes: Sequence[Sequence[tuple[str, float]]], entries: Sequence[Any], held_out: dict[str, tuple[str, ...]],
               index: Any, held_index: Any, result: dict[str, Any]) -> None:
    """Queries with the candidates chipwatch's index retrieved for each, and the entries, as JSON lines."""
    from chipwatch.screen.names import analyse

    with open(path, "w", encoding="utf-8") as fh:
        meta = {k: result[k] for k in ("seed", "threshold", "entries", "queries", "names_per_s", "index_build_s", "screen_s")}
        meta["headline"] = {k: result["headline"][k] for k in ("precision", "recall", "f1", "tp", "fp", "fn")}
        fh.write(json.dumps({"type": "meta", **meta}, ensure_ascii=False) + "\n")
        for e in entries:
            fh.write(json.dumps({"type": "entry", "key": key(e), "names": list(e.names()), "entity_type": e.entity_type,
                                 "country": e.country}, ensure_ascii=False) + "\n")
        for k, names in sorted(held_out.items()):
            fh.write(json.dumps({"type": "held_out", "key": k, "removed": list(names)}, ensure_ascii=False) + "\n")
        for q, hits, low_hits in zip(queries, outcomes, sweep_outcomes, strict=True):
            idx = held_index if q.index == "held_out" else index
            cands = sorted({key(idx.entries[idx.records[r].entry]) for r in idx._candidates(analyse(q.query))})
            row = {"type": "query", **asdict(q), "chipwatch_hits": [[k, s] for k, s in hits],
                   "chipwatch_hits_low": [[k, s] for k, s in low_hits], "candidates": cands}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}"


def report(r: dict[str, Any]) -> str:
    h = r["headline"]
    lines = [
        f"screening benchmark: {r['entries']} entries (EL, MEU, NS-CMIC, 1260H, DPL), {r['queries']} queries "
        f"({r['positives']} positive, {r['negatives']} negative), seed {r['seed']}, threshold {r['threshold']:.2f}"
        + (", with country" if r["use_country"] else ""),
        f"index build {r['index_build_s']:.2f} s; screening {r['screen_s']:.2f} s = {r['names_per_s']:.0f} names/s "
        "(1 core, screen calls only)",
        f"overall  P {h['precision']:.3f}  R {h['recall']:.3f}  F1 {h['f1']:.3f}   (TP {h['tp']}, FP {h['fp']}, FN {h['fn']}); "
        f"recall without the held-out categories (h, i_pinyin_zh, x) {h['recall_without_held_out']:.3f}",
        "",
        f"{'category':<16}{'n':>6}{'recall%':>9}{'top1%':>8}{'other%':>8}   {'category':<16}{'n':>6}{'FP':>5}{'FP%':>7}",
    ]
    pos = [(c, v) for c, v in h["categories"].items() if not c.startswith("n_")]
    neg = [(c, v) for c, v in h["categories"].items() if c.startswith("n_")]
    for i in range(max(len(pos), len(neg))):
        left, right = " " * 47, ""
        if i < len(pos):
            c, v = pos[i]
            left = f"{c:<16}{v['n']:>6}{_pct(v['recall']):>9}{_pct(v['top1']):>8}{_pct(v['other_entry_hit']):>8}"
        if i < len(neg):
            c, v = neg[i]
            right = f"   {c:<16}{v['n']:>6}{v['false_positives']:>5}{_pct(v['fp_rate']):>7}"
        lines.append(left + right)
    lines += ["", "(other% = positives that also hit an entry that is not the same company; top1 counts the same name on another list)",
              "", "threshold sweep:   " + "  ".join(f"{row['threshold']:.2f}" for row in r["sweep"])]
    for label in ("precision", "recall", "f1"):
        lines.append(f"  {label:<16} " + "  ".join(f"{row[label]:.3f}"[1:] if row[label] < 1 else " 1.00" for row in r["sweep"]))
    lines.append("  false positives  " + "  ".join(f"{row['fp']:>4}" for row in r["sweep"]))
    best = r["best_threshold_recall_0.98"]
    if best:
        lines.append(f"best threshold with recall >= 0.98: {best['threshold']:.2f} "
                     f"(P {best['precision']:.3f}, R {best['recall']:.3f}, F1 {best['f1']:.3f})")
    else:
        top = max(r["sweep"], key=lambda row: row["recall"])
        lines.append(f"no threshold in the sweep reaches recall 0.98 (best recall {top['recall']:.3f} at {top['threshold']:.2f})")
    bf = max(r["sweep"], key=lambda row: (row["f1"], row["threshold"]))
    lines.append(f"best F1 in the sweep: {bf['f1']:.3f} at {bf['threshold']:.2f} (P {bf['precision']:.3f}, R {bf['recall']:.3f})")
    if "name_bench" in r:
        nb = r["name_bench"]
        lines += ["", f"nomenklatura name_bench ({nb['pairs']} pairs; logic-v2 frozen scores for {nb['frozen_pairs']}), "
                      f"threshold {r['threshold']:.2f} "
                      "(logic-v2 at its default 0.70):"]
        for label in ("company_like", "all"):
            v = nb[label]
            c, cf, lv = v["chipwatch"], v["chipwatch_on_frozen_pairs"], v["logic_v2_frozen_0.70"]
            lines.append(f"  {label:<13} chipwatch n={c['n']:<4} P {c['precision']:.3f} R {c['recall']:.3f} F1 {c['f1']:.3f} "
                         "| on the frozen pairs "
                         f"n={cf['n']:<4} F1 {cf['f1']:.3f} | logic-v2 P {lv['precision']:.3f} R {lv['recall']:.3f} F1 {lv['f1']:.3f}")
    if r["dropped_negatives"]:
        lines.append(f"\ncurated negatives dropped because their words are on the lists: {', '.join(r['dropped_negatives'])}")
    lines.append("\nexamples of misses / false hits (first 5 per category; --json has up to 50):")
    for cat, rows in sorted(r["diagnosis"].items()):
        for row in rows[:5]:
            if "expected" in row:
                lines.append(f"  {cat:<14} MISS {row['query']!r} -> {row['expected_names'][0]!r} ({row['expected']}): {row['why']}; "
                             f"top {row['top'][:1]}")
            else:
                lines.append(f"  {cat:<14} FP   {row['query']!r} -> {row['hits'][0]}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared folder (default: ../shared beside the repo)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threshold", type=float, default=None, help="default: chipwatch.screen.match.THRESHOLD")
    ap.add_argument("--queries", type=int, default=1500, help="positive queries (negatives are added in proportion, about 0.6 x)")
    ap.add_argument("--country", action="store_true", help="pass the entry's country with each query (negatives: CN)")
    ap.add_argument("--no-name-bench", action="store_true")
    ap.add_argument("--json", type=Path, default=None, help="write the full result as JSON")
    ap.add_argument("--dump", type=Path, default=None, help="write the queries, entries and retrieved candidates as JSON lines")
    args = ap.parse_args(argv)
    result = run(args.shared, args.seed, args.threshold, args.queries, args.country, args.dump, not args.no_name_bench)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
