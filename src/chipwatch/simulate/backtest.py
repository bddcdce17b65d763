"""Backtest: the historical scenario against published figures, fitted on some, tested on the rest.

Each figure in `data/calibration.yaml` names the model measure it compares with, a region, a
period, a value (or a range, or a lower/upper bound) and whether it is used to fit or held out.
Each path's agreement with the `fit` figures is a likelihood (a Gaussian on the log ratio, wider
for ranges; one-sided for bounds); `calibrate.calibrate` moves the population of paths from the
priors to that posterior by tempered sequential Monte Carlo, and the report gives, for every
figure, the model's 10-90 % band before (prior) and after (posterior) beside the published value.
Held-out figures never enter the likelihood, so their agreement after the fit is a test, not a
fit. Figures whose measure the model does not produce are listed as not compared.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel

from chipwatch.simulate.calibrate import calibrate, parameter_shift
from chipwatch.simulate.mechanisms import QUARTERS_PER_YEAR
from chipwatch.simulate.model import DATA, REGIONS, Draws, Result, chip_worth

# How far (in log terms) a path may miss a point figure and still count as agreeing: one sigma.
LOG_SIGMA = 0.35


class FigureCheck(BaseModel):
    id: str
    what: str
    use: str
    measure: str
    period: str
    published: float
    low: float | None
    high: float | None
    bound: str | None
    compared: bool
    prior_band: tuple[float, float, float] | None = None  # p10, median, p90 before weighting
    posterior_band: tuple[float, float, float] | None = None  # after weighting on the fit figures
    inside_after: bool | None = None
    source: str


class BacktestReport(BaseModel):
    paths: int
    seed: int
    method: str
    effective_paths: float  # the smallest effective sample size of any tempering step's weights
    distinct_paths: int  # distinct parameter vectors in the calibrated population
    prior_reweighting_ess: float  # what plain importance weighting of the prior paths would keep
    steps: int
    acceptance: float
    figures: list[FigureCheck]
    fit_inside: str
    held_out_inside: str
    held_out_in: int
    held_out_compared: int
    fit_compared: int
    not_compared: list[str]
    parameter_shift: list[dict[str, Any]]

    @property
    def validated(self) -> bool:
        """Most held-out figures inside the calibrated band."""
        return 2 * self.held_out_in > self.held_out_compared

    def summary(self) -> str:
        text = (f"calibrated on {self.fit_compared} published figures ({self.fit_inside}); held out "
                f"{self.held_out_in} of {self.held_out_compared} inside the calibrated 10-90 % band")
        if not self.validated:
            misses = [f.id for f in self.figures if f.use == "held_out" and f.compared and not f.inside_after]
            text += (f" - the held-out test is not passed (misses: {', '.join(misses)}), so read the numbers as fitted "
                     "to 2022-2025, not as validated forecasts")
        return text


@cache
def figures() -> list[dict[str, Any]]:
    data = yaml.safe_load((DATA / "calibration.yaml").read_text(encoding="utf-8"))
    return list(data["figures"])


def _quarters_of(result: Result, period: str) -> list[int]:
    if "-Q" in period:
        y, q = period.split("-Q")
        start = date(int(y), 3 * (int(q) - 1) + 1, 1)
        return [i for i, d in enumerate(result.quarters) if d == start]
    return [i for i, d in enumerate(result.quarters) if d.year == int(period)]


def _regions(fig: dict[str, Any]) -> list[int] | None:
    """Indices of the figure's region(s); None for WORLD or a region the model lacks."""
    names = fig["region"] if isinstance(fig.get("region"), list) else [fig.get("region")]
    if not all(n in REGIONS for n in names):
        return None
    return [REGIONS.index(str(n)) for n in names]


def _flow(series: np.ndarray, idx: list[int], period: str) -> np.ndarray:
    """A flow summed over the period's quarters; a calendar year the model covers only in part (2022:
    only its fourth quarter) is scaled up to the whole year at the rate of the quarters it has."""
    total = series[idx].sum(axis=0)
    if "-Q" not in period and len(idx) < QUARTERS_PER_YEAR:
        total = total * QUARTERS_PER_YEAR / len(idx)
    return np.asarray(total)


def _unit_price(result: Result, chip: str, idx: list[int]) -> np.ndarray:
    """The model's price of one unit of a catalog chip over the period: a domestic Chinese chip at the
    domestic price per H100e; any other at the world price per H100e of the best chip on sale, raised
    for a lesser chip by the class-cost exponent."""
    worth = chip_worth(chip)
    price = result.price[idx]  # (n, P)
    if chip.startswith("Ascend"):
        return np.asarray((price * result.draws["prices.domestic_price_ratio"]).mean(axis=0) * worth)
    ratio = np.power(np.maximum(result.frontier_worth[idx][:, None] / worth, 1.0), result.draws["prices.class_cost_exponent"])
    return np.asarray((price * ratio).mean(axis=0) * worth)


def measure(result: Result, fig: dict[str, Any]) -> np.ndarray | None:
    """The model's value of a figure's measure, per path, or None when the model lacks it."""
    period = str(fig["period"])
    idx = _quarters_of(result, period)
    if not idx:
        return None
    name, region, supplier, chip = fig.get("measure"), fig.get("region"), fig.get("supplier"), fig.get("chip")
    regions = _regions(fig)
    last = idx[-1]
    world_installed = result.installed[last].sum(axis=1)
    cn_added = result.china_licensed + result.china_leaked + result.china_domestic
    if name == "installed_h100e":
        return result.installed[last][:, regions].sum(axis=1) if regions else world_installed
    if name == "shipments_h100e" and regions:
        return _flow(result.added[:, :, regions].sum(axis=2), idx, period)
    if name == "compute_share" and regions:
        return result.installed[last][:, regions].sum(axis=1) / world_installed
    if name == "leaked_share" and region == "CN":
        added = _flow(cn_added, idx, period)
        return np.divide(_flow(result.china_leaked, idx, period), added, out=np.zeros_like(added), where=added > 0)
    if name == "vendor_revenue_usd" and region == "CN":
        return _flow(result.vendor_revenue_china, idx, period)
    if name == "vendor_revenue_usd" and region == "WORLD":
        rev = _flow(result.us_vendor_revenue if supplier == "us_vendors" else result.vendor_revenue_world, idx, period)
        # a data-centre segment also sells the networking that goes with the accelerators
        return rev * (1.0 + result.draws["prices.networking_revenue_share"]) if fig.get("scope") == "segment" else rev
    if name == "china_revenue_share" and region == "CN":
        rev = _flow(result.us_vendor_revenue, idx, period)
        return np.divide(_flow(result.vendor_revenue_china, idx, period), rev, out=np.zeros_like(rev), where=rev > 0)
    if name == "demand_usd" and region == "CN":
        return _flow(result.china_demand * result.price, idx, period)
    # Smuggled chips are H100-class or better: one unit counted as one H100e (an approximation).
    if name == "leaked_units" and region == "CN":
        return _flow(result.china_leaked, idx, period)
    if name == "shipments_units" and region == "CN" and supplier == "china_domestic":
        units = _flow(result.china_domestic_units, idx, period)
        # a Huawei-only figure compares with Huawei's part of domestic output
        return units * result.draws["china_domestic.huawei_share_of_domestic"] if fig.get("vendor") == "Huawei" else units
    if name == "shipments_units" and region == "CN" and chip in result.licensed_units:
        return _flow(result.licensed_units[str(chip)], idx, period)
    if name == "shipments_units" and region == "WORLD" and supplier == "us_vendors":
        return _flow(result.world_units * _us_of_foreign(result), idx, period)
    if name == "shipments_units" and regions and chip and region != "CN":
        # a count of one product: the region's compute added, in units of that product
        return _flow(result.added[:, :, regions].sum(axis=2), idx, period) / chip_worth(str(chip))
    if name == "shipments_units" and regions and supplier == "us_vendors" and region != "CN":
        # a region's purchases in units: its compute added over the average compute per unit shipped
        return _flow(result.added[:, :, regions].sum(axis=2) / result.h100e_per_unit * _us_of_foreign(result), idx, period)
    if name == "us_share_of_cn_market" and region == "CN":
        # bought legally from US vendors (calibration.yaml: smuggled chips are not in the share)
        added = _flow(cn_added, idx, period)
        return np.divide(_flow(result.china_licensed, idx, period), added, out=np.zeros_like(added), where=added > 0)
    if name == "price_usd" and chip:
        return _unit_price(result, str(chip), idx)
    return None


def _us_of_foreign(result: Result) -> np.ndarray:
    """US vendors' part of the accelerators made outside China, per path."""
    d = result.draws
    us, others = d["production.supplier_share_2022_us_vendors"], d["production.supplier_share_2022_others"]
    return np.asarray(us / (us + others))


def _log_weight(value: np.ndarray, fig: dict[str, Any]) -> np.ndarray:
    """Log-likelihood of each path's value against a figure (Gaussian in log space)."""
    v = np.maximum(value, 1e-12)
    target = float(fig["value"])
    lo, hi = fig.get("low"), fig.get("high")
    sigma = LOG_SIGMA
    if lo is not None and hi is not None and float(lo) > 0:
        sigma = max(sigma, (np.log(float(hi)) - np.log(float(lo))) / 2)
    z = (np.log(v) - np.log(max(target, 1e-12))) / sigma
    if fig.get("bound") == "lower":
        z = np.minimum(z, 0.0)  # a lower bound: paths above it are all fine
    elif fig.get("bound") == "upper":
        z = np.maximum(z, 0.0)
    return -0.5 * z * z


def _band(values: np.ndarray, weights: np.ndarray | None = None) -> tuple[float, float, float]:
    if weights is None:
        p10, p90 = np.percentile(values, [10, 90])
        return float(p10), float(np.median(values)), float(p90)
    order = np.argsort(values)
    cum = np.cumsum(weights[order]) / weights.sum()
    pick: Callable[[float], float] = lambda q: float(values[order][np.searchsorted(cum, q)])  # noqa: E731
    return pick(0.1), pick(0.5), pick(0.9)


def log_likelihood(result: Result) -> np.ndarray:
    """Each path's log-likelihood against the `fit` figures the model can measure."""
    total = np.zeros(result.installed.shape[1])
    for fig in figures():
        if fig["use"] == "fit":
            v = measure(result, fig)
            if v is not None:
                total += _log_weight(v, fig)
    return total


def _inside(band: tuple[float, float, float], fig: dict[str, Any]) -> bool:
    lo, hi = fig.get("low"), fig.get("high")
    lo_ok = float(lo) if lo is not None else float(fig["value"])
    hi_ok = float(hi) if hi is not None else float(fig["value"])
    if fig.get("bound") == "lower":
        return band[2] >= lo_ok
    if fig.get("bound") == "upper":
        return band[0] <= hi_ok
    return band[0] <= hi_ok and band[2] >= lo_ok


def backtest(paths: int = 2000, seed: int = 0, *, regime: str | Path = "historical",
             progress: Callable[[float], None] | None = None) -> BacktestReport:
    """Calibrate the historical scenario on the fit figures and compare every figure."""
    return calibrated(paths, seed, regime=regime, progress=progress)[1]


def calibrated(paths: int = 2000, seed: int = 0, *, regime: str | Path = "historical",
               progress: Callable[[float], None] | None = None) -> tuple[Draws, BacktestReport]:
    """The calibrated parameter draws (one per path, equal weights) and the backtest report."""
    cal = calibrate(log_likelihood, regime, paths, seed, progress=progress)
    checks = []
    counts = {"fit": [0, 0], "held_out": [0, 0]}
    for fig in figures():
        before, after = measure(cal.prior, fig), measure(cal.posterior, fig)
        lo, hi = fig.get("low"), fig.get("high")
        check = FigureCheck(id=fig["id"], what=fig["what"], use=fig["use"], measure=str(fig.get("measure")),
                            period=str(fig["period"]), published=float(fig["value"]), low=lo, high=hi, bound=fig.get("bound"),
                            compared=before is not None and after is not None, source=fig["source"])
        if before is not None and after is not None:
            post = _band(after)
            inside = _inside(post, fig)
            check = check.model_copy(update={"prior_band": _band(before), "posterior_band": post, "inside_after": inside})
            counts[fig["use"]][0] += inside
            counts[fig["use"]][1] += 1
        checks.append(check)
    (fit_in, fit_n), (held_in, held_n) = counts["fit"], counts["held_out"]
    return cal.posterior.draws, BacktestReport(
        paths=paths, seed=seed, method="tempered sequential Monte Carlo on the fit figures (calibrate.py)",
        effective_paths=cal.min_step_ess, distinct_paths=cal.distinct, prior_reweighting_ess=cal.prior_ess, steps=cal.steps,
        acceptance=cal.acceptance, figures=checks, fit_inside=f"{fit_in} of {fit_n} fit figures inside the 10-90 % band",
        held_out_inside=f"{held_in} of {held_n} compared held-out figures inside the calibrated 10-90 % band",
        held_out_in=held_in, held_out_compared=held_n, fit_compared=fit_n,
        not_compared=[c.id for c in checks if not c.compared], parameter_shift=parameter_shift(cal))
