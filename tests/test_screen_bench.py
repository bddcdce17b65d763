"""The labelled screening benchmark, small: recall and precision of `ScreeningIndex` on real list data.

Builds about 200 positive and 120 negative queries (seed 7) from the nsfreg lists in ../shared (see
benchmarks/screen.py for the categories) and screens them at the matcher's threshold. Skipped when
the shared data are not there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
NSFREG = SHARED / "data" / "screening" / "nsfreg"

SEED = 7  # the benchmark's default seed

pytestmark = pytest.mark.skipif(not NSFREG.is_dir(), reason=f"no list data at {NSFREG}")


@pytest.fixture(scope="module")
def bench_result():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import screen as bench
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    from chipwatch.screen.match import THRESHOLD, ScreeningIndex

    entries = bench.load_entries(SHARED)
    qs = bench.build_queries(entries, seed=SEED, n_pos=200)
    index = ScreeningIndex(entries)
    held = ScreeningIndex(bench.held_out_entries(entries, qs.held_out))
    full_q = [q for q in qs.queries if q.index == "full"]
    held_q = [q for q in qs.queries if q.index == "held_out"]
    hits_full, _ = bench.screen_all(index, full_q, THRESHOLD, bench.LIMIT, False)
    hits_held, _ = bench.screen_all(held, held_q, THRESHOLD, bench.LIMIT, False)
    outcomes = [[(f"{h.list}:{h.entry_id}", h.score) for h in row] for row in hits_full + hits_held]
    return bench, full_q + held_q, outcomes, bench.metrics(full_q + held_q, outcomes, THRESHOLD)


def test_query_set_is_labelled_and_deterministic(bench_result):
    bench, queries, _, _ = bench_result
    cats = {q.category for q in queries}
    assert {"a_exact", "c_legal_form", "e_typo", "h_chinese", "j_translation", "n_brand_swap", "n_generated"} <= cats
    assert sum(q.positive for q in queries) >= 180 and sum(not q.positive for q in queries) >= 100
    again = bench.build_queries(bench.load_entries(SHARED), seed=SEED, n_pos=200)
    assert [(q.category, q.query, q.expected) for q in again.queries][:50] == [(q.category, q.query, q.expected) for q in queries
                                                                                if q.index == "full"][:50]


def test_negatives_are_not_list_names(bench_result):
    _, queries, _, _ = bench_result
    positives = {q.query.casefold() for q in queries if q.positive}
    assert not [q.query for q in queries if not q.positive and q.query.casefold() in positives]


def test_recall_and_precision(bench_result):
    _, queries, outcomes, m = bench_result
    misses = [q.query for q, h in zip(queries, outcomes, strict=True) if q.positive and q.expected not in [k for k, _ in h]]
    false_hits = [q.query for q, h in zip(queries, outcomes, strict=True) if not q.positive and h]
    assert m["recall"] >= 0.98, f"recall {m['recall']:.3f}; misses: {misses[:20]}"
    assert m["precision"] >= 0.95, f"precision {m['precision']:.3f}; false hits: {false_hits[:20]}"
    # Same-script variants (exact, alias, legal form, word order, typo, case, city/branch, pinyin spacing) must do better;
    # the target is recall >= 0.98 at precision >= 0.95 (brand translations held out are not in the headline).
    assert m["recall_without_held_out"] >= 0.95, f"same-script recall {m['recall_without_held_out']:.3f}"
