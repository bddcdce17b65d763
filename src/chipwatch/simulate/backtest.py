"""Backtest: the historical scenario against published figures, fitted on some, tested on the rest.

Each figure in `data/calibration.yaml` names the model measure it compares with, a region, a
period, a value (or a range, or a lower/upper bound) and whether it is used to fit or held out.
The fit is history matching: every Monte Carlo path of the historical regime gets a weight from
how well it reproduces the `fit` figures (a Gaussian on the log ratio, wider for ranges; one-sided
for bounds), and the report gives, for every figure, the model's 10-90 % band before and after
weighting beside the published value. Held-out figures never enter the weights, so their
agreement after weighting is a test, not a fit. Figures whose measure the model does not yet
produce are listed as not compared.
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

from chipwatch.simulate.model import DATA, REGIONS, Result, run

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
    effective_paths: float
    figures: list[FigureCheck]
    held_out_inside: str
    not_compared: list[str]


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


def _region_index(region: str) -> int | None:
    return REGIONS.index(region) if region in REGIONS else None


def measure(result: Result, fig: dict[str, Any]) -> np.ndarray | None:
    """The model's value of a figure's measure, per path, or None when the model lacks it."""
    idx = _quarters_of(result, str(fig["period"]))
    if not idx:
        return None
    name, region = fig.get("measure"), fig.get("region")
    ri = _region_index(str(region))
    last = idx[-1]
    world_installed = result.installed[last].sum(axis=1)
    if name == "installed_h100e":
        return result.installed[last, :, ri] if ri is not None else world_installed
    if name == "shipments_h100e" and region == "CN":
        return (result.china_licensed[idx] + result.china_leaked[idx] + result.china_domestic[idx]).sum(axis=0)
    if name == "compute_share" and region == "CN":
        return result.installed[last, :, 1] / world_installed
    if name == "leaked_share" and region == "CN":
        added = (result.china_licensed[idx] + result.china_leaked[idx] + result.china_domestic[idx]).sum(axis=0)
        return np.divide(result.china_leaked[idx].sum(axis=0), added, out=np.zeros_like(added), where=added > 0)
    if name == "vendor_revenue_usd" and region == "CN":
        return result.vendor_revenue_china[idx].sum(axis=0)
    if name == "vendor_revenue_usd" and region == "WORLD":
        return result.vendor_revenue_world[idx].sum(axis=0)
    if name == "compute_share" and ri is not None:
        return result.installed[last, :, ri] / world_installed
    # Smuggled chips are H100-class or better: one unit counted as one H100e (an approximation).
    if name == "leaked_units" and region == "CN":
        return result.china_leaked[idx].sum(axis=0)
    if name == "shipments_units" and region == "CN" and fig.get("supplier") == "china_domestic":
        return result.china_domestic_units[idx].sum(axis=0)
    if name == "us_share_of_cn_market" and region == "CN":
        added = (result.china_licensed[idx] + result.china_leaked[idx] + result.china_domestic[idx]).sum(axis=0)
        us = (result.china_licensed[idx] + result.china_leaked[idx]).sum(axis=0)
        return np.divide(us, added, out=np.zeros_like(added), where=added > 0)
    if name == "price_usd" and region == "WORLD" and "H100" in str(fig.get("what", "")):
        return result.price[idx].mean(axis=0)  # the model's price is per H100e: only an H100 price compares
    return None


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


def backtest(paths: int = 2000, seed: int = 0, *, regime: str | Path = "historical") -> BacktestReport:
    result = run(str(regime), paths, seed)
    logw = np.zeros(paths)
    values: dict[str, np.ndarray | None] = {}
    for fig in figures():
        values[fig["id"]] = measure(result, fig)
        if fig["use"] == "fit" and values[fig["id"]] is not None:
            logw += _log_weight(values[fig["id"]], fig)  # type: ignore[arg-type]
    w = np.exp(logw - logw.max())
    ess = float(w.sum() ** 2 / (w * w).sum())
    checks = []
    held_in = held_n = 0
    for fig in figures():
        v = values[fig["id"]]
        lo, hi = fig.get("low"), fig.get("high")
        check = FigureCheck(id=fig["id"], what=fig["what"], use=fig["use"], measure=str(fig.get("measure")),
                            period=str(fig["period"]), published=float(fig["value"]), low=lo, high=hi, bound=fig.get("bound"),
                            compared=v is not None, source=fig["source"])
        if v is not None:
            prior, post = _band(v), _band(v, w)
            lo_ok = float(lo) if lo is not None else float(fig["value"])
            hi_ok = float(hi) if hi is not None else float(fig["value"])
            if fig.get("bound") == "lower":
                inside = post[2] >= lo_ok
            elif fig.get("bound") == "upper":
                inside = post[0] <= hi_ok
            else:
                inside = post[0] <= hi_ok and post[2] >= lo_ok
            check = check.model_copy(update={"prior_band": prior, "posterior_band": post, "inside_after": inside})
            if fig["use"] == "held_out":
                held_n += 1
                held_in += inside
        checks.append(check)
    return BacktestReport(paths=paths, seed=seed, effective_paths=round(ess, 1), figures=checks,
                          held_out_inside=f"{held_in} of {held_n} compared held-out figures inside the weighted 10-90 % band",
                          not_compared=[c.id for c in checks if not c.compared])
