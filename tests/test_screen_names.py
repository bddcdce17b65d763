"""Tests of name analysis (chipwatch.screen.names): normalisation, legal forms, Chinese → pinyin and English."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from chipwatch.screen import names as N
from chipwatch.screen.model import NameForms
from chipwatch.screen.names import (
    GENERIC_TOKENS,
    LEGAL_FORMS,
    PLACE_TOKENS,
    analyse,
    is_han,
    joined_key,
    normalise_latin,
    tokenize,
)


def token_sets(forms: NameForms) -> list[tuple[str, ...]]:
    return [v.tokens for v in forms.variants]


def has_variant_with(forms: NameForms, *groups: set[str]) -> bool:
    """Some variant has, for each group, at least one of its tokens."""
    return any(all(g & set(v.tokens) for g in groups) for v in forms.variants)


# -- normalisation ----------------------------------------------------------------------------


def test_normalise_latin_basics():
    assert normalise_latin("  Société   Générale, S.A. ") == "societe generale sa"
    assert normalise_latin("AT&T") == "at and t"
    assert normalise_latin("Xi'an People’s Co.,Ltd.") == "xian peoples co ltd"
    assert normalise_latin("Łódź Øresund Straße") == "lodz oresund strasse"
    assert normalise_latin("华为 Huawei") == "华为 huawei"  # Chinese kept, no script conversion
    assert tokenize("Hi-Tech (Shenzhen) Co.") == ("hi", "tech", "shenzhen", "co")


def test_full_width_characters():
    f = analyse("ＨＵＡＷＥＩ　ＴＥＣＨＮＯＬＯＧＩＥＳ　ＣＯ．，ＬＴＤ．")
    assert f.script == "latin"
    assert f.variants[0].tokens == ("huawei", "technologies")
    assert "full-width → half-width" in f.steps
    # Full-width brackets and spaces inside a Chinese name.
    g = analyse("华为技术有限公司（深圳）")
    assert has_variant_with(g, {"huawei"}, {"shenzhen"})


@pytest.mark.parametrize("name", ["", " ", "   \t\n", "　", "...", "（）", "-&-"])
def test_empty_and_punctuation_only(name):
    f = analyse(name)
    assert isinstance(f, NameForms)
    assert f.original == name
    if name.strip(" \t\n\u3000.()（）-"):
        return  # '-&-' reads as 'and': one token is fine
    assert f.variants == ()
    assert joined_key(f) == ""


def test_script_detection():
    assert analyse("Huawei").script == "latin"
    assert analyse("华为").script == "han"
    assert analyse("华为 Huawei").script == "mixed"
    assert analyse("ООО Ромашка").script == "other"
    assert analyse("삼성전자").script == "other"


def test_is_han():
    assert is_han("华") and is_han("華") and is_han("〇")
    assert not is_han("a") and not is_han("ア") and not is_han("，")


# -- legal forms ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Huawei Technologies Co., Ltd.", "HUAWEI TECHNOLOGIES CO LTD", "Huawei Technologies Company Limited",
                                  "Huawei Technologies Co.,Ltd", "Huawei Technologies Inc.", "Huawei Technologies, LLC"])
def test_english_legal_forms(name):
    f = analyse(name)
    assert f.variants[0].tokens == ("huawei", "technologies")
    assert f.removed
    assert any(s.startswith("removed legal form") for s in f.steps)


def test_english_legal_form_positions():
    assert analyse("OOO Romashka").variants[0].tokens == ("romashka",)
    assert analyse("Volvo AB").variants[0].tokens == ("volvo",)
    assert analyse("AB Volvo").variants[0].tokens == ("ab", "volvo")  # 'ab' is only removed at the end
    assert analyse("Smith & Co").variants[0].tokens == ("smith",)
    assert analyse("Shenzhen Xyz Keji Youxian Gongsi").variants[0].tokens == ("shenzhen", "xyz", "keji")
    # Holdings and group are kept (parent and subsidiary are different entries).
    assert analyse("Huawei Investment & Holding Co., Ltd.").variants[0].tokens == ("huawei", "investment", "and", "holding")


def test_branch_words_removed():
    f = analyse("Huawei Technologies Co., Ltd. Shenzhen Branch")
    assert f.variants[0].tokens == ("huawei", "technologies", "shenzhen")
    assert "branch" in f.removed
    g = analyse("华为技术有限公司深圳分公司")
    assert g.variants[0].tokens == ("huawei", "technologies", "shenzhen")
    assert "分公司" in g.removed and "有限公司" in g.removed
    assert any("分公司" in s and "branch" in s for s in g.steps)


def test_name_of_only_legal_words_is_kept():
    assert analyse("Limited").variants[0].tokens == ("limited",)
    assert analyse("有限公司").variants


def test_chinese_legal_forms():
    for name in ["华为技术有限公司", "华为技术股份有限公司", "华为技术有限责任公司", "华为技术公司"]:
        f = analyse(name)
        assert ("huawei", "technologies") in token_sets(f), name
        assert f.removed, name
    f = analyse("商汤集团有限公司")
    assert "有限公司" in f.removed
    assert "removed legal form 有限公司" in f.steps
    assert has_variant_with(f, {"group"})  # 集团 is kept as a word


def test_legal_forms_export():
    assert {"co ltd", "limited", "gmbh", "有限公司", "股份有限公司"} <= LEGAL_FORMS


# -- traditional / simplified ----------------------------------------------------------------


def test_traditional_and_simplified_agree():
    t, s = analyse("商湯集團有限公司"), analyse("商汤集团有限公司")
    assert token_sets(t) == token_sets(s)
    assert t.removed == s.removed
    assert any(x.startswith("traditional→simplified: 商湯集團有限公司→商汤集团有限公司") for x in t.steps)
    assert not any(x.startswith("traditional→simplified") for x in s.steps)
    assert has_variant_with(s, {"sensetime"}, {"group"})
    assert has_variant_with(s, {"shangtang"})


# -- Chinese → variants ----------------------------------------------------------------------


def test_sugon_variants():
    f = analyse("曙光信息产业股份有限公司")
    assert f.script == "han"
    assert has_variant_with(f, {"sugon", "shuguang"}, {"information"}, {"industry"})
    hows = {v.how for v in f.variants}
    assert {"translated", "pinyin+translated", "pinyin"} <= hows
    assert ("shuguang", "xinxi", "chanye") in token_sets(f)
    assert f.variants[0].tokens == ("sugon", "information", "industry")
    assert ("dawning", "information", "industry") in token_sets(f)
    assert "segmented: 曙光|信息|产业|股份有限公司" in f.steps
    assert any(s.startswith("brand 曙光→sugon") and "Entity List" in s for s in f.steps)
    assert len(f.variants) <= N.MAX_VARIANTS


def test_ymtc_variants():
    f = analyse("长江存储科技有限责任公司")
    assert has_variant_with(f, {"changjiang", "yangtze"}, {"cunchu", "memory"})
    assert ("yangtze", "memory", "technology") in token_sets(f)
    assert ("yangtze", "storage", "technology") in token_sets(f)  # another sense of 存储
    assert ("yangtze", "memory", "science", "and", "technology") in token_sets(f)  # 科技, not just technologies
    assert ("changjiang", "cunchu", "keji") in token_sets(f)


@pytest.mark.parametrize(("zh", "en"), [("海光信息技术股份有限公司", "hygon"), ("摩尔线程智能科技(北京)有限责任公司", "moore"),
                                        ("中芯国际集成电路制造有限公司", "smic"), ("杭州海康威视数字技术股份有限公司", "hikvision"),
                                        ("深圳市大疆创新科技有限公司", "dji"), ("上海壁仞智能科技有限公司", "biren"),
                                        ("拓荆科技股份有限公司", "piotech"), ("深圳市新凯来技术有限公司", "sicarrier")])
def test_brand_translations(zh, en):
    f = analyse(zh)
    assert has_variant_with(f, {en}), token_sets(f)


def test_unknown_characters_become_pinyin():
    f = analyse("依图网络科技有限公司")  # 依图 is a brand: check an unknown one too
    assert has_variant_with(f, {"yitu"}, {"network"})
    g = analyse("深圳市华强北电子有限公司")
    assert has_variant_with(g, {"huaqiangbei"}, {"electronics"})
    assert any(s.startswith("pinyin: ") and "华强北→huaqiangbei" in s for s in g.steps)


def test_single_character_words_inside_unknown_names():
    assert analyse("阿里云").variants[0].tokens == ("aliyun",)
    assert has_variant_with(analyse("紫光云"), {"unisplendour"}, {"cloud"})


def test_numbers_and_institutes():
    f = analyse("中国电子科技集团公司第十四研究所")
    assert has_variant_with(f, {"china"}, {"electronics"}, {"technology"}, {"group"}, {"14"}, {"institute"})
    assert "number: 第十四→14" in f.steps
    g = analyse("The 14th Research Institute of China Electronics Technology Group Corporation")
    assert g.variants[0].tokens == ("14", "research", "institute", "of", "china", "electronics", "technology", "group")
    assert has_variant_with(analyse("中国电科五十八所"), {"cetc"}, {"58"}, {"institute"})
    # A numeral that is part of a name stays in its pinyin.
    assert not has_variant_with(analyse("华大九天"), {"9"})


def test_mixed_parallel_and_embedded():
    f = analyse("华为 Huawei Technologies")
    assert f.script == "mixed"
    assert ("huawei", "technologies") in token_sets(f)
    assert ("huawei",) in token_sets(f)
    g = analyse("TCL科技集团股份有限公司")
    assert g.variants[0].tokens == ("tcl", "technology", "group")
    h = analyse("华为技术有限公司 (Huawei Technologies Co., Ltd.)")
    assert ("huawei", "technologies") in token_sets(h)


def test_trade_name_position_kept_in_pinyin():
    # 新兴 is a dictionary word ("emerging"), but where the trade name stands it is the company's name: Xinxing.
    f = analyse("深圳市新兴电子有限公司")
    assert ("shenzhen", "emerging", "electronics") in token_sets(f)
    assert ("shenzhen", "xinxing", "electronics") in token_sets(f)
    assert "xinxing" not in GENERIC_TOKENS  # a trade name must stay distinctive


def test_latin_pinyin_read_as_chinese_words():
    f = analyse("Changjiang Cunchu Keji Youxian Gongsi")
    assert f.variants[0].tokens == ("changjiang", "cunchu", "keji")
    assert ("yangtze", "memory", "technology") in token_sets(f)
    assert has_variant_with(analyse("Shuguang Information Industry"), {"sugon"}, {"information"})
    assert len(analyse("Acme Widgets").variants) == 1


def test_full_chinese_name_of_smic():
    f = analyse("中芯国际集成电路制造有限公司")
    assert f.variants[0].tokens == ("smic",)
    assert ("semiconductor", "manufacturing", "international") in token_sets(f)


# -- places -----------------------------------------------------------------------------------


def test_places_flagged():
    f = analyse("北京")
    assert "beijing" in f.places
    g = analyse("北京市海淀区中关村科技发展有限公司")
    assert {"beijing", "haidian", "zhongguancun"} <= g.places
    assert g.variants[0].tokens[:3] == ("beijing", "haidian", "zhongguancun")
    assert any("dropped 市" in s for s in g.steps)
    h = analyse("Shenzhen City Hong Kong SAR Trading Ltd")
    assert {"shenzhen", "hong", "kong"} <= h.places
    assert h.variants[0].tokens == ("shenzhen", "hong", "kong", "trading")
    assert "xianggang" in analyse("香港特别行政区").places


def test_place_and_generic_token_sets():
    assert {"beijing", "shanghai", "shenzhen", "hongkong", "xian", "shaanxi", "china", "macau"} <= PLACE_TOKENS
    assert "hong" not in PLACE_TOKENS  # only the joined form: "hong" alone is a common syllable
    generic = {"technology", "electronics", "group", "international", "trading", "industrial", "co", "science", "keji", "jituan"}
    assert generic <= GENERIC_TOKENS
    assert not {"huawei", "sugon", "dawning", "hygon", "smic", "yangtze", "zhongxin"} & GENERIC_TOKENS
    assert not PLACE_TOKENS & GENERIC_TOKENS


# -- Latin pinyin, joined keys ----------------------------------------------------------------


def test_joined_key_and_spaced_pinyin():
    assert joined_key(analyse("Changjiang Cunchu")) == joined_key(analyse("changjiangcunchu")) == "changjiangcunchu"
    f = analyse("Zhong Ke Shu Guang")
    assert ("zhongke", "shuguang") in token_sets(f)  # regrouped into words, not one run
    g = analyse("Zhong Ke Technology Co Ltd")
    assert ("zhongke", "technology") in token_sets(g)
    assert len(analyse("Huawei Technologies").variants) == 1


# -- invariants -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_any_text_gives_lowercase_ascii_tokens(text):
    f = N.analyse.__wrapped__(text)
    assert f.original == text
    assert len(f.variants) <= N.MAX_VARIANTS
    for v in f.variants:
        assert v.tokens
        for t in v.tokens:
            assert t and t.isascii() and t.isalnum() and t == t.lower(), (text, v)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(N._ZH)), min_size=1, max_size=5))
def test_chinese_made_of_dictionary_words(words):
    f = N.analyse.__wrapped__("".join(words))
    assert f.script == "han"
    assert f.variants


def test_analyse_is_cached():
    assert analyse("Sugon") is analyse("Sugon")


# -- data files -------------------------------------------------------------------------------


def _data(name: str) -> dict:
    return yaml.safe_load((N._DATA / name).read_text(encoding="utf-8"))


def test_data_files_say_they_are_written_for_chipwatch():
    for name in ("lexicon.yaml", "places.yaml", "legal_forms.yaml"):
        head = (N._DATA / name).read_text(encoding="utf-8")[:600]
        assert "Written for chipwatch" in head, name


def test_lexicon_size_and_brand_sources():
    lex = _data("lexicon.yaml")
    assert len(lex["generic"]) + len(lex["brands"]) >= 150
    for zh, e in lex["brands"].items():
        assert e.get("src"), zh
        assert e["en"], zh
    for section in ("generic", "brands"):
        for zh, e in lex[section].items():
            assert all(is_han(c) for c in zh), zh
            for form in (e["py"], *e["en"]):
                assert normalise_latin(form), (zh, form)


def test_no_word_in_two_data_files():
    lex, places, legal = _data("lexicon.yaml"), _data("places.yaml")["places"], _data("legal_forms.yaml")["chinese"]
    sets = [set(lex["generic"]), set(lex["brands"]), set(places), set(legal["legal"]) | set(legal["branch"])]
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            assert not sets[i] & sets[j]


def test_generic_pinyin_are_dictionary_words():
    lex = _data("lexicon.yaml")
    pinyin = {e["py"] for e in lex["generic"].values()}
    assert set(lex["generic_pinyin"]) <= pinyin
    assert set(lex["generic_pinyin"]) <= GENERIC_TOKENS


def test_all_provinces_present():
    places = _data("places.yaml")["places"]
    provincial = {k for k, v in places.items() if v["kind"] in ("province", "municipality", "region", "sar")}
    assert len(provincial) == 34


def test_pinyin_in_data_matches_pypinyin():
    from pypinyin import lazy_pinyin

    # Polyphones pypinyin reads differently out of context; the data files have the reading used in these names.
    known = {"长鑫": "changxin", "朝阳": "chaoyang", "闵行": "minhang"}
    lex, places = _data("lexicon.yaml"), _data("places.yaml")["places"]
    for zh, e in [*lex["generic"].items(), *lex["brands"].items(), *places.items()]:
        expected = known.get(zh) or "".join(lazy_pinyin(zh)).replace("v", "u")
        assert e["py"].replace(" ", "") == expected, zh
        for word in e["py"].split():
            assert word.isascii() and word.isalpha()


# -- speed ------------------------------------------------------------------------------------


def test_lexicon_brand_sources_agree_with_the_lists():
    """A brand whose source names a US list must appear (English form or pinyin) on that list."""
    import json
    import re
    from pathlib import Path

    import yaml

    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "screening" / "nsfreg"
    if not shared.is_dir():
        pytest.skip(f"no list data at {shared}")
    lex = yaml.safe_load((Path(__file__).resolve().parents[1] / "src/chipwatch/screen/data/lexicon.yaml").read_text(encoding="utf-8"))
    files = {"Entity List": "bis_entity_list", "NS-CMIC": "ofac_nscmic", "1260H": "dow_1260h", "MEU": "bis_meu"}
    texts = {}
    for key, f in files.items():
        d = json.loads((shared / f"{f}.json").read_text(encoding="utf-8"))
        texts[key] = " | ".join((e["name"] + " " + " ".join(e.get("aliases") or [])).lower() for e in d["entities"])
    missing = []
    for zh, b in lex["brands"].items():
        for key, text in texts.items():
            if key not in b.get("src", ""):
                continue
            words = [en.lower() for en in b["en"]] + [str(b["py"]).replace(" ", "").lower()]
            if not any(re.search(r"\b" + re.escape(w), text) or w in text.replace(" ", "") for w in words):
                missing.append((zh, key))
    assert not missing
