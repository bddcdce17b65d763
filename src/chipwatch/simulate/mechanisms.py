"""The simulator's mechanisms: one small function each, vectorised over Monte Carlo paths.

Every argument that is an array has the paths on its first axis (shape (P,) for a quantity in
one quarter). Units: compute in H100-equivalents (H100e); money in USD; shares in 0..1. The
functions hold no numbers of their own: every rate, share and elasticity is a parameter from
`data/parameters.yaml` (with its source and range) or, for the law, comes from the licence engine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
QUARTERS_PER_YEAR = 4


def quarterly(rate_per_year: Array) -> Array:
    """A yearly growth rate as the equivalent quarterly rate."""
    return np.power(1.0 + rate_per_year, 1.0 / QUARTERS_PER_YEAR) - 1.0


def world_shipments(t: int, base: Array, unit_growth: Array, perf_growth: Array) -> Array:
    """World accelerator shipments in quarter t (t = 0 is the first quarter), in H100e: units grow at
    `unit_growth` a year and performance per unit at `perf_growth` a year."""
    return base * np.power((1.0 + quarterly(unit_growth)) * (1.0 + quarterly(perf_growth)), t)


def regional_demand(world: Array, shares: Array) -> Array:
    """Split world demand (P,) over regions by `shares` (P, R) that sum to one: (P, R)."""
    return world[:, None] * shares


def price_wedge(price: Array, revenue_share: float) -> Array:
    """The price a buyer pays when a revenue share is levied on the sale and passed on in full, as
    an ad valorem duty would be: p * (1 + s). (A seller who wanted to keep its whole margin would
    need p / (1 - s); the model takes the simpler, documented reading.)"""
    if not 0.0 <= revenue_share < 1.0:
        raise ValueError(f"revenue share must be in [0, 1): {revenue_share}")
    return price * (1.0 + revenue_share)


def demand_after_price(demand: Array, price_ratio: Array, elasticity: Array) -> Array:
    """Demand at a changed price, with constant elasticity (elasticity < 0): d * r ** e."""
    return demand * np.power(price_ratio, elasticity)


def licensed_imports(demand: Array, access: float, practice: Array) -> Array:
    """What licensed channels deliver: the share of demand the law lets through (`access`: 1 no
    licence needed, 0 denied) times the share of licensable demand that actually ships (`practice`,
    e.g. licences granted but buyers' governments steering purchases elsewhere)."""
    return demand * access * np.where(access >= 1.0, 1.0, practice)


def leakage(denied: Array, base_leak: Array, enforcement: Array, enforcement_effect: Array) -> Array:
    """Denied demand that arrives anyway through diversion and smuggling: a base share, lowered by
    enforcement (0 none .. 1 full) at `enforcement_effect`, never below zero."""
    rate = np.clip(base_leak * (1.0 - enforcement_effect * enforcement), 0.0, 1.0)
    return denied * rate


def domestic_output(wafers: Array, yield_: Array, dies_per_wafer: Array, h100e_per_chip: Array,
                    hbm_cap_chips: Array) -> Array:
    """Domestic AI chips made in a quarter, in H100e: good dies from the advanced-node wafers
    allotted to AI chips, capped by the HBM stacks available to package them."""
    chips = np.minimum(wafers * yield_ * dies_per_wafer, hbm_cap_chips)
    return chips * h100e_per_chip


def capacity_next(capacity: Array, base_growth: Array, diverted_share: Array, response: Array,
                  shock: Array | float = 0.0) -> Array:
    """Next quarter's advanced-node capacity: its own yearly growth plus the yearly growth the
    controls provoke (the substitution effect: `response` per unit share of China's demand that
    imports could not serve), as a quarterly rate, less any supply shock (per quarter). Capacity
    never falls below zero."""
    growth = quarterly(base_growth + response * diverted_share) - shock
    return np.maximum(capacity * (1.0 + growth), 0.0)


def cost_pass_through(shipments: Array, price_shock: Array, pass_through: Array) -> Array:
    """Accelerators made outside China when counter-controls raise input costs: a price rise of
    `price_shock` on the controlled materials, passed through at `pass_through` to the cost of chips
    and chip-making equipment, with unit elasticity of demand (spending holds, volume falls)."""
    return shipments / (1.0 + price_shock * pass_through)


def depreciate(stock: Array, life_years: Array) -> Array:
    """One quarter of straight-line retirement over a useful life in years."""
    return stock * (1.0 - 1.0 / (life_years * QUARTERS_PER_YEAR))


def largest_training_run(installed_h100e: Array, flops_per_h100e: float, fraction: Array, days: Array,
                         utilisation: Array) -> Array:
    """The largest single training run a region could do, in FLOP: a fraction of its installed
    compute for a run of `days` at `utilisation`."""
    seconds = days * 86_400.0
    return installed_h100e * flops_per_h100e * fraction * seconds * utilisation


def run_days(years_since_2023: float, days_2023: Array, growth: Array, days_max: Array) -> Array:
    """Length of the largest training runs: growing `growth` a year from `days_2023`, until runs stop
    lengthening at `days_max` (longer runs lose to starting later on better chips)."""
    return np.minimum(days_2023 * np.power(1.0 + growth, years_since_2023), days_max)


def leverage(licensed: Array, leaked: Array, domestic: Array) -> Array:
    """The share of China's new compute that depends on flows the US can stop: licensed imports.
    Leaked chips and domestic chips are outside its reach; 0 when China adds nothing."""
    total = licensed + leaked + domestic
    return np.divide(licensed, total, out=np.zeros_like(total), where=total > 0)


# --- world supply: growth that changes pace ---------------------------------------------------------


def growth_factor(t: int, rate: Array, rate_after: Array, switch_t: int) -> Array:
    """How much a quantity has grown from quarter 0 to quarter t when it grows at `rate` a year until
    quarter `switch_t` and at `rate_after` a year from then on (both as quarterly compounding)."""
    early = min(t, switch_t)
    late = max(t - switch_t, 0)
    return np.power(1.0 + quarterly(rate), early) * np.power(1.0 + quarterly(rate_after), late)


def regional_shares(shares_2022: Array, tilts: Array, years: float) -> Array:
    """Each region's share of world demand `years` after the start: the opening shares (P, R), each
    grown by its own tilt a year relative to the world, renormalised to sum to one."""
    grown = shares_2022 * np.power(1.0 + tilts, years)
    return grown / grown.sum(axis=1, keepdims=True)


def reallocate(unserved: Array, share: Array, others_shares: Array) -> Array:
    """Supply made for China that China did not take (denied and not leaked, or priced out) and that
    vendors sell to the other regions instead: `share` of it (1 = a supply-constrained market where
    every chip finds a buyer, 0 = the chips are not made), split by the other regions' shares (P, R')."""
    total = others_shares.sum(axis=1, keepdims=True)
    return (unserved * share)[:, None] * np.divide(others_shares, total, out=np.zeros_like(others_shares), where=total > 0)


# --- China's domestic supply ------------------------------------------------------------------------


def yield_at(years_since_ref: float, yield_ref: Array, gain_per_year: Array, ceiling: Array) -> Array:
    """Large-die yield `years_since_ref` years after the reference year: the reference yield plus a
    linear gain a year, never above the ceiling and never below zero (a ceiling below the reference
    yield holds the yield at the ceiling)."""
    return np.clip(yield_ref + gain_per_year * years_since_ref, 0.0, ceiling)


def good_dies(wafers: Array, dies_per_wafer: Array, yield_: Array) -> Array:
    """Good compute dies from a quarter's AI wafers."""
    return wafers * dies_per_wafer * yield_


def die_bank_draw(bank: Array, quarters: Array, years_since_start: Array | float) -> Array:
    """Dies drawn in one quarter from a bank of foreign-made dies: the bank spread evenly over
    `quarters` quarters from its start (nothing before the start or once it is used up)."""
    active = (years_since_start >= 0) & (years_since_start * 4 < quarters)
    return np.where(active, bank / np.maximum(quarters, 1.0), 0.0)


def stockpile_release(stockpile: Array, quarters: Array, years_since_start: Array | float) -> Array:
    """What a firm releases in one quarter from a stockpile it cannot replenish and rations: the
    stockpile spread evenly over `quarters` quarters from the start (nothing before or after)."""
    return die_bank_draw(stockpile, quarters, years_since_start)


def packages(dies: Array, hbm_stacks: Array, dies_per_package: Array, stacks_per_die: Array) -> Array:
    """Accelerators that can be packaged from the dies and HBM stacks at hand: each needs
    `dies_per_package` dies and `stacks_per_die` HBM stacks per die; the scarcer input binds. Pass
    `np.inf` stacks when HBM does not bind (imports still allowed)."""
    by_dies = dies / dies_per_package
    by_hbm = hbm_stacks / (stacks_per_die * dies_per_package)
    return np.minimum(by_dies, by_hbm)


def hbm_supply(years_since_start: Array | float, stacks_per_quarter: Array, growth: Array) -> Array:
    """Domestic HBM stacks made in a quarter: nothing before volume production starts, then
    `stacks_per_quarter` growing at `growth` a year."""
    since = np.asarray(years_since_start, dtype=float)
    return np.where(since >= 0, stacks_per_quarter * np.power(1.0 + growth, np.maximum(since, 0.0)), 0.0)


# --- China's counter-controls on gallium and germanium ----------------------------------------------


def substitution_gap(years_since_control: float, china_share: Array, per_year: Array, lag_years: Array) -> Array:
    """The part of China's supply that the rest of the world has not yet replaced, as a fraction of
    it (1 = nothing replaced, 0 = fully replaced): after `lag_years`, new non-China production adds
    `per_year` of world supply a year until it covers China's share."""
    added = per_year * np.maximum(years_since_control - lag_years, 0.0)
    return np.clip((china_share - added) / np.maximum(china_share, 1e-12), 0.0, 1.0)


def material_price_rise(level: int, rise_licence: Array, rise_ban: Array, gap: Array) -> Array:
    """Price rise outside China of a material China controls, by the control's level (0 none,
    1 licensing, 2 ban): the rise observed under licensing, plus the further rise under a ban, both
    shrinking in proportion to the supply gap still open."""
    rise = (rise_licence if level >= 1 else 0.0) + (rise_ban if level >= 2 else 0.0)
    return np.asarray(rise, dtype=float) * gap


def weighted_material_rise(ga_rise: Array, ge_rise: Array, ga_weight: Array) -> Array:
    """One price rise for the two materials: gallium's and germanium's rises weighted by gallium's
    part of chip and equipment makers' exposure to them (the rest is germanium's)."""
    return ga_weight * ga_rise + (1.0 - ga_weight) * ge_rise
