"""What the law lets through, quarter by quarter: the licence engine asked about China.

For each quarter and each class of chip (a frontier part, an H200-class part, a China variant),
the simulator asks `determine` the question an exporter would: "this chip, from the US, to a
screened Chinese company headquartered in China, on the first day of the quarter, under this
regime?" The answer becomes the class's `access` (1: no licence needed or licences approved;
`LICENSABLE`: licences reviewed case by case, so the practice parameter decides how much ships;
0: denied) and its cost wedge (a revenue share or duty named in the answer's conditions). The
law is asked on the first day of each month, so a rule that takes effect mid-quarter governs the
months after it. Two more questions go to the law data: whether an HBM stack needs a licence to
China (then China's accelerator makers live on stockpiled and domestic HBM), and how strictly
China's own export controls restrict gallium and germanium (CN-ECL, through
`chipwatch.jurisdictions.cn_restriction`). The policy is thus the regime file: the simulator has
no policy logic of its own; China's counter-controls are switched on or off by the caller
(`run(counter_controls=...)`, `chipwatch simulate --no-counter-controls`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from chipwatch.determine import Determination, determine, transaction
from chipwatch.jurisdictions import cn_restriction
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


# One entry per regime x chip class x month: ~1,100 per regime, so room for every shipped regime.
@lru_cache(maxsize=65536)
def china_access(regime: str, chip: str, on: date) -> Access:
    """The access of `chip` to China on `on` under `regime` (a built-in name or a file path)."""
    law = load_law(regime if not Path(regime).suffix else Path(regime))
    if on < law.first_effective():
        return Access(chip, 1.0, 0.0, "no advanced-computing rule in force")
    txn = transaction(item=chip, quantity=1000, destination="CN", date=on, ships_from="US",
                      end_user={"hq": "CN", "listed": False, "owned_by_listed_pct": 0, "meu": False},
                      commercially_available_us=True, h200_certified=True)
    return access_of(determine(txn, law=law, screen_parties=False))


def month_starts(quarter_start: date) -> tuple[date, date, date]:
    """The first day of each month of the quarter that begins on `quarter_start`: the law is asked
    once a month, so a rule that takes effect mid-quarter governs the months after it."""
    m = quarter_start.month
    return (quarter_start, date(quarter_start.year, m + 1, 1), date(quarter_start.year, m + 2, 1))


# An HBM2E stack as China stockpiled it: 8-high at 3.6 Gb/s on a 1,024-bit interface (~460 GB/s)
# over JEDEC's 11 x 10 mm footprint. Its memory-bandwidth density is a product fact; whether that
# density is controlled, and from when, is the law's answer.
_HBM2E_BANDWIDTH_GBS = 460.0
_HBM2E_FOOTPRINT_MM2 = 110.0


@lru_cache(maxsize=8192)
def hbm_controlled(regime: str, on: date) -> bool:
    """Whether exporting an HBM2E stack to a Chinese company needs a licence on `on` under `regime`:
    once it does, China's accelerator makers live on the HBM they stockpiled and on domestic HBM."""
    law = load_law(regime if not Path(regime).suffix else Path(regime))
    if on < law.first_effective():
        return False
    txn = transaction(eccn="3A090.c", mbd=_HBM2E_BANDWIDTH_GBS / _HBM2E_FOOTPRINT_MM2, quantity=1000, destination="CN",
                      date=on, ships_from="KR", end_user={"hq": "CN", "listed": False, "owned_by_listed_pct": 0, "meu": False})
    return bool(determine(txn, law=law, screen_parties=False).licence_required)


# --- China's counter-controls -------------------------------------------------------------------------

# The materials whose export controls feed chip and equipment costs outside China.
COUNTER_CONTROL_MATERIALS = ("gallium", "germanium")
# China's measures name the US in their strictest form (the Dec-2024 ban); prices outside China
# moved with them, so the simulator asks about exports to the US.
COUNTER_CONTROL_DESTINATION = "US"
NONE, LICENCE, BAN = 0, 1, 2



def level_of(answer: str) -> int:
    """A CN-ECL answer as a level: "none" 0; any licensing 1; a ban, a prohibition or a presumption
    of denial 2 (exports stop, as under the Dec-2024 measure for the US)."""
    a = answer.strip().lower()
    if a == "none":
        return NONE
    return BAN if any(w in a for w in ("ban", "prohibit", "denial")) else LICENCE


# China's law without the gallium/germanium controls: the simulator's "counter-controls off".
NO_COUNTER_CONTROLS = "cn-no-counter-controls"


def cn_regime_of(counter_controls: bool | str) -> str:
    """The CN-ECL regime a run reads: True = as enacted, False = without the Ga/Ge controls, or a
    regime name or file of the user's."""
    if isinstance(counter_controls, str):
        return counter_controls
    return "historical" if counter_controls else NO_COUNTER_CONTROLS


@lru_cache(maxsize=4096)
def cn_level(material: str, on: date, cn_regime: str = "historical") -> int:
    """How strictly China's export controls (the CN-ECL law data, under `cn_regime`) restrict
    exports of `material` to the US on `on`, as a level (see `level_of`)."""
    return level_of(cn_restriction(material, COUNTER_CONTROL_DESTINATION, on, regime=cn_regime))
