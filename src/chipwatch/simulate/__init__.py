"""Policy scenario simulator: mechanisms in `mechanisms.py`, the quarterly model in `model.py`, the
law's answer per quarter in `policy.py`; this module summarises runs (bands, policies side by side,
one-at-a-time sensitivity)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from chipwatch.simulate.model import OUTPUTS, Result, parameter_specs, run, sample

__all__ = ["OUTPUTS", "Band", "Result", "compare", "run", "tornado"]

YEARS = (2027, 2030, 2035)


class Band(BaseModel):
    policy: str
    output: str
    year: int
    p10: float
    median: float
    p90: float


def _year_end(result: Result, year: int) -> int:
    idx = [i for i, q in enumerate(result.quarters) if q.year == year]
    if not idx:
        raise ValueError(f"{year} is outside the simulated years")
    return idx[-1]


def bands(result: Result, outputs: Sequence[str] = OUTPUTS, years: Sequence[int] = YEARS) -> list[Band]:
    """Median and 10-90 % band of each output at the end of each year."""
    out = []
    for name in outputs:
        series = result.output(name)
        for y in years:
            v = series[_year_end(result, y)]
            v = v[np.isfinite(v)]
            p10, p90 = np.percentile(v, [10, 90]) if v.size else (np.nan, np.nan)
            med = np.median(v) if v.size else np.nan
            out.append(Band(policy=result.policy, output=name, year=y, p10=float(p10), median=float(med), p90=float(p90)))
    return out


def compare(policies: Sequence[str], paths: int = 1000, seed: int = 0, counter_controls: bool | str = True) -> dict[str, Result]:
    """Every policy on the same parameter draws (common random numbers), so differences come from
    the policies, not from the sampling."""
    draws = sample(paths, seed)
    return {p: run(p, paths, seed, draws=draws, counter_controls=counter_controls) for p in policies}


def tornado(policy: str, output: str, year: int = 2030, counter_controls: bool | str = True) -> list[tuple[str, float, float, float]]:
    """One-at-a-time sensitivity: the output at the central values, and with each parameter at its
    low and at its high end; sorted by the swing, largest first."""
    base_draws = sample(1, 0, central=True)
    base = run(policy, 1, draws=base_draws, counter_controls=counter_controls)
    i = _year_end(base, year)
    centre = float(base.output(output)[i, 0])
    rows = []
    for name, spec in parameter_specs().items():
        if spec.low == spec.high:
            continue
        vals = []
        for v in (spec.low, spec.high):
            d = sample(1, 0, central=True, overrides={name: v})
            vals.append(float(run(policy, 1, draws=d, counter_controls=counter_controls).output(output)[i, 0]))
        rows.append((name, vals[0], vals[1], abs(vals[1] - vals[0])))
    rows.sort(key=lambda r: -r[3])
    return [(n, lo, hi, centre) for n, lo, hi, _ in rows]


