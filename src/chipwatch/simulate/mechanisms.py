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
    """Shipments outside China when counter-controls raise input costs: a price rise of
    `price_shock` on the controlled materials, passed through at `pass_through` to chip costs, with
    unit elasticity of demand."""
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


def leverage(licensed: Array, leaked: Array, domestic: Array) -> Array:
    """The share of China's new compute that depends on flows the US can stop: licensed imports.
    Leaked chips and domestic chips are outside its reach; 0 when China adds nothing."""
    total = licensed + leaked + domestic
    return np.divide(licensed, total, out=np.zeros_like(total), where=total > 0)
