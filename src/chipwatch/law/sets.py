"""Country sets named in the law data, resolved against the dated Country Groups.

A set-valued parameter is written as groups and countries, so that it follows group changes on
its own (Nicaragua joining D:5 in 2024 joins every set built on D:5 that day):

    {any_of: ["D:1", "D:4", "D:5"], none_of: ["A:5", "A:6"], plus: ["MO"]}

A token with a colon, or TIER1/TIER2/TIER3, is a group; any other token is an ISO 3166 code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from chipwatch.errors import LawDataError


def _is_group(token: str) -> bool:
    return ":" in token or token.upper().startswith("TIER")


def _tokens(tokens: Iterable[str], on: date) -> frozenset[str]:
    from chipwatch.law.groups import load_country_groups

    groups = load_country_groups()
    out: set[str] = set()
    for t in tokens:
        out |= groups.members(t, on) if _is_group(t) else {t}
    return frozenset(out)


def country_set(expr: Any, on: date) -> frozenset[str]:
    """The ISO codes `expr` (a list of tokens, or any_of/none_of/plus) denotes on `on`."""
    return _country_set_cached(_freeze(expr), on)


def _freeze(expr: Any) -> Any:
    if isinstance(expr, Mapping):
        unknown = set(expr) - {"any_of", "none_of", "plus"}
        if unknown:
            raise LawDataError(f"country set has unknown keys {sorted(unknown)} (use any_of, none_of, plus)")
        return tuple((k, tuple(expr.get(k, ()))) for k in ("any_of", "none_of", "plus"))
    if isinstance(expr, (list, tuple)):
        return (("any_of", tuple(expr)), ("none_of", ()), ("plus", ()))
    raise LawDataError(f"not a country set: {expr!r}")


@lru_cache(maxsize=4096)
def _country_set_cached(frozen: Any, on: date) -> frozenset[str]:
    parts = dict(frozen)
    return (_tokens(parts["any_of"], on) - _tokens(parts["none_of"], on)) | _tokens(parts["plus"], on)
