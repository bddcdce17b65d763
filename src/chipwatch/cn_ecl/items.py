"""The items of China's export-control announcements, found by control-list entry, HS code, or
name in English or Chinese (镓, 锗, 氮化镓 ...), or by a whole material class ("gallium",
"rare_earths").

The item files (law/cn_ecl/items/*.yaml, one per announcement) say what an item is and which
announcements list it; whether it needs a licence on a date is for the dated rules.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chipwatch.errors import InvalidInput, LawDataError
from chipwatch.law import LAW_DIR

ITEMS_DIR = LAW_DIR / "cn_ecl" / "items"


class CnItem(BaseModel):
    """One controlled item of an announcement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    cls: str = Field(alias="class")
    name: str
    zh: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    entry: str | None = None
    hs: tuple[str, ...] = ()
    element: str | None = None
    lists: tuple[str, ...] = ()
    note: str | None = None
    announcement: str = ""
    source: str = ""


class _ItemFileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    announcement: str
    source: str
    items: list[dict[str, object]]


class _ClassIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    representative: str


class ItemMatch(BaseModel):
    """The item a query found, and how it was found (shown in the trace)."""

    model_config = ConfigDict(frozen=True)

    item: CnItem
    matched_by: str  # "id", "entry", "hs", "name", "class"
    candidates: tuple[str, ...] = ()  # other items the same HS code covers


def normalise(text: str) -> str:
    """Case, width and punctuation folded, so 'GaN', 'gan' and 'Ｇａｎ' match; Chinese kept."""
    t = unicodedata.normalize("NFKC", text).casefold().strip()
    return re.sub(r"[\s\-_.,()/]+", " ", t).strip()


def _digits(text: str) -> str:
    return re.sub(r"[\s.]", "", text)


def _read(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LawDataError(f"{path}: {exc}") from None


@cache
def load_items() -> dict[str, CnItem]:
    """Every item of every announcement file, by id; an item's `lists` default to its announcement."""
    items: dict[str, CnItem] = {}
    for path in sorted(ITEMS_DIR.glob("*.yaml")):
        if path.name == "classes.yaml":
            continue
        try:
            f = _ItemFileIn.model_validate(_read(path))
            for raw in f.items:
                data = {"lists": [f.announcement], **raw, "announcement": f.announcement, "source": f.source}
                item = CnItem.model_validate(data)
                if item.id in items:
                    raise LawDataError(f"{path}: item {item.id} defined twice")
                items[item.id] = item
        except ValidationError as exc:
            first = exc.errors()[0]
            raise LawDataError(f"{path}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    return items


@cache
def load_classes() -> dict[str, _ClassIn]:
    path = ITEMS_DIR / "classes.yaml"
    data = _read(path)
    if not isinstance(data, dict) or "classes" not in data:
        raise LawDataError(f"{path}: expected a 'classes' mapping")
    try:
        classes = {str(k): _ClassIn.model_validate(v) for k, v in data["classes"].items()}
    except ValidationError as exc:
        raise LawDataError(f"{path}: {exc.errors()[0]['msg']}") from None
    items = load_items()
    for name, c in classes.items():
        if c.representative not in items:
            raise LawDataError(f"{path}: class {name}: unknown representative item {c.representative}")
    return classes


@cache
def _index() -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """(entry → item ids, HS code → item ids, normalised name → item id or class:NAME)."""
    by_entry: dict[str, list[str]] = {}
    by_hs: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for item in load_items().values():
        if item.entry:
            by_entry.setdefault(normalise(item.entry), []).append(item.id)
        for code in item.hs:
            by_hs.setdefault(_digits(code), []).append(item.id)
        for n in (item.id, item.name, *item.zh, *item.aliases):
            by_name.setdefault(normalise(n), item.id)
    for cname, c in load_classes().items():
        for n in (cname, *c.zh, *c.aliases):
            # a class name wins over an item alias of the same spelling ("gallium" = the class)
            by_name[normalise(n)] = f"class:{cname}"
    return by_entry, by_hs, by_name


def find_item(query: str) -> ItemMatch:
    """The item `query` names: an item id, a control-list entry (1C902.a), an HS code (digits,
    8 or 10), an English or Chinese name or alias, or a material class. Raises InvalidInput with
    the nearest names when nothing matches."""
    q = query.strip()
    if not q:
        raise InvalidInput("give a material: a control-list entry, an HS code or a name")
    items = load_items()
    by_entry, by_hs, by_name = _index()
    key = normalise(q)
    if key in by_entry:
        ids = by_entry[key]
        return ItemMatch(item=items[ids[0]], matched_by="entry", candidates=tuple(ids[1:]))
    digits = _digits(q)
    if digits.isdigit():
        ids = by_hs.get(digits) or [i for code, found in by_hs.items() if code.startswith(digits) for i in found]
        if not ids:
            raise InvalidInput(f"no CN-ECL item with HS code {q!r} in chipwatch's item data")
        ids = list(dict.fromkeys(ids))
        return ItemMatch(item=items[ids[0]], matched_by="hs", candidates=tuple(ids[1:]))
    found = by_name.get(key)
    if found is not None:
        if found.startswith("class:"):
            cname = found.removeprefix("class:")
            return ItemMatch(item=items[load_classes()[cname].representative], matched_by="class")
        return ItemMatch(item=items[found], matched_by="id" if found == q else "name")
    near = difflib.get_close_matches(key, by_name.keys(), n=3, cutoff=0.6)
    hint = f"; nearest: {', '.join(near)}" if near else ""
    raise InvalidInput(f"no CN-ECL item {q!r} in chipwatch's item data{hint}")
