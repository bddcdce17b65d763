"""Name analysis for screening: one name in any script → comparable token variants, with the steps.

`analyse(name)` normalises a company name (NFKC, casefold, full-width → half-width, accents folded,
punctuation dropped, '&' read as 'and'), removes legal forms and branch words in English and
Chinese, and writes the name as one or more variants of lowercase ASCII tokens:

- a Latin-script name gives one "latin" variant, plus a "joined" one when it is spaced pinyin
  ("Zhong Ke" → zhongke) and a "translated from pinyin" one when its words are the pinyin of
  dictionary words ("Changjiang Cunchu" → yangtze memory);
- a Chinese name is converted to simplified characters, segmented over the bundled dictionaries
  (data/lexicon.yaml, data/places.yaml, data/legal_forms.yaml: fewest characters left unknown,
  then fewest segments) and written "translated" (曙光信息产业 → sugon information industry),
  "pinyin+translated" (brands, unknown words and the word in the trade-name position in pinyin:
  shuguang information industry), "pinyin" (shuguang xinxi chanye), and with the brands' other
  English names and the words' other senses (dawning information industry, ...), at most
  MAX_VARIANTS in all;
- a name with a Chinese and a Latin part side by side ("华为 Huawei Technologies") gives the
  variants of each part; a Latin word inside a Chinese name (TCL科技) stays in place.

Every transformation is listed in words in `NameForms.steps`, for the explanation shown to a
compliance officer. Place tokens go to `NameForms.places`; `GENERIC_TOKENS` and `PLACE_TOKENS`
tell the scorer which tokens say little about which company is meant.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from chipwatch.screen.model import NameForms, NameVariant

__all__ = [
    "GENERIC_TOKENS",
    "LEGAL_FORMS",
    "MAX_VARIANTS",
    "PINYIN_SYLLABLES",
    "PLACE_TOKENS",
    "analyse",
    "is_han",
    "joined_key",
    "normalise_latin",
    "tokenize",
]

_DATA = Path(__file__).parent / "data"

# A Chinese name yields at most this many variants: each one costs the matcher a comparison per candidate.
MAX_VARIANTS = 6

# ---------------------------------------------------------------------------------------------
# Characters and normalisation
# ---------------------------------------------------------------------------------------------

# CJK unified ideographs (basic, extension A, extensions B-H), compatibility ideographs, and 〇
# (the ideographic zero used in numerals such as 二〇一).
_HAN_CLASS = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
_HAN_RE = re.compile(f"[{_HAN_CLASS}]")
_RUN_RE = re.compile(f"([{_HAN_CLASS}]+)|([^\\s{_HAN_CLASS}]+)")
_FOREIGN_RE = re.compile(f"[^\\x00-\\x7f{_HAN_CLASS}]")


def is_han(ch: str) -> bool:
    """Whether `ch` is a Chinese character (CJK ideograph)."""
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x323AF
            or 0xF900 <= o <= 0xFAFF or o == 0x3007)


# Letters that Unicode does not decompose into a base letter + accent.
_SPECIAL_FOLD = {"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "þ": "th", "ł": "l", "ı": "i", "ŋ": "ng", "ħ": "h",
                 "ŧ": "t", "ĸ": "k", "ſ": "s", "ß": "ss"}
# Cyrillic (Russian / Ukrainian / Belarusian), a simple passport-style romanisation: Russian
# entities appear on the lists, and OOO / ZAO are then recognised as legal forms.
_CYRILLIC = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґў",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u",
                      "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya", "i", "yi", "ye", "g", "u"], strict=True))
_FOLD_TABLE = str.maketrans({**_SPECIAL_FOLD, **_CYRILLIC})
_APOSTROPHES = str.maketrans("", "", "'’‘ʼ`´")  # "people's" → peoples, "xi'an" → xian: no word boundary
_DOTTED_RE = re.compile(r"\b[a-z](?:\.[a-z])+\b\.?")  # s.a. → sa, u.s.a. → usa, l.l.c. → llc
_PUNCT_RE = re.compile(r"[^\w\s]|_")
_NONWORD_RE = re.compile(r"[\W_]+")
_FULLWIDTH_RE = re.compile("[\uff01-\uff5e\u3000]")
_ALNUM_RE = re.compile("[a-z0-9]")


def _is_latin_letter(c: str) -> bool:
    o = ord(c)
    return o < 0x250 or 0x1E00 <= o <= 0x1EFF


@lru_cache(maxsize=4096)
def _fold(c: str) -> str:
    """One non-ASCII character as ASCII: accents dropped (é → e), special letters spelled out (ø → o, ß → ss),
    Cyrillic romanised; anything else decomposed as far as Unicode goes."""
    d = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
    return d.translate(_FOLD_TABLE)


def _normalise(text: str) -> tuple[str, str, list[str]]:
    """(normalised text, script, steps). Han characters are kept; everything else becomes ASCII
    letters and digits separated by single spaces."""
    steps: list[str] = []
    t = unicodedata.normalize("NFKC", text)
    full_width = t != text and _FULLWIDTH_RE.search(text) is not None
    t2 = t.casefold()
    if t2 != text:
        steps.append("NFKC + casefold")
    if full_width:
        steps.append("full-width → half-width")
    t = t2
    scripts: set[str] = set()
    if t.isascii():
        if _ALNUM_RE.search(t):
            scripts.add("latin")
    else:
        folded: dict[str, str] = {}
        rest = _HAN_RE.sub("", t)
        if len(rest) < len(t):
            scripts.add("han")
        for c in rest:
            if c.isascii():
                if c.isalnum():
                    scripts.add("latin")
            elif c.isalpha() or unicodedata.combining(c):
                if c in _CYRILLIC:
                    scripts.add("other")
                elif _is_latin_letter(c):
                    scripts.add("latin")
                elif not unicodedata.combining(c):
                    scripts.add("other")
                folded[c] = _fold(c)
            elif c.isdigit():
                folded[c] = _fold(c)
        if folded:
            t = "".join(folded.get(c, c) for c in t)
            latin = [f"{c}→{f}" for c, f in folded.items() if f != c and c not in _CYRILLIC and f]
            if latin:
                steps.append("accents folded: " + ", ".join(sorted(latin)[:6]))
            if any(c in _CYRILLIC for c in folded):
                steps.append("Cyrillic transliterated")
    if "&" in t:
        t = t.replace("&", " and ")
        steps.append("'&' read as 'and'")
    t = t.translate(_APOSTROPHES)
    if "." in t:
        t = _DOTTED_RE.sub(lambda m: m.group().replace(".", ""), t)
    if _PUNCT_RE.search(t):
        steps.append("punctuation removed")
    t = _NONWORD_RE.sub(" ", t).strip()
    # Letters that could not be made ASCII (Hangul, Arabic, ...) cannot be compared with the lists' Latin names.
    if not t.isascii() and _FOREIGN_RE.search(t):
        t = " ".join(_FOREIGN_RE.sub(" ", t).split())
    if not scripts:
        script = "other"
    elif len(scripts) == 1:
        script = next(iter(scripts))
    else:
        script = "mixed"
    return t, script, steps


def normalise_latin(text: str) -> str:
    """Normalised text: NFKC, casefold, full-width → half-width, accents folded to ASCII, '&' → 'and',
    dotted abbreviations joined (S.A. → sa), punctuation → spaces, single spaces. Chinese characters
    are kept as they are (no script conversion, no legal-form removal)."""
    return _normalise(text)[0]


def tokenize(text: str) -> tuple[str, ...]:
    """Word tokens of `normalise_latin(text)` (a run of Chinese characters stays one token)."""
    return tuple(normalise_latin(text).split())


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load(name: str) -> dict[str, Any]:
    with open(_DATA / name, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_Loader)  # a safe loader (the C one when PyYAML has it, for speed)
    assert isinstance(data, dict), f"{name}: expected a mapping"
    return data


def _toks(text: str) -> tuple[str, ...]:
    return tuple(normalise_latin(text).split())


@dataclass(frozen=True, slots=True)
class _Entry:
    """A dictionary word for segmenting Chinese: its kind, English senses and pinyin words."""

    zh: str
    kind: str  # generic | brand | place | legal | branch
    en: tuple[tuple[str, ...], ...]  # English senses as tokens, main first
    py: tuple[str, ...]  # pinyin words
    note: str = ""  # brand: where the English form comes from; place: the suffix dropped (市, 省, ...)


@dataclass(frozen=True, slots=True)
class _Seg:
    """A piece of a name: a Chinese segment or a Latin token."""

    text: str
    kind: str  # generic | brand | place | legal | branch | number | unknown | latin
    en: tuple[tuple[str, ...], ...]
    py: tuple[str, ...]
    note: str = ""


def _sorted_forms(forms: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(sorted({_toks(f) for f in forms if _toks(f)}, key=lambda f: (-len(f), f)))


_LEGAL_DATA = _load("legal_forms.yaml")
_LEX_DATA = _load("lexicon.yaml")
_PLACE_DATA = _load("places.yaml")

_EN_ANYWHERE = _sorted_forms(_LEGAL_DATA["english"]["anywhere"])
_EN_SUFFIX = _sorted_forms(_LEGAL_DATA["english"]["suffix"])
_EN_PREFIX = _sorted_forms(_LEGAL_DATA["english"]["prefix"])
_EN_BRANCH = _sorted_forms(_LEGAL_DATA["english"]["branch"])
_ANYWHERE_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _f in _EN_ANYWHERE:
    _ANYWHERE_BY_FIRST.setdefault(_f[0], []).append(_f)

#: Legal forms removed from names: English (as normalised tokens joined by spaces) and Chinese.
LEGAL_FORMS: frozenset[str] = frozenset(
    [" ".join(f) for f in (*_EN_ANYWHERE, *_EN_SUFFIX, *_EN_PREFIX)] + list(_LEGAL_DATA["chinese"]["legal"]))
_LEGAL_TOKENS = frozenset(t for f in (*_EN_ANYWHERE, *_EN_SUFFIX, *_EN_PREFIX, *_EN_BRANCH) for t in f)


def _build_zh() -> tuple[dict[str, _Entry], dict[tuple[str, ...], str]]:
    """The segmentation dictionary (simplified Chinese → entry) and the Latin place forms."""
    zh: dict[str, _Entry] = {}
    for word, gloss in _LEGAL_DATA["chinese"]["legal"].items():
        zh[word] = _Entry(word, "legal", (_toks(gloss),), ())
    for word, gloss in _LEGAL_DATA["chinese"]["branch"].items():
        zh[word] = _Entry(word, "branch", (_toks(gloss),), ())
    latin_places: dict[tuple[str, ...], str] = {}
    places = _PLACE_DATA["places"]
    for word, d in places.items():
        en = tuple(_toks(e) for e in d["en"])
        py = _toks(d["py"])
        zh.setdefault(word, _Entry(word, "place", en, py))
        for form in (*en, py):
            latin_places.setdefault(form, word)
    for kind, section in (("brand", "brands"), ("generic", "generic")):
        for word, d in _LEX_DATA[section].items():
            zh.setdefault(word, _Entry(word, kind, tuple(_toks(e) for e in d["en"]), _toks(d["py"]), d.get("src", "")))
    # 北京市, 广东省, 浦东新区, 新疆维吾尔自治区 ...: the place with its suffix dropped; a dictionary word wins.
    for word in places:
        base = zh[word]
        for suffix in _PLACE_DATA["zh_suffixes"]:
            zh.setdefault(word + suffix, _Entry(word + suffix, "place", base.en, base.py, suffix))
    return zh, latin_places


_ZH, _LATIN_PLACES = _build_zh()
# For each first character, the lengths of the words starting with it: the segmenter tries only those.
_ZH_LENGTHS: dict[str, tuple[int, ...]] = {}
for _w in _ZH:
    _ZH_LENGTHS[_w[0]] = tuple(sorted({*_ZH_LENGTHS.get(_w[0], ()), len(_w)}))
_EN_PLACE_SUFFIX = _sorted_forms(_PLACE_DATA["en_suffixes"])


def _generic_tokens() -> frozenset[str]:
    english = {t for e in _ZH.values() if e.kind == "generic" for sense in e.en for t in sense}
    # Only the pinyin of industry / organisation words: most other dictionary words' pinyin is also a trade name.
    pinyin = set(_LEX_DATA["generic_pinyin"])
    extra = {"the", "of", "and", "for", "de", "co", "company", "corp", "corporation", "group", "holding", "holdings", "international",
             "trading", "industrial", "industries", "science", "technology", "technologies", "tech", "general", "national",
             "youxian", "gongsi", "zeren"}
    return frozenset(english | pinyin | extra)


def _place_tokens() -> frozenset[str]:
    out: set[str] = set()
    for form in _LATIN_PLACES:
        out.add("".join(form))  # hong kong → hongkong: the single-word form; "hong" alone is too common a syllable
    return frozenset(out)


#: Place tokens (English and pinyin, multi-word places joined: "hongkong"): weigh less in scoring.
PLACE_TOKENS: frozenset[str] = _place_tokens()
#: Common company words (English and pinyin) that say little about which company is meant.
GENERIC_TOKENS: frozenset[str] = _generic_tokens()

# Toneless pinyin syllables (ü written u), to recognise spaced pinyin in Latin names ("Zhong Ke").
_PINYIN_TEXT = """
a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can cang cao ce cen ceng cha chai chan
chang chao che chen cheng chi chong chou chu chua chuai chuan chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan
dang dao de dei den deng di dia dian diao die ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen feng fo
fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang gui gun guo ha hai han hang hao he hei hen heng hong
hou hu hua huai huan huang hui hun huo ji jia jian jiang jiao jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke kei
ken keng kong kou ku kua kuai kuan kuang kui kun kuo la lai lan lang lao le lei leng li lia lian liang liao lie lin ling liu lo
long lou lu luan lue lun luo ma mai man mang mao me mei men meng mi mian miao mie min ming miu mo mou mu na nai nan nang nao ne
nei nen neng ni nian niang niao nie nin ning niu nong nou nu nuan nue nuo o ou pa pai pan pang pao pei pen peng pi pian piao
pie pin ping po pou pu qi qia qian qiang qiao qie qin qing qiong qiu qu quan que qun ran rang rao re ren reng ri rong rou ru
rua ruan rui run ruo sa sai san sang sao se sen seng sha shai shan shang shao she shei shen sheng shi shou shu shua shuai
shuan shuang shui shun shuo si song sou su suan sui sun suo ta tai tan tang tao te teng ti tian tiao tie ting tong tou tu tuan
tui tun tuo wa wai wan wang wei wen weng wo wu xi xia xian xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao
ye yi yin ying yo yong you yu yuan yue yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhei zhen zheng
zhi zhong zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui zun zuo
"""
PINYIN_SYLLABLES: frozenset[str] = frozenset(_PINYIN_TEXT.split())


def joined_key(forms: NameForms) -> str:
    """All tokens of the first variant run together: "changjiang cunchu" and "changjiangcunchu" agree."""
    return "".join(forms.variants[0].tokens) if forms.variants else ""


# ---------------------------------------------------------------------------------------------
# Latin names
# ---------------------------------------------------------------------------------------------

_ORDINAL_RE = re.compile(r"^(\d+)(?:st|nd|rd|th)$")


def _edge_index(forms: Iterable[tuple[str, tuple[str, ...]]], at: int) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """Edge forms by their last (at=-1) or first (at=0) token, longest first."""
    index: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for kind, form in sorted(forms, key=lambda kf: -len(kf[1])):
        index.setdefault(form[at], []).append((kind, form))
    return index


_EDGE_END = _edge_index([*(("legal form", f) for f in _EN_SUFFIX), *(("branch word", f) for f in _EN_BRANCH)], -1)
_EDGE_START = _edge_index([("legal form", f) for f in _EN_PREFIX], 0)
_PLACE_LENGTHS: dict[str, tuple[int, ...]] = {}
for _p in _LATIN_PLACES:
    _PLACE_LENGTHS[_p[0]] = tuple(sorted({*_PLACE_LENGTHS.get(_p[0], ()), len(_p)}, reverse=True))
_PLACE_SUFFIX_FIRST = frozenset(f[0] for f in _EN_PLACE_SUFFIX)


def _match_at(tokens: list[str], i: int, forms: Iterable[tuple[str, ...]]) -> tuple[str, ...] | None:
    for f in forms:
        if tuple(tokens[i:i + len(f)]) == f:
            return f
    return None


def _strip_latin(tokens: list[str], steps: list[str], removed: list[str], *, edges: bool = True) -> list[str]:
    """Remove legal forms and branch words; ordinals to numbers. A name made only of legal-form
    words keeps them."""
    out: list[str] = []
    gone: list[tuple[str, str]] = []  # (what, which)
    notes: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        t = tokens[i]
        cands = _ANYWHERE_BY_FIRST.get(t)
        f = _match_at(tokens, i, cands) if cands else None
        if f:
            gone.append(("legal form", " ".join(f)))
            i += len(f)
            continue
        m = _ORDINAL_RE.match(t) if t[0].isdigit() else None
        if m:
            notes.append(f"ordinal {t}→{m.group(1)}")
            t = m.group(1)
        elif t in ("no", "nr") and i + 1 < n and tokens[i + 1].isdigit():
            notes.append(f"dropped '{t}' before a number")
            i += 1
            continue
        out.append(t)
        i += 1
    if edges:
        changed = True
        while changed and out:
            changed = False
            for kind, form in _EDGE_END.get(out[-1], ()):
                k = len(form)
                if k < len(out) and tuple(out[-k:]) == form:
                    gone.append((kind, " ".join(form)))
                    out = out[:-k]
                    changed = True
                    break
            for kind, form in _EDGE_START.get(out[0], ()):
                k = len(form)
                if k < len(out) and tuple(out[:k]) == form:
                    gone.append((kind, " ".join(form)))
                    out = out[k:]
                    changed = True
                    break
            if len(out) > 1 and out[0] == "the":
                out = out[1:]
                notes.append("dropped leading 'the'")
                changed = True
    if not out:  # nothing but legal-form words: keep them rather than an empty name
        return list(tokens)
    for kind, what in gone:
        steps.append(f"removed {kind} '{what}'")
        removed.append(what)
    steps.extend(notes)
    return out


def _latin_places(tokens: list[str], steps: list[str], places: set[str]) -> list[str]:
    """Flag place tokens; drop 'city' / 'province' / ... right after a place."""
    out: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        hit: tuple[str, ...] | None = None
        for k in _PLACE_LENGTHS.get(tokens[i], ()):
            cand = tuple(tokens[i:i + k])
            if cand in _LATIN_PLACES:
                hit = cand
                break
        if hit is None:
            out.append(tokens[i])
            i += 1
            continue
        out.extend(hit)
        places.update(hit)
        i += len(hit)
        suf = _match_at(tokens, i, _EN_PLACE_SUFFIX) if i < n and tokens[i] in _PLACE_SUFFIX_FIRST else None
        if suf:
            steps.append(f"dropped '{' '.join(suf)}' after place '{' '.join(hit)}'")
            i += len(suf)
    return out


def _joined_pinyin(tokens: list[str], places: set[str]) -> list[str] | None:
    """Spaced pinyin joined into words ("zhong ke" → "zhongke"), or None when there is none.
    Place words are left alone ("hong kong" is already recognised as a place)."""
    out: list[str] = []
    run: list[str] = []
    merged = False
    for t in [*tokens, ""]:
        if len(t) > 1 and t in PINYIN_SYLLABLES and t not in places:
            run.append(t)
            continue
        if len(run) > 1:
            out.append("".join(run))
            merged = True
        else:
            out.extend(run)
        run = []
        if t:
            out.append(t)
    return out if merged else None


def _pinyin_words() -> dict[str, tuple[str, ...]]:
    """Pinyin word → the English of the one dictionary word (of two or more characters) it spells."""
    seen: dict[str, set[tuple[str, ...]]] = {}
    for e in _ZH.values():
        if e.kind in ("generic", "brand") and len(e.zh) > 1 and len(e.py) == 1:
            seen.setdefault(e.py[0], set()).add(e.en[0])
    return {py: next(iter(en)) for py, en in seen.items() if len(en) == 1 and next(iter(en)) != (py,)}


_PINYIN_WORDS = _pinyin_words()


def _known_pinyin_words() -> frozenset[str]:
    """Every pinyin word of the lexicon, places and legal forms, written joined ("youxian", "shuguang")."""
    out: set[str] = set()
    for e in _ZH.values():
        out.update(w for w in e.py if len(w) > 2)
    out.update("".join(form) for form in _LATIN_PLACES)
    # the words of the pinyin legal forms ("youxian", "gongsi", "zeren"), so they regroup and strip
    out.update(w for form in (*_EN_ANYWHERE, *_EN_SUFFIX) for w in form if len(w) > 3 and all(
        c.isalpha() for c in w) and _is_pinyin_word(w))
    return frozenset(out)


def _is_pinyin_word(word: str) -> bool:
    """Whether `word` splits into pinyin syllables (greedy, longest first)."""
    i = 0
    while i < len(word):
        for k in range(min(6, len(word) - i), 0, -1):
            if word[i:i + k] in PINYIN_SYLLABLES:
                i += k
                break
        else:
            return False
    return True


_KNOWN_PINYIN = _known_pinyin_words()
_MAX_WORD_SYLLABLES = 4


def _segment_pinyin(tokens: list[str], places: set[str]) -> list[str] | None:
    """Pinyin written one syllable at a time ("Shu Guang Xin Xi Chan Ye Gu Fen You Xian Gong Si")
    regrouped into words: the longest run of syllables that spells a known word, and unknown
    syllables joined with their unknown neighbours (a brand: "yi ke shu" → "yikeshu").
    None when nothing was regrouped."""
    out: list[str] = []
    pending: list[str] = []  # unknown syllables waiting to be joined
    i, n, changed = 0, len(tokens), False
    while i < n:
        t = tokens[i]
        if not (t in PINYIN_SYLLABLES and t not in places):
            if pending:
                out.append("".join(pending))
                changed |= len(pending) > 1
                pending = []
            out.append(t)
            i += 1
            continue
        for k in range(min(_MAX_WORD_SYLLABLES, n - i), 1, -1):
            run = tokens[i:i + k]
            word = "".join(run)
            if all(x in PINYIN_SYLLABLES for x in run) and word in _KNOWN_PINYIN:
                if pending:
                    out.append("".join(pending))
                    changed |= len(pending) > 1
                    pending = []
                out.append(word)
                i += k
                changed = True
                break
        else:
            pending.append(t)
            i += 1
    if pending:
        out.append("".join(pending))
        changed |= len(pending) > 1
    return out if changed else None


def _analyse_latin(text: str, script: str, steps: list[str], removed: list[str], places: set[str]) -> list[NameVariant]:
    tokens = _strip_latin(text.split(), steps, removed)
    tokens = _latin_places(tokens, steps, places)
    how = "transliterated" if script == "other" else "latin"
    variants = [NameVariant(tuple(tokens), how)]
    joined = _segment_pinyin(tokens, places) or _joined_pinyin(tokens, places)
    if joined:
        steps.append(f"regrouped spaced pinyin: {' '.join(tokens)} → {' '.join(joined)}")
        joined = _strip_latin(joined, steps, removed)
        variants.append(NameVariant(tuple(joined), "joined"))
    # A Chinese name written in pinyin ("Changjiang Cunchu Keji"): also its dictionary words in English.
    words = joined or tokens
    read = [t for t in words if t in _PINYIN_WORDS]
    if read:
        steps.append("pinyin read as Chinese words: " + ", ".join(f"{t}→{' '.join(_PINYIN_WORDS[t])}" for t in read))
        variants.append(NameVariant(tuple(x for t in words for x in _PINYIN_WORDS.get(t, (t,))), "translated from pinyin"))
    return variants


# ---------------------------------------------------------------------------------------------
# Chinese names
# ---------------------------------------------------------------------------------------------

_ZH_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
_ZH_NUM_PINYIN = {"〇": "ling", "零": "ling", "一": "yi", "二": "er", "两": "liang", "三": "san", "四": "si", "五": "wu",
                  "六": "liu", "七": "qi", "八": "ba", "九": "jiu", "十": "shi", "百": "bai", "千": "qian"}
# A Chinese numeral is a number (第十四研究所 the 14th institute, 五十八所 institute 58) only after 第
# or before one of these; elsewhere it is part of a name (三一重工, 华大九天).
_NUM_RE = re.compile("第?[〇零一二三四五六七八九十百千两]+")
_NUM_FOLLOWERS = ("研究所", "研究院", "分院", "所", "院", "厂", "部队")


def _zh_number(s: str) -> int:
    if not any(c in _ZH_UNITS for c in s):
        return int("".join(str(_ZH_DIGITS[c]) for c in s))
    total = cur = 0
    for c in s:
        if c in _ZH_DIGITS:
            cur = _ZH_DIGITS[c]
        else:
            total += (cur or 1) * _ZH_UNITS[c]
            cur = 0
    return total + cur


@lru_cache(maxsize=1)
def _t2s() -> Callable[[str], str]:
    import opencc  # imported on first use: loading it costs time a Latin-only run need not spend

    convert: Callable[[str], str] = opencc.OpenCC("t2s").convert
    return convert


@lru_cache(maxsize=65536)
def _pinyin_word(text: str) -> str:
    """Toneless pinyin of `text` as one word (ü written u)."""
    from pypinyin import lazy_pinyin  # imported on first use (about 0.2 s)

    return "".join(p for p in lazy_pinyin(text, errors="ignore") if p.isascii()).replace("v", "u").lower()


def _unknown(text: str) -> _Seg:
    py = _pinyin_word(text)
    return _Seg(text, "unknown", (), (py,) if py else ())


def _segment_words(s: str) -> list[_Seg]:
    """Segment a run of Chinese characters: fewest characters left unknown, then fewest segments
    (a one-character dictionary word counts as unknown, so it never beats a longer reading)."""
    n = len(s)
    best: list[tuple[int, int]] = [(0, 0)] + [(n + 1, n + 1)] * n
    back: list[tuple[int, _Entry | None]] = [(0, None)] * (n + 1)
    for i in range(n):
        cu, cs = best[i]
        for k in _ZH_LENGTHS.get(s[i], ()):
            if i + k > n:
                break
            e = _ZH.get(s[i:i + k])
            if e is None:
                continue
            cost = (cu + (1 if k == 1 else 0), cs + 1)
            if cost < best[i + k]:
                best[i + k] = cost
                back[i + k] = (i, e)
        cost = (cu + 1, cs + 1)
        if cost < best[i + 1]:
            best[i + 1] = cost
            back[i + 1] = (i, None)
    pieces: list[tuple[str, _Entry | None]] = []
    j = n
    while j > 0:
        i, e = back[j]
        pieces.append((s[i:j], e))
        j = i
    pieces.reverse()
    # A one-character word next to an unknown character is part of that unknown name (阿里云 aliyun).
    unknown = [e is None for _, e in pieces]
    changed = True
    while changed:
        changed = False
        for k, (text, e) in enumerate(pieces):
            if e is not None and len(text) == 1 and not unknown[k] and (
                    (k > 0 and unknown[k - 1]) or (k + 1 < len(pieces) and unknown[k + 1])):
                unknown[k] = True
                changed = True
    out: list[_Seg] = []
    buf = ""
    for (text, e), unk in zip(pieces, unknown, strict=True):
        if unk:
            buf += text
            continue
        if buf:
            out.append(_unknown(buf))
            buf = ""
        assert e is not None
        out.append(_Seg(text, e.kind, e.en, e.py, e.note))
    if buf:
        out.append(_unknown(buf))
    return out


@lru_cache(maxsize=65536)
def _segment_run(run: str) -> tuple[_Seg, ...]:
    """Segment a run of (simplified) Chinese characters, numbers first."""
    out: list[_Seg] = []
    pos = 0
    for m in _NUM_RE.finditer(run):
        text = m.group()
        if not (text.startswith("第") and len(text) > 1) and not run.startswith(_NUM_FOLLOWERS, m.end()):
            continue
        if pos < m.start():
            out.extend(_segment_words(run[pos:m.start()]))
        digits = text[1:] if text.startswith("第") else text
        py = (*(["di"] if text.startswith("第") else []), "".join(_ZH_NUM_PINYIN[c] for c in digits))
        out.append(_Seg(text, "number", ((str(_zh_number(digits)),),), py))
        pos = m.end()
    if pos < len(run):
        out.extend(_segment_words(run[pos:]))
    return tuple(out)


def _seg_tokens(seg: _Seg, mode: str, sense: int = 0) -> tuple[str, ...]:
    if mode == "pinyin" or seg.kind in ("unknown", "latin") or (mode == "pinyin+translated" and seg.kind == "brand"):
        return seg.py
    return seg.en[min(sense, len(seg.en) - 1)]


def _render(segs: list[_Seg], mode: str, senses: dict[int, int] | None = None, as_pinyin: int = -1) -> tuple[str, ...]:
    out: list[str] = []
    for i, seg in enumerate(segs):
        out.extend(seg.py if i == as_pinyin else _seg_tokens(seg, mode, senses.get(i, 0) if senses else 0))
    return tuple(out)


def _trade_name_at(segs: list[_Seg]) -> int:
    """Index of a dictionary word standing where a Chinese company name has its trade name (字号):
    first after the places, with more words after it (深圳市|新兴|电子 → 新兴, written "Xinxing" in
    English, not "Emerging"); -1 if none."""
    i = 0
    while i < len(segs) and segs[i].kind == "place":
        i += 1
    if i + 1 < len(segs) and segs[i].kind == "generic" and segs[i].py and segs[i].py[0] not in _LEX_DATA["generic_pinyin"]:
        return i
    return -1


def _short(src: str) -> str:
    return src.split(";")[0].strip()


def _han_variants(segs: list[_Seg], steps: list[str], removed: list[str], places: set[str]) -> list[NameVariant]:
    """Variants of a segmented Chinese name (Latin tokens inside it kept in place)."""
    steps.append("segmented: " + "|".join(s.text for s in segs))
    kept = [s for s in segs if s.kind not in ("legal", "branch")]
    if any(_render([s], "pinyin") for s in kept):
        for s in segs:
            if s.kind in ("legal", "branch"):
                steps.append(f"removed {'legal form' if s.kind == 'legal' else 'branch word'} {s.text}")
                removed.append(s.text)
        segs = kept
    translated, numbers, brands, placed = [], [], [], []
    for s in segs:
        if s.kind in ("generic", "legal", "branch"):
            translated.append(f"{s.text}→{' '.join(s.en[0])}")
        elif s.kind == "number":
            numbers.append(f"{s.text}→{s.en[0][0]}")
        elif s.kind == "brand":
            also = [" ".join(e) for e in s.en[1:]]
            brands.append(f"brand {s.text}→{' '.join(s.en[0])}" + (f" (also {', '.join(also)})" if also else "")
                          + (f" [{_short(s.note)}]" if s.note else ""))
        elif s.kind == "place":
            placed.append(f"place {s.text}→{' '.join(s.en[0])}" + (f" (dropped {s.note})" if s.note else ""))
            places.update(s.en[0])
            places.update(s.py)
    steps.extend(brands)
    steps.extend(placed)
    if numbers:
        steps.append("number: " + ", ".join(numbers))
    if translated:
        steps.append("translated: " + ", ".join(translated))
    pinyin = [f"{s.text}→{' '.join(s.py)}" for s in segs if s.kind not in ("latin",) and s.py]
    if pinyin:
        steps.append("pinyin: " + ", ".join(pinyin))

    trade = _trade_name_at(segs)
    if trade >= 0:
        steps.append(f"trade-name position: {segs[trade].text} also kept in pinyin ({' '.join(segs[trade].py)})")
    cands: list[NameVariant] = [NameVariant(_render(segs, "translated"), "translated"),
                                NameVariant(_render(segs, "pinyin+translated", as_pinyin=trade), "pinyin+translated"),
                                NameVariant(_render(segs, "pinyin"), "pinyin")]
    for i, s in enumerate(segs):
        if s.kind == "brand":
            for k in range(1, len(s.en)):
                cands.append(NameVariant(_render(segs, "translated", {i: k}), f"translated: {s.text}→{' '.join(s.en[k])}"))
    for i, s in enumerate(segs):
        if s.kind == "generic":
            k = _other_sense(s.en)
            if k:
                cands.append(NameVariant(_render(segs, "translated", {i: k}), f"translated: {s.text}→{' '.join(s.en[k])}"))
    return cands


def _other_sense(senses: tuple[tuple[str, ...], ...]) -> int:
    """The first sense that is not just another spelling of the main one (technology / technologies,
    information / info: the matcher's spelling tolerance covers those), or 0."""
    main = "".join(senses[0])
    for k in range(1, len(senses)):
        other = "".join(senses[k])
        n = min(5, len(main), len(other))
        if main[:n] != other[:n]:
            return k
    return 0


def _latin_segs(tokens: list[str], steps: list[str], removed: list[str], places: set[str], *, edges: bool) -> list[_Seg]:
    tokens = _strip_latin(tokens, steps, removed, edges=edges)
    tokens = _latin_places(tokens, steps, places)
    return [_Seg(t, "latin", ((t,),), (t,)) for t in tokens]


def _analyse_han(text: str, steps: list[str], removed: list[str], places: set[str]) -> list[NameVariant]:
    simplified = _t2s()(text)
    if simplified != text:
        before, after = text.split(), simplified.split()
        changed = [f"{a}→{b}" for a, b in zip(before, after, strict=True) if a != b] if len(before) == len(after) else []
        steps.append("traditional→simplified: " + ", ".join(changed or [f"{text}→{simplified}"]))
        text = simplified
    # Runs of Chinese characters and of Latin tokens, with whether each touches the previous one.
    runs: list[tuple[bool, str, bool]] = []  # (is_han, text, attached)
    end = -1
    for m in _RUN_RE.finditer(text):
        runs.append((m.group(1) is not None, m.group(), m.start() == end))
        end = m.end()
    blocks: list[tuple[bool, list[str]]] = []
    split_at = -1
    for k, (han, run, attached) in enumerate(runs):
        if blocks and blocks[-1][0] == han:
            blocks[-1][1].append(run)
        else:
            if blocks and not attached:
                split_at = k
            blocks.append((han, [run]))
    if len(blocks) == 2 and split_at >= 0:
        latin = next(b[1] for b in blocks if not b[0])
        if any(t not in _LEGAL_TOKENS and not t.isdigit() for t in latin):
            # Two names side by side ("华为 Huawei Technologies"): each gives its own variants.
            steps.append("Chinese and Latin parts analysed as parallel names")
            chinese = "".join(next(b[1] for b in blocks if b[0]))
            out = _analyse_latin(" ".join(latin), "latin", steps, removed, places)
            return out + _han_variants(list(_segment_run(chinese)), steps, removed, places)
    segs: list[_Seg] = []
    latin_run: list[str] = []
    for han, run, _ in runs:
        if han:
            if latin_run:
                segs.extend(_latin_segs(latin_run, steps, removed, places, edges=False))
                latin_run = []
            segs.extend(_segment_run(run))
        else:
            latin_run.append(run)
    if latin_run:
        segs.extend(_latin_segs(latin_run, steps, removed, places, edges=False))
    return _han_variants(segs, steps, removed, places)


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


# Sized for the lists' ~30k names plus as many screened names (a NameForms takes one to a few kilobytes).
@lru_cache(maxsize=65_536)
def analyse(name: str) -> NameForms:
    """Analyse a name in any script into comparable token variants (see the module docstring)."""
    text, script, steps = _normalise(name)
    removed: list[str] = []
    places: set[str] = set()
    if not text:
        return NameForms(original=name, script=script, variants=(), steps=tuple(steps))
    han = _HAN_RE.search(text) is not None
    cands = _analyse_han(text, steps, removed, places) if han else _analyse_latin(text, script, steps, removed, places)
    variants: list[NameVariant] = []
    seen: set[tuple[str, ...]] = set()
    for v in cands:
        if v.tokens and v.tokens not in seen and len(variants) < MAX_VARIANTS:
            seen.add(v.tokens)
            variants.append(v)
    return NameForms(original=name, script=script, variants=tuple(variants), steps=tuple(steps), removed=tuple(removed),
                     places=frozenset(places))
