"""The quarterly model: mechanisms composed over regions and quarters, for many paths at once.

Parameters come from `data/parameters.yaml` (central value, range, distribution, source); a run
draws P paths (seeded) and steps through the quarters 2022-Q4 to 2035-Q4. The policy is a law
regime: each quarter, `policy.china_access` asks the licence engine what may go to China.

Per quarter and path:
1. world shipments (H100e) grow with unit and performance growth; counter-controls, when on, raise
   costs outside China and trim them;
2. demand splits over the regions by their shares; all regions but China are served in full;
3. China's import demand goes to the best class of chip the law lets through; a worse class costs
   more per H100e, and a revenue share or duty raises its price: demand falls with the price
   elasticity; licensed channels deliver `practice` of what is licensable;
4. denied demand partly leaks in (smuggling, diversion), depending on enforcement;
5. domestic output comes from advanced-node capacity, yield, dies per wafer and HBM; capacity grows
   on its own and faster with the demand imports could not serve (after a lag);
6. stocks depreciate; outputs: installed H100e by region, US:China ratio, largest training run,
   China's domestic share, US vendor revenue from China and government revenue, leverage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from chipwatch.errors import InvalidInput
from chipwatch.simulate import mechanisms as m
from chipwatch.simulate.policy import LICENSABLE, china_access

DATA = Path(__file__).parent / "data"
REGIONS = ("US", "CN", "ALLIES", "GULF", "ROW")
FIRST_QUARTER = (2022, 4)
LAST_QUARTER = (2035, 4)
# The chip classes China's import demand can buy, best first, and what one unit is worth (H100e).
CHIP_CLASSES = ("B200 (HGX/DGX)", "H200 SXM", "H20 (HGX)")


def quarters(first: tuple[int, int] = FIRST_QUARTER, last: tuple[int, int] = LAST_QUARTER) -> list[date]:
    out = []
    y, q = first
    while (y, q) <= last:
        out.append(date(y, 3 * (q - 1) + 1, 1))
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    return out


@dataclass(frozen=True)
class Spec:
    name: str
    value: float
    low: float
    high: float
    dist: str
    unit: str
    source: str


@cache
def parameter_specs(path: Path = DATA / "parameters.yaml") -> dict[str, Spec]:
    """Every model parameter as `group.name` → its central value, range, distribution and source."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: dict[str, Spec] = {}
    for group, params in data.items():
        if not isinstance(params, Mapping):
            continue
        for name, p in params.items():
            if not isinstance(p, Mapping) or "value" not in p:
                continue
            out[f"{group}.{name}"] = Spec(f"{group}.{name}", float(p["value"]), float(p.get("low", p["value"])),
                                          float(p.get("high", p["value"])), str(p.get("dist", "uniform")),
                                          str(p.get("unit", "")), str(p.get("source", "")))
    return out


def draw(spec: Spec, rng: np.random.Generator, paths: int, central: bool = False) -> np.ndarray:
    """`paths` draws of one parameter (all at the central value when `central`)."""
    if central or spec.low == spec.high:
        return np.full(paths, spec.value)
    if spec.dist == "triangular":
        return rng.triangular(spec.low, min(max(spec.value, spec.low), spec.high), spec.high, paths)
    if spec.dist == "lognormal" and spec.low > 0:
        # low/high as the 10th/90th percentiles of a lognormal around the central value
        sigma = (np.log(spec.high) - np.log(spec.low)) / (2 * 1.2816)
        return np.exp(rng.normal(np.log(spec.value), sigma, paths))
    return rng.uniform(spec.low, spec.high, paths)


class Draws(dict[str, np.ndarray]):
    def __missing__(self, key: str) -> np.ndarray:
        raise InvalidInput(f"the simulator needs parameter {key!r}, which data/parameters.yaml does not define")


def sample(paths: int, seed: int, *, central: bool = False, overrides: Mapping[str, float] | None = None) -> Draws:
    rng = np.random.default_rng(seed)
    d = Draws()
    for name, spec in sorted(parameter_specs().items()):
        d[name] = draw(spec, rng, paths, central)
    for name, value in (overrides or {}).items():
        if name not in parameter_specs():
            raise InvalidInput(f"unknown simulator parameter {name!r}")
        d[name] = np.full(paths, float(value))
    return d


@dataclass
class Result:
    """Outputs per quarter and path: arrays of shape (Q, P) (stocks by region: (Q, P, R))."""

    policy: str
    quarters: list[date]
    installed: np.ndarray  # (Q, P, R) H100e
    china_licensed: np.ndarray  # (Q, P) H100e added by licensed imports
    china_leaked: np.ndarray
    china_domestic: np.ndarray
    vendor_revenue_china: np.ndarray  # USD per quarter
    government_revenue: np.ndarray  # USD per quarter
    access: list[tuple[date, tuple[float, ...]]]  # the law's answer per quarter, per chip class
    china_domestic_units: np.ndarray  # domestic accelerators made per quarter (units)
    vendor_revenue_world: np.ndarray  # USD per quarter, all regions (US vendors and others)
    price: np.ndarray  # USD per H100e, per quarter

    def output(self, name: str) -> np.ndarray:
        """A named output, (Q, P)."""
        us, cn = self.installed[:, :, 0], self.installed[:, :, 1]
        if name in ("US", "CN", "ALLIES", "GULF", "ROW"):
            return self.installed[:, :, REGIONS.index(name)]
        if name == "us_china_ratio":
            return np.divide(us, cn, out=np.full_like(us, np.inf), where=cn > 0)
        if name == "china_domestic_share":
            added = self.china_licensed + self.china_leaked + self.china_domestic
            return np.divide(self.china_domestic, added, out=np.zeros_like(added), where=added > 0)
        if name == "leverage":
            return m.leverage(self.china_licensed, self.china_leaked, self.china_domestic)
        if name == "vendor_revenue_china":
            return self.vendor_revenue_china
        if name == "government_revenue":
            return self.government_revenue
        raise InvalidInput(f"unknown output {name!r} (known: {', '.join(OUTPUTS)})")


OUTPUTS = ("US", "CN", "ALLIES", "GULF", "ROW", "us_china_ratio", "china_domestic_share", "leverage",
           "vendor_revenue_china", "government_revenue")


def _class_worth() -> np.ndarray:
    """H100e per unit of each chip class, from the catalog's TPP."""
    from chipwatch.ledger import _chip_table, h100_tpp

    table = _chip_table()
    worth = []
    for name in CHIP_CLASSES:
        tpp = table.filter(table["product_name"] == name)["tpp"][0]
        worth.append(float(tpp) / h100_tpp())
    return np.array(worth)


def run(policy: str, paths: int = 1000, seed: int = 0, *, central: bool = False, counter_controls: bool = True,
        overrides: Mapping[str, float] | None = None, draws: Draws | None = None,
        progress: Callable[[int, int], None] | None = None) -> Result:
    """Simulate `policy` (a law regime name or file) over all quarters for `paths` paths."""
    s = draws if draws is not None else sample(paths, seed, central=central, overrides=overrides)
    qs = quarters()
    n_q, n_r = len(qs), len(REGIONS)
    worth = _class_worth()
    installed = np.zeros((n_q, paths, n_r))
    stock = np.stack([s[f"installed_base.{r}"] for r in REGIONS], axis=1)  # (P, R)
    shares = np.stack([s[f"demand.share_{r}"] for r in REGIONS], axis=1)
    shares = shares / shares.sum(axis=1, keepdims=True)
    # advanced-node wafers a quarter that go to AI chips: wafers/month x 3 x the AI share
    capacity = s["china_domestic.smic_adv_wpm_2023"] * 3 * s["china_domestic.ai_share_of_adv_capacity"]
    hbm = s["china_domestic.hbm_chips_per_quarter"].copy()
    per_chip = s["china_domestic.h100e_per_chip"].copy()
    diverted_hist: list[np.ndarray] = []
    lic = np.zeros((n_q, paths))
    leak = np.zeros((n_q, paths))
    dom = np.zeros((n_q, paths))
    vendor = np.zeros((n_q, paths))
    gov = np.zeros((n_q, paths))
    dom_units = np.zeros((n_q, paths))
    world_rev = np.zeros((n_q, paths))
    prices = np.zeros((n_q, paths))
    access_log: list[tuple[date, tuple[float, ...]]] = []
    lag = round(float(np.median(s["china_domestic.investment_lag_quarters"])))
    for t, q in enumerate(qs):
        base = s["production.world_units_2022"] * s["production.h100e_per_unit_2022"]
        world = m.world_shipments(t, base, s["production.unit_growth"], s["production.perf_growth"])
        if counter_controls and _year_fraction(q) >= float(np.median(s["counter_controls.start_year"])):
            world = m.cost_pass_through(world, s["counter_controls.ga_price_rise_2023"], s["counter_controls.pass_through"])
        demand = m.regional_demand(world, shares)  # (P, R)
        price = s["prices.price_per_h100e"] * np.power(1.0 + m.quarterly(s["prices.price_change"]), t)
        # China: the best class the law lets through, at its cost per H100e and any wedge.
        answers = [china_access(policy, c, q) for c in CHIP_CLASSES]
        access_log.append((q, tuple(a.access for a in answers)))
        open_ = [i for i, a in enumerate(answers) if a.access > 0]
        cn_demand = demand[:, 1]
        if open_:
            best = open_[0]
            a = answers[best]
            cost_ratio = (worth[0] / worth[best]) ** s["prices.class_cost_exponent"] * (1.0 + a.wedge)
            wanted = m.demand_after_price(cn_demand, np.full(paths, cost_ratio), s["demand.china_elasticity"])
            practice = s["revenue_share.licensed_practice"] if a.access == LICENSABLE else np.ones(paths)
            licensed = wanted * practice
            served_price = price * (worth[0] / worth[best]) ** s["prices.class_cost_exponent"]
            vendor[t] = licensed * served_price
            gov[t] = vendor[t] * a.wedge
        else:
            licensed = np.zeros(paths)
        denied = np.maximum(cn_demand - licensed, 0.0)
        leaked = m.leakage(denied, s["leakage.base_leak"], s["leakage.enforcement"], s["leakage.enforcement_effect"])
        # Domestic chips are all installed (state-funded projects must buy them); what imports could
        # not serve, after leakage, is the demand the controls divert to domestic suppliers.
        domestic = m.domestic_output(capacity, s["china_domestic.yield"], s["china_domestic.dies_per_wafer"], per_chip, hbm)
        diverted_share = np.divide(np.maximum(denied - leaked, 0.0), cn_demand, out=np.zeros(paths), where=cn_demand > 0)
        diverted_hist.append(diverted_share)
        pushed = diverted_hist[-1 - lag] if len(diverted_hist) > lag else np.zeros(paths)
        capacity = m.capacity_next(capacity, s["china_domestic.capacity_growth"], pushed,
                                   s["china_domestic.investment_response"])
        hbm = hbm * (1.0 + m.quarterly(s["china_domestic.hbm_growth"]))
        per_chip = per_chip * (1.0 + m.quarterly(s["china_domestic.perf_growth"]))
        added = demand.copy()
        added[:, 1] = licensed + leaked + domestic
        stock = m.depreciate(stock, s["installed_base.life_years"][:, None]) + added
        installed[t] = stock
        lic[t], leak[t], dom[t] = licensed, leaked, domestic
        dom_units[t] = domestic / per_chip
        others = demand[:, [i for i in range(n_r) if REGIONS[i] != "CN"]].sum(axis=1)
        world_rev[t] = others * price + vendor[t]
        prices[t] = price
        if progress:
            progress(t + 1, n_q)
    return Result(policy, qs, installed, lic, leak, dom, vendor, gov, access_log, dom_units, world_rev, prices)


def _year_fraction(d: date) -> float:
    return d.year + (d.month - 1) / 12
