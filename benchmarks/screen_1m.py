"""Bulk screening benchmark: 1,000,000 generated names against every nsfreg list, on 2 cores.

The names are a realistic mix, seeded: about 2 % are list names (Chinese entries weighted 3:1)
with the benchmark's variants (legal form, word order, one typo, case and punctuation, city or
branch, pinyin spacing); the rest are generated company names that are not on the lists, two
thirds in Latin script ("Suzhou Ruitai Precision Machinery Co., Ltd.", "Hengda Trading (Hong Kong)
Limited") and one third in Chinese script ("深圳市瑞泰电子科技有限公司"), with brand words drawn
from all pinyin syllables so the index's caches see a realistic spread of unknown words.

The index is built once and the process forks into the workers (copy-on-write), so each worker
screens its share without rebuilding. Printed: generation and index build time, total screening
time (wall clock), names per second, and hit counts by kind of name and by list.

    python benchmarks/screen_1m.py [--names 1000000] [--workers 2] [--seed 7] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import screen as bench  # noqa: E402  (benchmarks/screen.py: list loading, name variants, name generators)

LISTED_SHARE = 0.02
HAN_SHARE = 1 / 3
CHUNK = 4000
# Characters common in Chinese company brand names (one or two are drawn per name).
BRAND_CHARS = ("华新瑞恒泰达联智源盛海宏腾博通天金安德兴丰隆凯嘉和美立明光汇宇辰富康宝诚顺易润浩蓝启骏能盈拓普森硕翔泽昌展文耀鹏"
               "佳众合力远航星月阳晨云峰川江河湖山林正方圆元亿万千百信达祥瑞鑫淼磊鼎昊晟睿思维锐捷迅驰越卓越精工匠艺品尚优")

_INDEX: Any = None
_THRESHOLD = 0.8


def generate(entries: Sequence[Any], n: int, seed: int, known_words: frozenset[str]) -> list[tuple[str, str]]:
    """`n` (name, kind) pairs; kind is "listed" (a list name or a variant of one), "latin" or "han"."""
    rng = random.Random(f"{seed}:1m")
    gens = [lambda s, r: s, bench.gen_legal, bench.gen_word_order, bench.gen_typo, bench.gen_case_punct, bench.gen_city_branch,
            bench.gen_respace_pinyin]
    sources = [(e, [x for x in e.names() if bench.usable_name(x) and not bench.is_han(x)]) for e in entries
               if getattr(e, "entity_type", None) != "address"]
    sources = [(e, names) for e, names in sources if names]
    weights = [3.0 if e.country in ("CN", "HK") else 1.0 for e, _ in sources]
    syllables = sorted(bench.pinyin_syllables() - {"a", "e", "o", "ei", "er", "ng"})
    cities, industries = bench.CITIES, bench.INDUSTRIES
    out: list[tuple[str, str]] = []
    n_listed = round(n * LISTED_SHARE)
    picks = rng.choices(range(len(sources)), weights=weights, k=n_listed)
    for i in picks:
        _, names = sources[i]
        src = rng.choice(names)
        variant = rng.choice(gens)(src, rng) or src
        out.append((variant, "listed"))
    while len(out) < n:
        if rng.random() < HAN_SHARE:
            brand = "".join(rng.choices(BRAND_CHARS, k=rng.choice((2, 2, 2, 3))))
            city = rng.choice(cities)[1] + rng.choice(("", "市"))
            ind = rng.choice(industries)[1]
            form = rng.choice(bench.ZH_LEGAL)
            name = rng.choice((f"{city}{brand}{ind}{form}", f"{brand}{ind}{form}", f"{brand}{ind}（{city.rstrip('市')}）{form}"))
            out.append((name, "han"))
            continue
        brand = "".join(rng.choices(syllables, k=rng.choice((2, 2, 2, 3))))
        if brand in known_words:
            continue
        brand = brand.capitalize()
        city = rng.choice(cities)[0]
        ind = rng.choice(industries)[0]
        form = rng.choice(bench.LATIN_LEGAL)
        style = rng.randrange(4)
        if style == 0:
            name = f"{city} {brand} {ind} {form}"
        elif style == 1:
            name = f"{brand} {ind} ({city}) {form}"
        elif style == 2:
            name = f"{brand} {rng.choice(('International Trading', 'Technology', 'Electronics', 'Industrial'))} (Hong Kong) Limited"
        else:
            name = f"{brand} {ind} {form}"
        out.append((name, "latin"))
    rng.shuffle(out)
    return out


def _work(chunk: list[tuple[str, str]]) -> dict[str, Any]:
    t0 = time.perf_counter()
    names: Counter[str] = Counter()
    hit_names: Counter[str] = Counter()
    by_list: Counter[str] = Counter()
    hits_total = 0
    examples: list[str] = []
    for name, kind in chunk:
        hits = _INDEX.screen(name, None, threshold=_THRESHOLD, limit=10)
        names[kind] += 1
        if hits:
            hit_names[kind] += 1
            hits_total += len(hits)
            by_list.update(h.list for h in hits)
            if kind != "listed" and len(examples) < 3:
                examples.append(f"{name!r} -> {hits[0].matched_name!r} [{hits[0].list}] {hits[0].score:.2f}")
    return {"names": names, "hit_names": hit_names, "by_list": by_list, "hits": hits_total, "seconds": time.perf_counter() - t0,
            "examples": examples}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    global _INDEX, _THRESHOLD
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threshold", type=float, default=None, help="default: chipwatch.screen.match.THRESHOLD")
    ap.add_argument("--shared", type=Path, default=bench.DEFAULT_SHARED)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from chipwatch.screen.match import THRESHOLD, ScreeningIndex

    _THRESHOLD = THRESHOLD if args.threshold is None else args.threshold
    files = bench.all_list_files(args.shared)
    entries = bench.load_entries(args.shared, files)
    known = frozenset(t for e in entries for n in e.names() for t in bench.tokens(n))

    t0 = time.perf_counter()
    names = generate(entries, args.names, args.seed, known)
    gen_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    _INDEX = ScreeningIndex(entries)
    build_s = time.perf_counter() - t0

    chunks = [names[i: i + CHUNK] for i in range(0, len(names), CHUNK)]
    t0 = time.perf_counter()
    if args.workers > 1:
        with mp.get_context("fork").Pool(args.workers) as pool:
            parts = list(pool.imap_unordered(_work, chunks))
    else:
        parts = [_work(c) for c in chunks]
    wall = time.perf_counter() - t0

    total: dict[str, Counter[str]] = {"names": Counter(), "hit_names": Counter(), "by_list": Counter()}
    for p in parts:
        for k in total:
            total[k].update(p[k])
    examples = [x for p in parts for x in p["examples"]][:5]
    result = {
        "names": len(names), "workers": args.workers, "threshold": _THRESHOLD, "lists": files, "entries": len(entries),
        "generate_s": gen_s, "index_build_s": build_s, "screen_wall_s": wall, "names_per_s": len(names) / wall,
        "worker_cpu_s": sum(p["seconds"] for p in parts), "hits": sum(p["hits"] for p in parts),
        "by_kind": {k: {"names": total["names"][k], "with_hits": total["hit_names"][k]} for k in ("listed", "latin", "han")},
        "hits_by_list": dict(total["by_list"].most_common()), "unlisted_hit_examples": examples,
    }
    print(f"bulk screening: {len(names):,} names against {len(entries):,} entries of {len(files)} nsfreg lists, "
          f"{args.workers} worker(s), threshold {_THRESHOLD:.2f}")
    print(f"  generated in {gen_s:.1f} s; index built in {build_s:.2f} s (once, before the fork)")
    print(f"  screened in {wall:.1f} s wall = {result['names_per_s']:,.0f} names/s "
          f"({result['worker_cpu_s']:.1f} s in the workers, {len(names) / max(result['worker_cpu_s'], 1e-9):,.0f} names/s per core)")
    for kind, label in (("listed", "list names and variants"), ("latin", "generated, Latin script"), ("han", "generated, Chinese script")):
        v = result["by_kind"][kind]
        share = v["with_hits"] / v["names"] if v["names"] else 0.0
        print(f"  {label:<26} {v['names']:>9,} names, {v['with_hits']:>8,} with a hit ({100 * share:.2f} %)")
    print(f"  {result['hits']:,} hits in all; by list: " + ", ".join(f"{k} {v:,}" for k, v in list(result["hits_by_list"].items())[:8]))
    if examples:
        print("  generated names that hit (not checked against the lists word by word; some may be real near-matches):")
        for x in examples:
            print(f"    {x}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
