"""Calibration of the historical scenario: sequential Monte Carlo with likelihood tempering.

Importance weighting from the prior fails once many figures are fitted: few prior paths agree
with all of them at once, so the weights pile onto a handful of paths. Here the population of
paths is moved toward the posterior in steps instead:

1. draw the free parameters of every path from their priors, as quantiles u in (0, 1) (each
   prior is uniform in its own quantile space, so the prior needs no density in the moves);
2. raise the likelihood of the fit figures to a power beta that grows from 0 to 1, each step as
   far as keeps the effective sample size of the step's weights at `ess_target` of the paths;
3. after each step, resample the paths by their weights and move each with Metropolis-Hastings
   random-walk steps in quantile space (accepted with the tempered likelihood ratio), so the
   population spreads over the region the figures allow rather than copying a few paths.

Only figures marked `fit` enter the likelihood; held-out figures are measured on the final
population and never steer it. Timings the model needs as one number for all paths
(`model.SCALAR_PARAMETERS`) stay at their central values. Same seed, same population.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from chipwatch.simulate.model import SCALAR_PARAMETERS, Draws, Result, Spec, parameter_specs, run

# Metropolis-Hastings moves after each tempering step, and the random-walk scale in quantile space
# relative to the population's spread (2.38 / sqrt(d) is the classic optimum for Gaussian targets).
MOVES_PER_STEP = 5
ESS_TARGET = 0.5
MAX_STEPS = 60
_BISECTION_ROUNDS = 60  # halvings of the beta interval: far below any useful resolution
_U_EDGE = 1e-9  # quantiles kept inside (0, 1) so a lognormal quantile stays finite
_inv_cdf = np.frompyfunc(NormalDist().inv_cdf, 1, 1)

LogLikelihood = Callable[[Result], np.ndarray]


def free_parameters() -> list[str]:
    """The parameters the calibration moves: every one with a range, but the one-number timings."""
    return [n for n, s in sorted(parameter_specs().items()) if s.low < s.high and n not in SCALAR_PARAMETERS]


def quantile(spec: Spec, u: np.ndarray) -> np.ndarray:
    """The value of a parameter at prior quantile u (the inverse of its prior's distribution
    function), for the three distributions parameters.yaml uses."""
    u = np.clip(u, _U_EDGE, 1 - _U_EDGE)
    lo, hi = spec.low, spec.high
    if spec.dist == "triangular":
        c = min(max(spec.value, lo), hi)
        cut = (c - lo) / (hi - lo)
        left = lo + np.sqrt(u * (hi - lo) * (c - lo))
        right = hi - np.sqrt((1 - u) * (hi - lo) * (hi - c))
        return np.where(u < cut, left, right)
    if spec.dist == "lognormal" and lo > 0:
        sigma = (np.log(hi) - np.log(lo)) / (2 * 1.2816)  # as model.draw: low/high ~ 10th/90th percentiles
        return np.exp(np.log(spec.value) + sigma * _inv_cdf(u).astype(float))
    return lo + u * (hi - lo)


def draws_at(u: np.ndarray, names: Sequence[str]) -> Draws:
    """Draws for every parameter: the free ones at quantiles u (P, D), the rest at their central value."""
    paths = u.shape[0]
    d = Draws()
    specs = parameter_specs()
    for name, spec in sorted(specs.items()):
        d[name] = np.full(paths, spec.value)
    for j, name in enumerate(names):
        d[name] = quantile(specs[name], u[:, j])
    return d


def _next_beta(loglik: np.ndarray, beta: float, target: float) -> tuple[float, np.ndarray, float]:
    """The largest next exponent (at most 1) whose incremental weights keep the ESS at `target` of
    the paths, found by bisection; returns it, the normalised weights and their ESS."""
    n = loglik.size

    def weights(b: float) -> tuple[np.ndarray, float]:
        lw = (b - beta) * loglik
        w = np.exp(lw - lw.max())
        w = w / w.sum()
        return w, float(1.0 / (w * w).sum())

    w, ess = weights(1.0)
    if ess >= target * n:
        return 1.0, w, ess
    lo, hi = beta, 1.0
    for _ in range(_BISECTION_ROUNDS):
        mid = (lo + hi) / 2
        if weights(mid)[1] >= target * n:
            lo = mid
        else:
            hi = mid
    w, ess = weights(lo)
    return lo, w, ess


def _resample(w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling: indices drawn in proportion to the weights."""
    n = w.size
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(w), positions), n - 1)


def _reflect(u: np.ndarray) -> np.ndarray:
    """Fold proposals back into (0, 1): reflecting at the edges keeps the walk symmetric."""
    u = np.mod(u, 2.0)
    return np.where(u > 1.0, 2.0 - u, u)


@dataclass
class Calibration:
    """The calibrated population and how it was reached."""

    prior: Result  # the first population, drawn from the priors
    posterior: Result  # the final population (equal weights)
    prior_ess: float  # ESS if the prior population were only reweighted by the fit figures
    steps: int  # tempering steps from beta 0 to 1
    min_step_ess: float  # the smallest ESS of any step's weights
    acceptance: float  # Metropolis-Hastings acceptance rate over the last step's moves
    distinct: int  # distinct parameter vectors in the final population
    names: list[str]
    u: np.ndarray  # (P, D) final quantiles of the free parameters


def calibrate(loglik: LogLikelihood, regime: str | Path = "historical", paths: int = 2000, seed: int = 0, *,
              moves: int = MOVES_PER_STEP, ess_target: float = ESS_TARGET,
              progress: Callable[[float], None] | None = None) -> Calibration:
    """Tempered sequential Monte Carlo of the free parameters against `loglik` (per path)."""
    if paths < 2:
        raise ValueError("calibration needs at least 2 paths")
    rng = np.random.default_rng(seed)
    names = free_parameters()
    u = rng.random((paths, len(names)))
    prior = run(str(regime), paths, seed, draws=draws_at(u, names))
    ll = loglik(prior)
    lw = ll - ll.max()
    prior_ess = float(np.exp(lw).sum() ** 2 / np.exp(2 * lw).sum())
    beta, steps, min_ess, acceptance = 0.0, 0, float(paths), 1.0
    while beta < 1.0 and steps < MAX_STEPS:
        beta_new, w, ess = _next_beta(ll, beta, ess_target)
        beta, steps, min_ess = beta_new, steps + 1, min(min_ess, ess)
        pick = _resample(w, rng)
        u, ll = u[pick], ll[pick]
        accepted = 0
        for _ in range(moves):
            scale = 2.38 / np.sqrt(len(names)) * np.maximum(u.std(axis=0), 0.01)
            proposal = _reflect(u + rng.normal(size=u.shape) * scale)
            ll_new = loglik(run(str(regime), paths, seed, draws=draws_at(proposal, names)))
            take = np.log(rng.random(paths)) < beta * (ll_new - ll)
            u[take], ll[take] = proposal[take], ll_new[take]
            accepted += int(take.sum())
        acceptance = accepted / (moves * paths)
        if progress:
            progress(beta)
    if beta < 1.0:
        raise RuntimeError(f"calibration stopped at beta {beta:.3g} after {MAX_STEPS} steps")
    posterior = run(str(regime), paths, seed, draws=draws_at(u, names))
    distinct = len({row.tobytes() for row in u})
    return Calibration(prior, posterior, round(prior_ess, 1), steps, round(min_ess, 1), round(acceptance, 3), distinct,
                       names, u)


def parameter_shift(cal: Calibration) -> list[dict[str, Any]]:
    """How far each free parameter's posterior median moved from its prior median, in prior quantiles
    (the median of u: 0.5 = unmoved), largest move first."""
    med = np.median(cal.u, axis=0)
    specs = parameter_specs()
    order = np.argsort(-np.abs(med - 0.5), kind="stable")
    return [{"parameter": cal.names[i], "posterior_quantile": round(float(med[i]), 3),
             "posterior_median": float(np.median(cal.posterior.draws[cal.names[i]])), "central": specs[cal.names[i]].value}
            for i in order]
