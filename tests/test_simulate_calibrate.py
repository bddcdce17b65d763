"""The calibration: prior quantiles map onto each parameter's range, the tempered sequential Monte
Carlo moves the population toward what the likelihood favours, and the same seed gives the same
population."""

from __future__ import annotations

import numpy as np
import pytest

from chipwatch.simulate.calibrate import calibrate, draws_at, free_parameters, quantile
from chipwatch.simulate.model import SCALAR_PARAMETERS, Result, Spec, parameter_specs


@pytest.mark.parametrize("dist", ["uniform", "triangular", "lognormal"])
def test_quantiles_stay_in_range_and_put_the_median_where_the_prior_does(dist: str):
    spec = Spec("x", 2.0, 1.0, 5.0, dist, "", "")
    u = np.linspace(0.0, 1.0, 1001)
    x = quantile(spec, u)
    assert np.all(np.diff(x) >= 0)                                   # increasing in u
    if dist != "lognormal":
        assert x.min() >= 1.0 and x.max() <= 5.0
    else:
        assert np.isclose(quantile(spec, np.array([0.5]))[0], 2.0)   # the lognormal's median is its central value
        assert np.isclose(quantile(spec, np.array([0.1]))[0], 1.0, rtol=0.01) or x.min() > 0
    if dist == "triangular":                                          # mode 2 of (1, 5): a quarter of the mass below it
        assert np.isclose(quantile(spec, np.array([0.25]))[0], 2.0)


def test_free_parameters_leave_out_fixed_values_and_one_number_timings():
    names = free_parameters()
    specs = parameter_specs()
    assert names and all(specs[n].low < specs[n].high for n in names)
    assert not set(names) & set(SCALAR_PARAMETERS)
    d = draws_at(np.full((3, len(names)), 0.5), names)
    assert all(np.all(d[n] == specs[n].value) for n in SCALAR_PARAMETERS)


def _pull_price(target: float):
    def loglik(r: Result) -> np.ndarray:
        return -0.5 * ((r.draws["prices.price_per_h100e"] - target) / 500.0) ** 2
    return loglik


def test_the_population_moves_to_what_the_likelihood_favours_and_is_reproducible():
    a = calibrate(_pull_price(34_000.0), paths=120, seed=3)
    b = calibrate(_pull_price(34_000.0), paths=120, seed=3)
    prior = np.median(a.prior.draws["prices.price_per_h100e"])
    post = np.median(a.posterior.draws["prices.price_per_h100e"])
    assert prior < 31_000 < post <= 35_000                           # pulled to the high end of 24.4-35 k
    assert np.array_equal(a.u, b.u)
    assert a.distinct > 30 and a.steps >= 1 and 0 < a.acceptance <= 1
    # a flat likelihood leaves the prior alone: one step, no resampling pressure
    flat = calibrate(lambda r: np.zeros(r.installed.shape[1]), paths=50, seed=1)
    assert flat.steps == 1 and flat.min_step_ess == pytest.approx(50)
