"""UI strings in English and Chinese, read from the hand-written `i18n/en.yaml` and `i18n/zh.yaml`.

Keys are dotted paths ("determine.licence_yes"). A key missing from a language falls back to English,
and a key missing from both is shown as the key itself, so a gap is visible on the page instead of
crashing it (the test suite checks both files hold the same keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from chipwatch.errors import InvalidInput

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
I18N_DIR = Path(__file__).parent / "i18n"
# Keys asked for that neither language defines: the tests render every page and require this empty.
MISSING: set[str] = set()


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping as one level with dotted keys ("determine.licence_yes"); the leaves as they are."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


@cache
def strings(lang: str) -> dict[str, str]:
    """Every UI string of one language, by dotted key."""
    if lang not in LANGUAGES:
        raise InvalidInput(f"unknown language {lang!r} (known: {', '.join(LANGUAGES)})")
    data = yaml.safe_load((I18N_DIR / f"{lang}.yaml").read_text(encoding="utf-8"))
    return {key: str(text) for key, text in flatten(data).items()}


def pick_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The page language: an explicit `?lang=` first, then the cookie, then the browser's preference."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    if accept_language and accept_language.strip().lower().startswith("zh"):
        return "zh"
    return DEFAULT_LANGUAGE


class Translator:
    """`t("key")` in templates and reports; `t.maybe(section, value)` translates a value from the law
    data (a policy, a reason code) when a translation exists and otherwise leaves it as written."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._own = strings(lang)
        self._fallback = strings(DEFAULT_LANGUAGE)

    def __call__(self, key: str, **fields: Any) -> str:
        text = self._own.get(key) or self._fallback.get(key)
        if text is None:
            MISSING.add(key)
            text = key
        return text.format(**fields) if fields else text

    def maybe(self, section: str, value: Any) -> str:
        if value is None:
            return ""
        return self._own.get(f"{section}.{value}", str(value))

    def has(self, key: str) -> bool:
        return key in self._own
