"""Benchmark: generated transactions through the batch path and the one-at-a-time path.

Generates N order-book rows (seeded): catalog chips, destinations across every country group,
dates 2022-10-07 to 2026-11-25, end users with and without HQ/listing facts, end uses, origins.
Runs the whole book through `determine_frame` (polars, vectorised) and a sample through
`determine` (one transaction at a time, full trace) in the same run, prints rows per second for
each and their ratio, and checks the two paths agree on every sampled row.

    python benchmarks/determine.py [--rows 1000000] [--sample 2000] [--seed 7]

Targets (issue 3): 1,000,000 rows in at most 10 s on 2 cores, at least 50x the scalar path.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

import numpy as np
import polars as pl

from chipwatch.batch import determine_frame, row_transaction
from chipwatch.catalog import default_catalog
from chipwatch.determine import determine

DESTS = ["CN", "MO", "HK", "RU", "IR", "NI", "KH", "CY", "VN", "SA", "AE", "IL", "IN", "MY", "SG", "DE", "JP", "US",
         "BR", "QA", "KZ", "TW", "MX", "GB"]
HQS = ["", "CN", "US", "DE", "MY", "SG", "AE", "RU"]
END_USES = ["", "", "", "", "supercomputer", "military", "advanced_node_ic", "datacenter_iaas"]
FLAGS = ["", "yes", "no", "no", "no"]


def generate(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    names = [c.name for c in default_catalog().chips]
    first, last = date(2022, 10, 7), date(2026, 11, 25)
    days = rng.integers(0, (last - first).days + 1, n)
    pick = lambda seq: np.asarray(seq, dtype=object)[rng.integers(0, len(seq), n)]  # noqa: E731
    return pl.DataFrame({
        "item": pick(names).tolist(),
        "quantity": rng.integers(1, 5000, n).astype(str).tolist(),
        "destination": pick(DESTS).tolist(),
        "date": [(first + timedelta(days=int(d))).isoformat() for d in days],
        "end_user_hq": pick(HQS).tolist(),
        "party_listed": pick(FLAGS).tolist(),
        "owned_by_listed_pct": pick(["", "0", "0", "60"]).tolist(),
        "end_uses": pick(END_USES).tolist(),
        "ships_from": pick(["US", "US", "US", "TW", "SG"]).tolist(),
        "commercially_available_us": pick(FLAGS).tolist(),
        "h200_certified": pick(FLAGS).tolist(),
    })


def _exc_codes(d) -> str:
    return ",".join(e.code if e.status == "available" else f"{e.code}?" for e in d.licence_exceptions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--sample", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    book = generate(args.rows, args.seed)
    determine_frame(book.head(1000))  # warm caches (law files, catalog, country sets) for both paths alike

    t0 = time.perf_counter()
    result = determine_frame(book)
    batch_s = time.perf_counter() - t0
    batch_rate = book.height / batch_s

    sample = book.head(args.sample)
    t0 = time.perf_counter()
    answers = [determine(row_transaction(r)) for r in sample.iter_rows(named=True)]
    scalar_s = time.perf_counter() - t0
    scalar_rate = sample.height / scalar_s

    mismatches = 0
    for d, row in zip(answers, result.head(args.sample).iter_rows(named=True), strict=True):
        policy = d.review_policy.policy if d.review_policy else None
        if (d.licence_required, d.reason_code, policy, _exc_codes(d)) != (
                row["licence_required"], row["reason_code"], row["review_policy"], row["licence_exceptions"]):
            mismatches += 1
    required = int(result["licence_required"].sum() or 0)
    print(f"rows: {book.height:,}  (licence required {required:,}, undetermined "
          f"{int(result['licence_required'].is_null().sum()):,}, bad {int(result['error'].is_not_null().sum()):,})")
    print(f"batch path (polars):       {batch_s:8.2f} s   {batch_rate:12,.0f} rows/s")
    print(f"one-at-a-time path:        {scalar_s:8.2f} s   {scalar_rate:12,.0f} rows/s  ({sample.height:,}-row sample)")
    print(f"ratio batch / one-at-a-time: {batch_rate / scalar_rate:,.1f}x")
    print(f"paths agree on {sample.height - mismatches:,}/{sample.height:,} sampled rows")
    if mismatches:
        raise SystemExit(f"{mismatches} sampled rows differ between the two paths")


if __name__ == "__main__":
    main()
