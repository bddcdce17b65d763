"""Benchmark: 10,000 Monte Carlo paths x 2022-Q4..2035-Q4 quarterly x every shipped policy.

Prints paths per second for each policy; the target (issue 5) is under 2 s per policy on 2 cores.
The baseline in the same run is one path at a time (the same model, paths=1, repeated), so the
ratio shows what the vectorised Monte Carlo buys.

    python benchmarks/simulate.py [--paths 10000] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

from chipwatch.simulate import run
from chipwatch.simulate.model import sample

TARGET_S = 2.0  # issue 5: under 2 s per policy for 10,000 paths on 2 cores
POLICIES = ("historical", "blockade", "targeted", "market-control", "diffusion-caps-kept", "no-licences-d5")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline-paths", type=int, default=50)
    args = ap.parse_args()
    draws = sample(args.paths, args.seed)
    for p in POLICIES:
        # warm the law queries (cached per month and chip class) and the catalog with the timed draws:
        # which months and classes are asked depends on the draws' one-number timings
        run(p, args.paths, args.seed, draws=draws)
    worst = 0.0
    # every shipped policy with China's counter-controls on, and the historical one with them off
    for p, cc in [(p, True) for p in POLICIES] + [("historical", False)]:
        t0 = time.perf_counter()
        run(p, args.paths, args.seed, draws=draws, counter_controls=cc)
        dt = time.perf_counter() - t0
        worst = max(worst, dt)
        label = p if cc else f"{p} (no counter-controls)"
        print(f"{label:<36} {args.paths:,} paths in {dt:6.3f} s = {args.paths / dt:12,.0f} paths/s")
    t0 = time.perf_counter()
    for i in range(args.baseline_paths):
        run("historical", 1, args.seed + i)
    one = (time.perf_counter() - t0) / args.baseline_paths
    vec = worst / args.paths
    print(f"one path at a time: {1 / one:,.0f} paths/s; vectorised (slowest policy): {1 / vec:,.0f} paths/s; ratio {one / vec:,.1f}x")
    print(f"slowest policy {worst:.3f} s for {args.paths:,} paths (target < {TARGET_S:g} s): "
          f"{worst / TARGET_S:.2f} of the target")


if __name__ == "__main__":
    main()
