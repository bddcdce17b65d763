"""Types of the law data: dated entries, timelines, paragraphs, rule versions and the Law itself."""

from __future__ import annotations

import bisect
import dataclasses
import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from chipwatch.errors import NotInForce, UnknownParameter


@dataclass(frozen=True)
class Entry:
    """One dated value of a parameter or paragraph, with where it comes from.

    `until` is set only on regime overrides: the value holds on [effective, until).
    """

    effective: date
    value: Any
    source: str
    cite: str
    rule: str | None = None
    uncertain: str | None = None
    hypothetical: bool = False
    until: date | None = None
    # "regulation" (Federal Register / CFR text), "letter" (an is-informed letter to named firms),
    # "guidance" (a BIS guidance document), "proclamation" (a presidential proclamation), or
    # "announcement" (policy announced but not codified): a user may set announcements aside.
    basis: str = "regulation"

    def covers(self, on: date) -> bool:
        return self.effective <= on and (self.until is None or on < self.until)


@dataclass
class Timeline:
    """The history of one named value: base entries plus any regime overrides on top."""

    name: str
    description: str
    unit: str
    entries: list[Entry]
    overrides: list[Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.entries.sort(key=lambda e: e.effective)
        self._dates = [e.effective for e in self.entries]

    @property
    def first_effective(self) -> date:
        firsts = [e.effective for e in (*self.entries, *self.overrides)]
        return min(firsts)

    def entry_at(self, on: date, *, skip_announced: bool = False) -> Entry:
        """The entry in force on `on`; raises NotInForce before the first entry or after repeal.
        With `skip_announced`, entries that rest only on an announcement are passed over, so the
        law reads as written."""
        active = [o for o in self.overrides if o.covers(on)]
        if active:
            entry = max(active, key=lambda o: o.effective)
        else:
            i = bisect.bisect_right(self._dates, on) - 1
            while skip_announced and i >= 0 and self.entries[i].basis == "announcement":
                i -= 1
            if i < 0:
                raise NotInForce(
                    f"{self.name} has no value on {on.isoformat()}: it was first set on "
                    f"{self.first_effective.isoformat()}"
                    + (f" by {self.entries[0].source}" if self.entries else "")
                )
            entry = self.entries[i]
        if entry.value is None:
            earlier = [e for e in self.entries if e.effective < entry.effective and e.value is not None]
            verb = "removed on" if earlier else "no value set, per the version of"
            raise NotInForce(
                f"{self.name} is not in force on {on.isoformat()}: {verb} "
                f"{entry.effective.isoformat()} by {entry.source}"
            )
        return entry

    def in_force(self, on: date, *, skip_announced: bool = False) -> bool:
        try:
            self.entry_at(on, skip_announced=skip_announced)
        except NotInForce:
            return False
        return True

    def change_dates(self) -> set[date]:
        dates = {e.effective for e in self.entries}
        for o in self.overrides:
            dates.add(o.effective)
            if o.until is not None:
                dates.add(o.until)
        return dates


class ParamValue(BaseModel):
    """The answer to "the value of X on date D", with its provenance."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: Any
    unit: str
    effective: date
    source: str
    cite: str
    rule: str | None = None
    uncertain: str | None = None
    hypothetical: bool = False
    basis: str = "regulation"


class RuleVersion(BaseModel):
    """One Federal Register action (or announcement) that changed the law."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    source: str
    effective: date
    published: date | None = None
    released: date | None = None
    note: str | None = None
    # regulation (Federal Register / CFR), letter, guidance, proclamation or announcement
    basis: str = "regulation"


@dataclass
class ParagraphDef:
    """A CCL paragraph (or exclusion note) whose predicate changes over time."""

    name: str
    eccn: str | None
    label: str
    item: str
    order: int
    kind: str  # "paragraph" or "exclusion"
    excludes: tuple[str, ...]
    timeline: Timeline


@dataclass
class RuleDef:
    """A rule of the licence determination (a requirement, licence exception, review policy,
    condition, or warning) whose applicability is a dated predicate over the transaction.

    `code` is the compact reason code batch output uses; `policy` names the parameter holding a
    review policy's wording; `overcomes` lists the requirement codes an exception can authorise;
    `value` names the parameter a condition reports (a rate, a cap, a notice period)."""

    name: str
    kind: str
    code: str
    title: str
    order: int
    timeline: Timeline
    policy: str | None = None
    overcomes: tuple[str, ...] = ()
    value: str | None = None
    conditions: tuple[str, ...] = ()
    # A condition that belongs to a review policy (the 2026 H200 policy's cap) attaches only when
    # that review rule decides the case; empty: whatever the review.
    with_review: tuple[str, ...] = ()


_Dated = TypeVar("_Dated", ParagraphDef, RuleDef)


def _in_force(items: Iterable[_Dated], on: date, *, skip_announced: bool) -> list[tuple[_Dated, Entry]]:
    """The items with an entry in force on `on`, with that entry, in their evaluation `order`."""
    out = []
    for item in items:
        try:
            out.append((item, item.timeline.entry_at(on, skip_announced=skip_announced)))
        except NotInForce:
            continue
    return sorted(out, key=lambda pair: pair[0].order)


@dataclass
class Law:
    """The law under one regime: parameters, paragraphs and rule versions, all dated."""

    regime: str
    regime_description: str
    hypothetical: bool
    params: dict[str, Timeline]
    paragraphs: dict[str, ParagraphDef]
    rule_versions: dict[str, RuleVersion]
    rules: dict[str, RuleDef] = field(default_factory=dict)
    # False reads the law as written: announced-but-uncodified changes are set aside.
    include_announced: bool = True
    # "US-EAR" (15 CFR 730-774) or "CN-ECL" (China's Export Control Law and MOFCOM/GAC announcements)
    jurisdiction: str = "US-EAR"

    def as_written(self, include_announced: bool) -> Law:
        """This law with announced-but-uncodified policy included or set aside."""
        if include_announced == self.include_announced:
            return self
        # One variant object per law, so what is remembered about it (rule results) is kept too.
        variants = self.__dict__.setdefault("_variants", {})
        if include_announced not in variants:
            variants[include_announced] = dataclasses.replace(self, include_announced=include_announced)
        return variants[include_announced]

    def in_force(self, name: str, on: date) -> bool:
        return self.timeline(name).in_force(on, skip_announced=not self.include_announced)

    def rules_in_force(self, on: date, kind: str) -> list[tuple[RuleDef, Entry]]:
        """Determination rules of `kind` in force on `on`, in evaluation order."""
        return _in_force([r for r in self.rules.values() if r.kind == kind], on, skip_announced=not self.include_announced)

    def timeline(self, name: str) -> Timeline:
        try:
            return self.params[name]
        except KeyError:
            near = difflib.get_close_matches(name, self.params.keys(), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise UnknownParameter(f"unknown law parameter {name!r}{hint}") from None

    def value(self, name: str, on: date) -> ParamValue:
        """The value of parameter `name` in force on `on`, with its source and citation."""
        tl = self.timeline(name)
        entry = tl.entry_at(on, skip_announced=not self.include_announced)
        # One answer object per entry: entries never change once loaded, and the rules ask often.
        made = self.__dict__.setdefault("_value_cache", {})
        hit = made.get((name, id(entry)))
        if hit is not None and hit[0] is entry:
            return hit[1]
        pv = ParamValue(
            name=name,
            value=entry.value,
            unit=tl.unit,
            effective=entry.effective,
            source=entry.source,
            cite=entry.cite,
            rule=entry.rule,
            uncertain=entry.uncertain,
            hypothetical=entry.hypothetical,
            basis=entry.basis,
        )
        made[(name, id(entry))] = (entry, pv)
        return pv

    def paragraph(self, name: str) -> ParagraphDef:
        try:
            return self.paragraphs[name]
        except KeyError:
            near = difflib.get_close_matches(name, self.paragraphs.keys(), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise UnknownParameter(f"unknown paragraph {name!r}{hint}") from None

    def paragraphs_in_force(self, on: date, item: str) -> list[tuple[ParagraphDef, Entry]]:
        """Paragraphs for `item` ("ic", "hbm", "system") in force on `on`, in evaluation order."""
        return _in_force([p for p in self.paragraphs.values() if p.item == item], on, skip_announced=False)

    def first_effective(self) -> date:
        """The first date any advanced-computing paragraph was in force (for a law without
        paragraphs, such as CN-ECL: its first rule version)."""
        if not self.paragraphs:
            return min(rv.effective for rv in self.rule_versions.values())
        return min(p.timeline.first_effective for p in self.paragraphs.values())

    def change_dates(self, names: Iterable[str] | None = None) -> list[date]:
        """Every date on which any of `names` (default: all parameters and paragraphs) changed."""
        dates: set[date] = set()
        if names is None:
            timelines = [*self.params.values(), *(p.timeline for p in self.paragraphs.values()),
                         *(r.timeline for r in self.rules.values())]
        else:
            timelines = [self.timeline(n) for n in names]
        for tl in timelines:
            dates |= tl.change_dates()
        return sorted(dates)

    def rule_version(self, rule_id: str | None) -> RuleVersion | None:
        if rule_id is None:
            return None
        return self.rule_versions.get(rule_id)
