"""The affiliates (50 %) rule: entities owned 50 % or more, in aggregate, by listed parties.

Given an ownership table (owner, owned, percent, as-of date) and the parties known to be listed,
an entity is an affiliate on date D when the shares held in it by listed parties and by entities
that are themselves affiliates add up to the threshold or more (directly or indirectly,
individually or in aggregate). That is a fixpoint: an entity found to be an affiliate makes its
own holdings count, so the search repeats until nothing changes. Each affiliate carries the chain
of holdings that made it one.

Whether the rule applies on D, and the threshold, come from the law data
(`us_ear.ac.affiliates_in_effect`, `us_ear.ac.affiliates_ownership_min_pct`): in force from
2025-09-29, suspended 2025-11-10 to 2026-11-09, scheduled to apply again from 2026-11-10.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from chipwatch.errors import InvalidInput
from chipwatch.law import Law, load_law
from chipwatch.screen.names import normalise_latin


class Holding(BaseModel):
    """One row of an ownership table: `owner` holds `percent` of `owned` as of `as_of`."""

    model_config = ConfigDict(frozen=True)

    owner: str
    owned: str
    percent: float = Field(gt=0, le=100)
    as_of: date


class Affiliate(BaseModel):
    entity: str
    listed_share: float = Field(description="percent held by listed parties and their affiliates, in aggregate")
    chain: list[str] = Field(description="the holdings that make it an affiliate, each 'owner —p%→ owned'")
    owners: list[str]


class AffiliatesAnswer(BaseModel):
    date: date
    rule_in_force: bool
    threshold_pct: float | None
    cite: str | None
    note: str
    affiliates: list[Affiliate]
    listed_shares: dict[str, float] = Field(default_factory=dict,
                                            description="every owned entity in the table: percent held by listed parties and affiliates")

    def share_of(self, name: str) -> float | None:
        """The listed share of `name` if the table says who owns it (None if it does not)."""
        return self.listed_shares.get(_key(name))


def read_ownership(path: str | Path) -> list[Holding]:
    """Read an ownership CSV with columns owner, owned, percent, date; a bad row is an error naming its line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(f"cannot read {p}: {exc.strerror}") from None
    rows = list(csv.DictReader(text.splitlines()))
    need = {"owner", "owned", "percent", "date"}
    if not rows or not need <= set(rows[0]):
        raise InvalidInput(f"{p}: needs columns {', '.join(sorted(need))}")
    out = []
    for i, r in enumerate(rows, start=2):
        try:
            out.append(Holding(owner=r["owner"].strip(), owned=r["owned"].strip(), percent=float(r["percent"]),
                               as_of=date.fromisoformat(r["date"].strip())))
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"{p} line {i}: {str(exc).splitlines()[0]}") from None
        if not out[-1].owner or not out[-1].owned:
            raise InvalidInput(f"{p} line {i}: owner and owned must not be empty")
    return out


def _key(name: str) -> str:
    return normalise_latin(name)


def holdings_on(table: Iterable[Holding], on: date) -> dict[tuple[str, str], Holding]:
    """The latest holding of each (owner, owned) pair as of `on`."""
    latest: dict[tuple[str, str], Holding] = {}
    for h in table:
        if h.as_of > on:
            continue
        k = (_key(h.owner), _key(h.owned))
        if k not in latest or h.as_of > latest[k].as_of:
            latest[k] = h
    return latest


def find_affiliates(table: Iterable[Holding], is_listed: Callable[[str], bool], on: date, *,
                    law: Law | None = None) -> AffiliatesAnswer:
    """Entities that are affiliates of listed parties on `on`, with the chains that make them so.

    `is_listed` says whether a name is a listed party (e.g. a screening hit). The search runs
    even when the rule is not in force (the answer says so), since compliance teams track
    affiliates through the suspension."""
    law = law or load_law()
    in_force = law.in_force("us_ear.ac.affiliates_in_effect", on) and bool(law.value("us_ear.ac.affiliates_in_effect", on).value)
    pname = "us_ear.ac.affiliates_ownership_min_pct"
    # Before the rule, report against its first threshold so the table can still be checked.
    thr_pv = law.value(pname, on if law.in_force(pname, on) else law.timeline(pname).first_effective)
    threshold = float(thr_pv.value)
    held = holdings_on(table, on)
    display: dict[str, str] = {}
    owners_of: dict[str, list[Holding]] = defaultdict(list)
    for (o, d), h in held.items():
        owners_of[d].append(h)
        display.setdefault(o, h.owner)
        display.setdefault(d, h.owned)
    listed = {k for k in display if is_listed(display[k])}
    affiliated: dict[str, Affiliate] = {}
    changed = True
    while changed:
        changed = False
        for owned, hs in owners_of.items():
            if owned in listed or owned in affiliated:
                continue
            counted = [h for h in hs if _key(h.owner) in listed or _key(h.owner) in affiliated]
            share = sum(h.percent for h in counted)
            if share >= threshold:
                chain: list[str] = []
                for h in counted:
                    ok = _key(h.owner)
                    if ok in affiliated:
                        chain += affiliated[ok].chain
                    chain.append(f"{h.owner} {'(listed)' if ok in listed else '(affiliate)'} —{h.percent:g}%→ {h.owned}")
                affiliated[owned] = Affiliate(entity=display[owned], listed_share=share, chain=chain,
                                              owners=[h.owner for h in counted])
                changed = True
    shares = {owned: sum(h.percent for h in hs if _key(h.owner) in listed or _key(h.owner) in affiliated)
              for owned, hs in owners_of.items()}
    note = (f"affiliates rule in force on {on.isoformat()}" if in_force else
            f"affiliates rule not in force on {on.isoformat()} (see {law.value('us_ear.ac.affiliates_in_effect', on).cite})"
            if law.in_force("us_ear.ac.affiliates_in_effect", on) else
            f"affiliates rule not yet in force on {on.isoformat()} "
            f"(first effective {law.timeline('us_ear.ac.affiliates_in_effect').first_effective.isoformat()})")
    return AffiliatesAnswer(date=on, rule_in_force=in_force, threshold_pct=threshold, cite=thr_pv.cite, note=note,
                            affiliates=sorted(affiliated.values(), key=lambda a: a.entity), listed_shares=shares)
