"""What the law lets through, quarter by quarter: the licence engine asked about China.

For each quarter and each class of chip (a frontier part, an H200-class part, a China variant),
the simulator asks `determine` the question an exporter would: "this chip, from the US, to a
screened Chinese company headquartered in China, on the first day of the quarter, under this
regime?" The answer becomes the class's `access` (1: no licence needed or licences approved;
`LICENSABLE`: licences reviewed case by case, so the practice parameter decides how much ships;
0: denied) and its cost wedge (a revenue share or duty named in the answer's conditions). The
policy is thus the regime file: the simulator has no policy logic of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from chipwatch.determine import Determination, determine, transaction
from chipwatch.law import load_law

LICENSABLE = 0.5  # marker: reviewed case by case (the practice parameter scales it), not a share
# Review-policy wording → access. Anything not listed (e.g. "presumption of denial") denies.
_APPROVE = ("presumption of approval",)
_CASE = ("case-by-case", "licences granted")
# Conditions whose value is a price wedge on the sale.
_WEDGES = ("REVSHARE", "H200-DUTY")


@dataclass(frozen=True)
class Access:
    chip: str
    access: float  # 1, LICENSABLE or 0
    wedge: float  # revenue share or duty rate on the price, 0..1
    reason: str  # the determination's reason code and review policy, for the report


def access_of(d: Determination) -> Access:
    item = d.item
    if d.licence_required is False:
        return Access(item, 1.0, 0.0, d.reason_code)
    if any(e.status == "available" for e in d.licence_exceptions):
        return Access(item, 1.0, 0.0, f"{d.reason_code} (exception {d.licence_exceptions[0].code})")
    policy = (d.review_policy.policy if d.review_policy else "").lower()
    wedge = sum(float(c.value) / 100 for c in d.conditions if c.code in _WEDGES and c.value is not None)
    if any(policy.startswith(p) for p in _APPROVE):
        return Access(item, 1.0, wedge, f"{d.reason_code}: {policy}")
    if any(policy.startswith(p) for p in _CASE):
        return Access(item, LICENSABLE, wedge, f"{d.reason_code}: {policy}")
    return Access(item, 0.0, 0.0, f"{d.reason_code}: {policy or 'denied'}")


@lru_cache(maxsize=4096)
def china_access(regime: str, chip: str, on: date) -> Access:
    """The access of `chip` to China on `on` under `regime` (a built-in name or a file path)."""
    law = load_law(regime if not Path(regime).suffix else Path(regime))
    if on < law.first_effective():
        return Access(chip, 1.0, 0.0, "no advanced-computing rule in force")
    txn = transaction(item=chip, quantity=1000, destination="CN", date=on, ships_from="US",
                      end_user={"hq": "CN", "listed": False, "owned_by_listed_pct": 0, "meu": False},
                      commercially_available_us=True, h200_certified=True)
    return access_of(determine(txn, law=law, screen_parties=False))
