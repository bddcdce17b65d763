"""The quarterly model: mechanisms composed over regions and quarters, for many paths at once.

Parameters come from `data/parameters.yaml` (central value, range, distribution, source); a run
draws P paths (seeded) and steps through the quarters 2022-Q4 to 2035-Q4. The policy is a law
regime: each month, `policy.china_access` asks the licence engine what may go to China, and
`policy.hbm_controlled` whether HBM may; China's own controls on gallium and germanium come from
`policy.cn_level`.

Per quarter and path:
1. world supply of accelerators by non-Chinese vendors: units grow at one rate to 2027 and another
   after; compute per unit grows with each generation plus, to 2025, the shift of the mix from
   inference cards to training parts. Counter-controls, when on and in force, raise the cost of
   chips and equipment made outside China and trim the volume;
2. demand splits over the regions by shares that drift with each region's tilt;
3. China's import demand, month by month, goes to the best class of chip on sale and allowed; a
   worse class costs more per H100e and a revenue share or duty raises its price: demand falls with
   the price elasticity; licensed channels deliver `practice` of what is licensable;
4. denied demand partly leaks in (smuggling, diversion), depending on enforcement; what China does
   not take is partly sold to the other regions instead;
5. domestic output: legacy designs, then SMIC-made dies (capacity x AI share x dies per wafer x a
   yield that learns up to a ceiling) plus the bank of TSMC-made dies, packaged with HBM, which binds
   once the law stops HBM exports (a stockpile, then CXMT's output); capacity grows on its own and
   faster with the demand imports could not serve (after a lag);
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
from chipwatch.simulate.policy import (
    COUNTER_CONTROL_MATERIALS,
    LICENSABLE,
    china_access,
    cn_level,
    cn_regime_of,
    hbm_controlled,
    month_starts,
)

DATA = Path(__file__).parent / "data"
REGIONS = ("US", "CN", "ALLIES", "GULF", "ROW")
FIRST_QUARTER = (2022, 4)
LAST_QUARTER = (2035, 4)
# The chip classes China's import demand can buy: flagships (on sale `production.ship_lag_quarters`
# after the catalog's announcement) and China variants of chips already made (on sale when announced).
FLAGSHIPS = ("B200 (HGX/DGX)", "H200 SXM", "H100 SXM5 80GB", "A100 SXM4 80GB")
CHINA_VARIANTS = ("H800 SXM5", "A800 SXM4 80GB", "H20 (HGX)")
CHIP_CLASSES = FLAGSHIPS + CHINA_VARIANTS
# The first domestic accelerator made at SMIC's advanced node: SMIC's AI dies start with it.
FIRST_SMIC_ACCELERATOR = "Ascend 910B (910B2)"
# Reference points of parameters stated "in year Y" (as decimal years): SMIC capacity in 2023, yield
# and compute per domestic chip in 2024 (mid-year).
SMIC_CAPACITY_YEAR = 2023.5
DOMESTIC_REF_YEAR = 2024.5


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
    """Outputs per quarter and path: arrays of shape (Q, P) (by region: (Q, P, R))."""

    policy: str
    quarters: list[date]
    installed: np.ndarray  # (Q, P, R) H100e
    china_licensed: np.ndarray  # (Q, P) H100e added by licensed imports
    china_leaked: np.ndarray
    china_domestic: np.ndarray
    vendor_revenue_china: np.ndarray  # USD per quarter, licensed sales to China
    government_revenue: np.ndarray  # USD per quarter
    access: list[tuple[date, tuple[float, ...]]]  # the law's answer per quarter, per chip class (mean of the months)
    china_domestic_units: np.ndarray  # domestic accelerators made per quarter (units)
    vendor_revenue_world: np.ndarray  # USD per quarter, all non-Chinese vendors, all buyers
    price: np.ndarray  # USD per H100e of new frontier chips, per quarter
    added: np.ndarray  # (Q, P, R) H100e added per quarter
    china_demand: np.ndarray  # (Q, P) H100e China would buy at world prices
    world_units: np.ndarray  # (Q, P) accelerators made by non-Chinese vendors
    h100e_per_unit: np.ndarray  # (Q, P) their average compute per unit
    us_vendor_revenue: np.ndarray  # (Q, P) USD, US vendors' sales to every buyer
    licensed_units: dict[str, np.ndarray]  # chip class -> (Q, P) units licensed to China
    frontier_worth: np.ndarray  # (Q,) H100e per unit of the best class on sale
    draws: Draws

    def _largest_run(self, region: str) -> np.ndarray:
        """The largest single training run the region could do each quarter (FLOP), (Q, P)."""
        s = self.draws
        fraction = s["training.largest_run_fraction"] * (s["training.cn_largest_run_multiplier"] if region == "CN" else 1.0)
        out = np.empty(self.installed.shape[:2])
        for i, q in enumerate(self.quarters):
            days = m.run_days(max(_year_fraction(q) - RUN_LENGTH_BASE_YEAR, 0.0), s["training.run_days_2023"],
                              s["training.run_days_growth"], s["training.run_days_max"])
            out[i] = m.largest_training_run(self.installed[i, :, REGIONS.index(region)], 1.0, fraction, days,
                                            s["training.utilisation"]) * s["training.training_flops_per_h100e"]
        return out

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
        if name in ("largest_run_US", "largest_run_CN"):
            return self._largest_run(name.rsplit("_", 1)[1])
        raise InvalidInput(f"unknown output {name!r} (known: {', '.join(OUTPUTS)})")


OUTPUTS = ("US", "CN", "ALLIES", "GULF", "ROW", "us_china_ratio", "china_domestic_share", "leverage",
           "vendor_revenue_china", "government_revenue", "largest_run_US", "largest_run_CN")
RUN_LENGTH_BASE_YEAR = 2023  # the year `training.run_days_2023` describes


@cache
def chip_worth(name: str) -> float:
    """H100e per unit of a catalog chip, from its TPP."""
    from chipwatch.ledger import _chip_table, h100_tpp

    table = _chip_table()
    rows = table.filter(table["product_name"] == name)["tpp"]
    if rows.is_empty() or rows[0] is None:
        raise InvalidInput(f"the catalog has no TPP for {name!r}")
    return float(rows[0]) / h100_tpp()


@cache
def announced(name: str) -> date:
    """The month a catalog chip was announced."""
    from chipwatch.catalog import default_catalog

    text = default_catalog().get(name).announced
    if not text:
        raise InvalidInput(f"the catalog has no announcement date for {name!r}")
    y, mo = text.split("-")[:2]
    return date(int(y), int(mo), 1)


def _add_quarters(d: date, n: int) -> date:
    k = d.year * 12 + d.month - 1 + 3 * n
    return date(k // 12, k % 12 + 1, 1)


def on_sale(ship_lag_quarters: int) -> dict[str, date]:
    """When each chip class can be bought: flagships a lag after their announcement, China variants
    of chips already in production when announced."""
    return {c: _add_quarters(announced(c), ship_lag_quarters if c in FLAGSHIPS else 0) for c in CHIP_CLASSES}


# Timings the law queries or the quarter loop need as one number for all paths (the median of the
# draws); the calibration holds them at their central values.
SCALAR_PARAMETERS = ("production.ship_lag_quarters", "production.late_from_year", "production.mix_shift_until_year",
                     "china_domestic.investment_lag_quarters")


def _scalar(s: Draws, name: str) -> float:
    """A timing parameter the law queries need as one number: the median of the draws."""
    return float(np.median(s[name]))


def run(policy: str, paths: int = 1000, seed: int = 0, *, central: bool = False, counter_controls: bool | str = True,
        overrides: Mapping[str, float] | None = None, draws: Draws | None = None,
        progress: Callable[[int, int], None] | None = None) -> Result:
    """Simulate `policy` (a law regime name or file) over all quarters for `paths` paths."""
    s = draws if draws is not None else sample(paths, seed, central=central, overrides=overrides)
    qs = quarters()
    n_q, n_r = len(qs), len(REGIONS)
    cn_i = REGIONS.index("CN")
    not_cn = [i for i in range(n_r) if i != cn_i]
    worth = {c: chip_worth(c) for c in CHIP_CLASSES}
    sale = on_sale(round(_scalar(s, "production.ship_lag_quarters")))
    smic_start = announced(FIRST_SMIC_ACCELERATOR)
    late_t = round((_scalar(s, "production.late_from_year") - _year_fraction(qs[0])) * 4)
    mix_end_t = round((_scalar(s, "production.mix_shift_until_year") - _year_fraction(qs[0])) * 4)
    lag = round(_scalar(s, "china_domestic.investment_lag_quarters"))

    stock = np.stack([s[f"installed_base.{r}"] for r in REGIONS], axis=1)  # (P, R)
    shares0 = np.stack([s[f"demand.share_{r}"] for r in REGIONS], axis=1)
    shares0 = shares0 / shares0.sum(axis=1, keepdims=True)
    tilts = np.stack([s[f"demand.growth_tilt_{r}"] for r in REGIONS], axis=1)
    sup = np.stack([s[f"production.supplier_share_2022_{k}"] for k in ("us_vendors", "china_domestic", "others")], axis=1)
    sup = sup / sup.sum(axis=1, keepdims=True)
    us_of_foreign = sup[:, 0] / (sup[:, 0] + sup[:, 2])  # US vendors' part of non-Chinese supply
    foreign_units0 = s["production.world_units_2022"] * (sup[:, 0] + sup[:, 2])
    legacy_units = s["production.world_units_2022"] * sup[:, 1]  # older Chinese designs: flat, no new node
    y0 = _year_fraction(qs[0])
    # SMIC advanced-node wafers a month, taken back from the 2023 reference to the first quarter
    capacity = s["china_domestic.smic_adv_wpm_2023"] * np.power(1.0 + s["china_domestic.capacity_growth"], y0 - SMIC_CAPACITY_YEAR)
    per_chip_ref = s["china_domestic.h100e_per_chip"]
    legacy_per_chip = per_chip_ref * np.power(1.0 + s["china_domestic.perf_growth"], y0 - DOMESTIC_REF_YEAR)
    dies_inv = np.zeros(paths)
    hbm_stock = np.zeros(paths)
    hbm_from: float | None = None
    cc_start: dict[str, float | None] = {k: None for k in COUNTER_CONTROL_MATERIALS}
    cn_regime = cn_regime_of(counter_controls)
    diverted_hist: list[np.ndarray] = []
    z = lambda: np.zeros((n_q, paths))  # noqa: E731
    lic, leak, dom, vendor, gov, dom_units, world_rev, prices = z(), z(), z(), z(), z(), z(), z(), z()
    cn_dem, units_out, per_unit_out, us_rev = z(), z(), z(), z()
    lic_units = {c: z() for c in CHIP_CLASSES}
    installed = np.zeros((n_q, paths, n_r))
    added_out = np.zeros((n_q, paths, n_r))
    frontier = np.zeros(n_q)
    access_log: list[tuple[date, tuple[float, ...]]] = []
    ones = np.ones(paths)
    for t, q in enumerate(qs):
        yf = _year_fraction(q)
        years = t / 4
        # 1. world supply by non-Chinese vendors, units and compute per unit
        units = foreign_units0 * m.growth_factor(t, s["production.unit_growth"], s["production.unit_growth_late"], late_t)
        per_unit = s["production.h100e_per_unit_2022"] * m.growth_factor(
            t, (1.0 + s["production.perf_growth"]) * (1.0 + s["production.perf_mix_shift_2022_2025"]) - 1.0,
            s["production.perf_growth"], mix_end_t)
        supply = units * per_unit
        price = s["prices.price_per_h100e"] * np.power(1.0 + m.quarterly(s["prices.price_change"]), t)
        # China's controls on gallium/germanium as its law data has them (under `cn_regime`)
        shock = _counter_control_shock(s, q, yf, cc_start, cn_regime)
        supply = m.cost_pass_through(supply, shock, s["counter_controls.pass_through"])
        price = price * (1.0 + shock * s["counter_controls.pass_through"])
        # 2. demand by region
        demand = supply[:, None] * m.regional_shares(shares0, tilts, years)  # (P, R)
        cn_demand = demand[:, cn_i]
        # 3. China's imports, month by month: the best class on sale that the law lets through
        months = month_starts(q)
        sale_by_month = [[c for c in CHIP_CLASSES if sale[c] <= d] for d in months]
        frontier[t] = max((worth[c] for c in sale_by_month[-1]), default=1.0)
        licensed = np.zeros(paths)
        access_log.append((q, tuple(sum(china_access(policy, c, d).access for d, on in zip(months, sale_by_month, strict=True)
                                        if c in on) / len(months) for c in CHIP_CLASSES)))
        for d, sale_now in zip(months, sale_by_month, strict=True):
            best_worth = max((worth[c] for c in sale_now), default=1.0)
            answers = [(c, china_access(policy, c, d)) for c in sale_now]
            open_ = [(c, a) for c, a in answers if a.access > 0]
            if not open_:
                continue
            c, a = max(open_, key=lambda ca: worth[ca[0]])
            class_ratio = np.power(best_worth / worth[c], s["prices.class_cost_exponent"])
            wanted = m.demand_after_price(cn_demand / len(months), class_ratio * (1.0 + a.wedge), s["demand.china_elasticity"])
            practice = s["revenue_share.licensed_practice"] if a.access == LICENSABLE else ones
            got = wanted * practice
            licensed += got
            sales = got * price * class_ratio
            vendor[t] += sales
            gov[t] += sales * a.wedge
            lic_units[c][t] += got / worth[c]
        denied = np.maximum(cn_demand - licensed, 0.0)
        leaked = m.leakage(denied, s["leakage.base_leak"], s["leakage.enforcement"], s["leakage.enforcement_effect"])
        # 4. what China did not take is partly sold elsewhere
        unserved = np.maximum(cn_demand - licensed - leaked, 0.0)
        added = demand.copy()
        added[:, not_cn] += m.reallocate(unserved, s["production.reallocation_share"], demand[:, not_cn])
        # 5. domestic supply
        yield_ = m.yield_at(yf - DOMESTIC_REF_YEAR, s["china_domestic.yield"], s["china_domestic.yield_gain_per_year"],
                            s["china_domestic.yield_ceiling"])
        wafers = capacity * 3 * s["china_domestic.ai_share_of_adv_capacity"] if q >= smic_start else np.zeros(paths)
        dies_inv = dies_inv + m.good_dies(wafers, s["china_domestic.dies_per_wafer"], yield_)
        dies_inv = dies_inv + m.die_bank_draw(s["china_domestic.tsmc_die_bank"], s["china_domestic.die_bank_drawdown_quarters"],
                                              yf - s["china_domestic.die_bank_start_year"])
        if hbm_from is None and hbm_controlled(policy, q):
            hbm_from = yf  # from here on, only the stacks bought before the rule and domestic ones
        if hbm_from is not None:
            hbm_stock = hbm_stock + m.stockpile_release(s["china_domestic.hbm_stockpile_stacks"],
                                                        s["china_domestic.hbm_stockpile_quarters"], yf - hbm_from)
            hbm_stock = hbm_stock + m.hbm_supply(yf - s["china_domestic.cxmt_hbm_start_year"],
                                                 s["china_domestic.cxmt_hbm_stacks_per_quarter"], s["china_domestic.hbm_growth"])
        stacks = hbm_stock if hbm_from is not None else np.full(paths, np.inf)
        made = m.packages(dies_inv, stacks, s["china_domestic.dies_per_package"], s["china_domestic.hbm_stacks_per_die"])
        dies_inv = dies_inv - made * s["china_domestic.dies_per_package"]
        if hbm_from is not None:
            hbm_stock = hbm_stock - made * s["china_domestic.dies_per_package"] * s["china_domestic.hbm_stacks_per_die"]
        per_chip = per_chip_ref * np.power(1.0 + s["china_domestic.perf_growth"], yf - DOMESTIC_REF_YEAR)
        domestic = made * per_chip + legacy_units * legacy_per_chip
        diverted_share = np.divide(unserved, cn_demand, out=np.zeros(paths), where=cn_demand > 0)
        diverted_hist.append(diverted_share)
        pushed = diverted_hist[-1 - lag] if len(diverted_hist) > lag else np.zeros(paths)
        capacity = m.capacity_next(capacity, s["china_domestic.capacity_growth"], pushed, s["china_domestic.investment_response"])
        # 6. stocks and outputs
        added[:, cn_i] = licensed + leaked + domestic
        stock = m.depreciate(stock, s["installed_base.life_years"][:, None]) + added
        installed[t], added_out[t] = stock, added
        lic[t], leak[t], dom[t] = licensed, leaked, domestic
        dom_units[t] = made + legacy_units
        others_sales = added[:, not_cn].sum(axis=1) + leaked  # leaked chips were sold too, to intermediaries
        world_rev[t] = others_sales * price + vendor[t]
        us_rev[t] = others_sales * price * us_of_foreign + vendor[t]
        prices[t], cn_dem[t], units_out[t], per_unit_out[t] = price, cn_demand, units, per_unit
        if progress:
            progress(t + 1, n_q)
    return Result(policy, qs, installed, lic, leak, dom, vendor, gov, access_log, dom_units, world_rev, prices, added_out,
                  cn_dem, units_out, per_unit_out, us_rev, lic_units, frontier, s)


def _counter_control_shock(s: Draws, q: date, yf: float, started: dict[str, float | None], cn_regime: str) -> np.ndarray:
    """The combined gallium/germanium price rise outside China this quarter (0 when no control is in
    force); `started` remembers when each material was first controlled (substitution runs from then)."""
    rises = {}
    for mat in COUNTER_CONTROL_MATERIALS:
        level = cn_level(mat, q, cn_regime)
        if level and started[mat] is None:
            started[mat] = yf
        first = started[mat]
        since = yf - first if first is not None else 0.0
        gap = m.substitution_gap(since, s[f"counter_controls.china_share_{mat}"], s["counter_controls.substitution_per_year"],
                                 s["counter_controls.substitution_lag_years"])
        short = "ga" if mat == "gallium" else "ge"
        rises[mat] = m.material_price_rise(level, s[f"counter_controls.{short}_price_rise_2023"],
                                           s[f"counter_controls.{short}_price_rise_2024_ban"], gap)
    return m.weighted_material_rise(rises["gallium"], rises["germanium"], s["counter_controls.ga_weight"])


def _year_fraction(d: date) -> float:
    return d.year + (d.month - 1) / 12
