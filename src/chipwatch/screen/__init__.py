"""Restricted-party screening: lists as versioned data, names in any script, explained hits.

    from chipwatch.screen import screen
    result = screen("商湯集團有限公司", country="CN")
    for hit in result.hits: print(hit.list, hit.name, hit.score, hit.explanation)

The lists come from the store (`chipwatch lists import FILE`); on a fresh machine, from the small
sample list bundled with the package (and every answer says so).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from pydantic import BaseModel, Field

from chipwatch.screen.match import THRESHOLD, ScreeningIndex
from chipwatch.screen.model import Hit, ListEntry, ListVersion

__all__ = ["THRESHOLD", "Hit", "ListEntry", "ListVersion", "ScreeningIndex", "ScreeningResult", "current_index", "screen"]


class ScreeningResult(BaseModel):
    """The hits for one name, with the list versions screened against and any warnings."""

    query: str
    country: str | None
    date: date
    threshold: float
    hits: list[Hit]
    list_versions: list[ListVersion]
    warnings: list[str] = Field(default_factory=list)


@lru_cache(maxsize=4)
def _index_for(state: tuple[tuple[str, int], ...], lists: tuple[str, ...] | None) -> ScreeningIndex:
    from chipwatch.screen import store

    entries, versions = store.current_entries(list(lists) if lists else None)
    return ScreeningIndex(entries, versions)


def current_index(lists: tuple[str, ...] | None = None) -> ScreeningIndex:
    """The index over the newest version of every list in the store (cached until a new import)."""
    from chipwatch.screen import store

    state = tuple((v.source_path, v.version_id) for v in store.versions())
    return _index_for(state, lists)


def screen(name: str, country: str | None = None, on: date | None = None, *, address: str | None = None,
           threshold: float = THRESHOLD, lists: tuple[str, ...] | None = None, limit: int = 10) -> ScreeningResult:
    """Screen one name (any script) against the current lists."""
    from chipwatch.screen import store

    on = on or date.today()
    index = current_index(lists)
    versions = list({v.version_id: v for v in index.versions.values()}.values())
    warnings = [w for v in versions if (w := store.stale(v, on))]
    hits = index.screen(name, country, address=address, threshold=threshold, limit=limit)
    return ScreeningResult(query=name, country=country, date=on, threshold=threshold, hits=hits,
                           list_versions=versions, warnings=warnings)
