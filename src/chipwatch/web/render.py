"""The Jinja2 environment shared by the desk's pages and the reports, with the small formatting
filters both need (numbers, yes/no in the page language, UTC times)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape

from chipwatch.web.i18n import Translator

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
CLASS_CHARS = 48  # a CSS class made from a result word is cut to this length
GROUPED_FROM = 1_000  # floats from here on are shown whole with thousands grouped (not as 4.169e+05)
LONG_NUMBER = 1e15  # floats from here on are shown with three significant digits


def fmt(value: Any) -> str:
    """A value from an answer as text: numbers grouped, floats trimmed, lists joined, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if abs(value) >= LONG_NUMBER:
            return f"{value:.3g}"  # FLOP/s and the like: the digits past the third say nothing
        if value == int(value):
            return f"{int(value):,}"
        return f"{value:,.4g}" if abs(value) < GROUPED_FROM else f"{value:,.0f}"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value) if value else "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def css_class(value: Any) -> str:
    """A result word as a CSS class name ('met', 'applies', 'announcement')."""
    text = str(value or "").lower().split(" (")[0]
    return "".join(ch if ch.isalnum() else "-" for ch in text)[:CLASS_CHARS]


def when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value.tzinfo else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return fmt(value)


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    env.filters["css"] = css_class
    env.filters["dt"] = when
    env.filters["yesno"] = yesno
    return env


@pass_context
def yesno(ctx: Any, value: Any) -> str:
    """True / False / None in the page's language (None: the answer turns on a missing fact)."""
    t: Translator = ctx["t"]
    if value is True:
        return t("common.answer_yes")
    if value is False:
        return t("common.answer_no")
    return t("common.unknown")


def render(template: str, t: Translator, **context: Any) -> str:
    """Render a template with the translator `t` and the language bound."""
    return environment().get_template(template).render(t=t, lang=t.lang, **context)


def stylesheet() -> str:
    return (STATIC_DIR / "desk.css").read_text(encoding="utf-8")
