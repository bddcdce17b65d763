"""The UI strings: both languages hold the same keys, none is empty, and the Chinese uses the terms
compliance officers use."""

from __future__ import annotations

import re

import pytest
import yaml

from chipwatch.web.i18n import I18N_DIR, LANGUAGES, Translator, pick_language, strings


def test_both_languages_have_the_same_keys():
    en, zh = strings("en"), strings("zh")
    assert sorted(set(en) - set(zh)) == []
    assert sorted(set(zh) - set(en)) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_value_is_empty_and_every_value_is_text(lang):
    raw = yaml.safe_load((I18N_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))

    def leaves(tree, path=""):
        for k, v in tree.items():
            assert isinstance(k, str), f"{lang}: key {path}{k!r} is not text (quote yes/no/on/off in YAML)"
            if isinstance(v, dict):
                yield from leaves(v, f"{path}{k}.")
            else:
                yield f"{path}{k}", v

    for key, value in leaves(raw):
        assert isinstance(value, str) and value.strip(), f"{lang}: {key} is empty or not text"


def test_placeholders_agree_between_languages():
    en, zh = strings("en"), strings("zh")
    for key, text in en.items():
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", zh[key])), key


def test_chinese_is_written_in_chinese_with_the_compliance_terms():
    zh = strings("zh")
    text = "\n".join(zh.values())
    for term in ("出口管制", "许可证", "实体清单", "外国直接产品规则", "最终用户", "许可例外", "审查政策", "总处理性能", "性能密度"):
        assert term in text, term
    # Page words are translated, not left in English (language names and codes aside).
    same = [k for k, v in zh.items() if v == strings("en")[k] and re.search(r"[a-z]{4,}", v) and not k.startswith("app.lang_")]
    assert len(same) <= 3, same


def test_translator_formats_falls_back_and_records_gaps():
    from chipwatch.web import i18n

    t = Translator("zh")
    assert t("common.forbidden", role="查询员").startswith("您的角色（查询员）")
    assert t.maybe("policy_text", "case-by-case") == "逐案审查"
    assert t.maybe("policy_text", "something new") == "something new"
    i18n.MISSING.discard("no.such.key")
    assert t("no.such.key") == "no.such.key"
    assert "no.such.key" in i18n.MISSING
    i18n.MISSING.discard("no.such.key")


def test_language_choice_order():
    assert pick_language("zh", "en", "en-GB") == "zh"
    assert pick_language(None, "zh", "en-GB") == "zh"
    assert pick_language("xx", None, "zh-CN,zh;q=0.9") == "zh"
    assert pick_language(None, None, None) == "en"
