"""Benchmark: classify the whole catalog on every quarter-start date 2022-2026.

Prints classifications per second for the one-at-a-time path (`classify`, full trace) and the
vectorised path (`classify_frame`, polars), measured in the same run, and their ratio. Both paths
must agree on every answer, or the benchmark fails.

    python benchmarks/classify.py [--repeat N]
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from chipwatch import classify, classify_frame, default_catalog, load_law


def quarter_starts(first_year: int = 2022, last_year: int = 2026) -> list[date]:
    return [date(y, m, 1) for y in range(first_year, last_year + 1) for m in (1, 4, 7, 10)]


def best_of(repeat: int, fn):
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="timing runs per path (best is kept)")
    args = ap.parse_args()

    law = load_law()
    cat = default_catalog()
    dates = quarter_starts()
    frame = cat.to_frame()
    n = len(cat) * len(dates)

    t_scalar, scalar = best_of(args.repeat, lambda: [classify(c, d, law=law) for c in cat for d in dates])
    t_vector, vector = best_of(args.repeat, lambda: classify_frame(frame, dates, law=law))

    got = {(r["item"], r["date"]): (r["eccn"], r["paragraph"], r["determinate"]) for r in vector.iter_rows(named=True)}
    mismatches = [(s.item, s.date) for s in scalar if got[(s.item, s.date)] != (s.eccn, s.paragraph, s.determinate)]
    if mismatches:
        raise SystemExit(f"vectorised and scalar paths disagree on {len(mismatches)} answers, e.g. {mismatches[:3]}")

    print(f"catalog: {len(cat)} chips x {len(dates)} quarter-start dates = {n} classifications; "
          f"best of {args.repeat} runs")
    print(f"one-at-a-time (classify, with trace):  {t_scalar * 1e3:9.1f} ms  {n / t_scalar:12,.0f} classifications/s")
    print(f"vectorised (classify_frame, polars):   {t_vector * 1e3:9.1f} ms  {n / t_vector:12,.0f} classifications/s")
    print(f"ratio vectorised / one-at-a-time:      {t_scalar / t_vector:9.1f}x  (answers identical: {n}/{n})")


if __name__ == "__main__":
    main()
