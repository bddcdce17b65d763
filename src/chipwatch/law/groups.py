"""Country Groups (Supp. No. 1 to 15 CFR part 740) with dated membership.

Membership on a date is the base list with every amending rule effective on or before that date
applied in order. Each answer can say which rule last changed a group, so a trace that says
"NI ∈ D:5" can also say since when and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import pycountry
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chipwatch.errors import InvalidInput, LawDataError, NotInForce

GROUPS_FILE = Path(__file__).parent / "us_ear" / "groups" / "country_groups.yaml"

# Codes the EAR uses that pycountry spells differently or that are not states.
_EXTRA_CODES = {"XK"}  # Kosovo


def _check_code(code: str) -> str:
    if code in _EXTRA_CODES or pycountry.countries.get(alpha_2=code) is not None:
        return code
    raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective: date
    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    source: str
    cite: str
    uncertain: str | None = None

    @field_validator("add", "remove")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        return [_check_code(c) for c in v]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid")
    effective: date
    source: str
    members: list[str]

    @field_validator("members")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("a member is listed twice")
        return [_check_code(c) for c in v]


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    cite: str
    base: _Base
    changes: list[_Change] = Field(default_factory=list)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groups: dict[str, _Group]


@dataclass(frozen=True)
class Membership:
    """A group's members on a date, with the rule that last changed the group."""

    group: str
    on: date
    members: frozenset[str]
    since: date
    source: str
    cite: str
    uncertain: str | None = None


@dataclass
class CountryGroups:
    groups: dict[str, _Group]
    _cache: dict[tuple[str, date], Membership] = field(default_factory=dict)

    def names(self) -> list[str]:
        return list(self.groups)

    def membership(self, group: str, on: date) -> Membership:
        key = (group, on)
        if key in self._cache:
            return self._cache[key]
        g = self.groups.get(group)
        if g is None:
            raise LawDataError(f"unknown country group {group!r} (known: {', '.join(self.groups)})")
        if on < g.base.effective:
            raise NotInForce(f"country group {group} is not defined before {g.base.effective.isoformat()}")
        members = set(g.base.members)
        since, source, cite, uncertain = g.base.effective, g.base.source, g.cite, None
        for ch in sorted(g.changes, key=lambda c: c.effective):
            if ch.effective > on:
                break
            members |= set(ch.add)
            members -= set(ch.remove)
            since, source, cite, uncertain = ch.effective, ch.source, ch.cite, ch.uncertain
        m = Membership(group, on, frozenset(members), since, source, cite, uncertain)
        self._cache[key] = m
        return m

    def members(self, group: str, on: date) -> frozenset[str]:
        return self.membership(group, on).members

    def groups_of(self, country: str, on: date) -> list[str]:
        """The groups `country` belongs to on `on` (groups not yet defined are skipped)."""
        out = []
        for name, g in self.groups.items():
            if on >= g.base.effective and country in self.members(name, on):
                out.append(name)
        return out

    def change_dates(self) -> set[date]:
        dates: set[date] = set()
        for g in self.groups.values():
            dates.add(g.base.effective)
            dates |= {c.effective for c in g.changes}
        return dates


@lru_cache(maxsize=1)
def load_country_groups(path: Path = GROUPS_FILE) -> CountryGroups:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return CountryGroups(_File.model_validate(data).groups)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise LawDataError(f"{path}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


# Destinations the EAR does not list separately.
_ALIASES = {"HK": "CN"}


def country_code(text: str) -> str:
    """An ISO alpha-2 code for `text` (a code, alpha-3 code or English name); HK is read as CN.

    Raises InvalidInput naming the input when it is not a country."""
    t = text.strip()
    if not t:
        raise InvalidInput("empty country code")
    up = t.upper()
    if up in _ALIASES:
        return _ALIASES[up]
    if len(up) == 2 and (up in _EXTRA_CODES or pycountry.countries.get(alpha_2=up)):
        return up
    if len(up) == 3 and (c := pycountry.countries.get(alpha_3=up)) is not None:
        return _ALIASES.get(c.alpha_2, c.alpha_2)
    try:
        c = pycountry.countries.lookup(t)
    except LookupError:
        raise InvalidInput(f"unknown country {text!r}: give an ISO 3166 code such as CN, MO, AE or US") from None
    return _ALIASES.get(c.alpha_2, c.alpha_2)
