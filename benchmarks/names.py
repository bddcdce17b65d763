"""Name analysis speed: Latin and Chinese company names through `chipwatch.screen.names.analyse`.

    .venv/bin/python benchmarks/names.py [--latin 5000] [--chinese 2000]

The baseline, measured in the same run on the same names, is what a plain matcher does to a name
(Unicode NFKC, case folding, splitting on spaces); the ratio says what the full analysis costs on
top of it (legal forms, places, lexicon segmentation, traditional -> simplified, pinyin). Each name
is analysed once with the cache cleared, so nothing is answered from memory. The target is the one
the unit tests used to time: 5,000 Latin names and 2,000 Chinese names each well under a second.
"""

from __future__ import annotations

import argparse
import random
import string
import time
import unicodedata

from chipwatch.screen import names as N
from chipwatch.screen.names import analyse

LATIN_WORDS = ["huawei", "technologies", "shenzhen", "beijing", "semiconductor", "electronics", "institute", "research",
               "international", "trading", "group", "holdings", "advanced", "zhongke", "information", "industry", "shanghai",
               "hong", "kong", "xin"]
LATIN_SUFFIXES = ["", " Co., Ltd.", " Inc.", " LLC", " (Shenzhen) Co., Limited", " Société Anonyme"]
CHINESE_CHARS = ("的一是了我不人在他有这个上们来到时大地为子中你说生年着就那和要她出也得里后"
                 "自以会家可下而过天去能对小多然于心学么之都好看起发")
CHINESE_SUFFIXES = ["有限公司", "股份有限公司", "有限责任公司", ""]


def latin_names(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    out: set[str] = set()
    while len(out) < n:
        toks = [rnd.choice(LATIN_WORDS) for _ in range(rnd.randint(1, 5))]
        toks.insert(rnd.randrange(len(toks) + 1), "".join(rnd.choice(string.ascii_lowercase) for _ in range(6)))
        out.add(" ".join(toks).title() + rnd.choice(LATIN_SUFFIXES))
    return sorted(out)


def chinese_names(n: int, seed: int = 11) -> list[str]:
    rnd = random.Random(seed)
    words = sorted(w for w, e in N._ZH.items() if e.kind in ("generic", "brand", "place"))
    out: set[str] = set()
    while len(out) < n:
        parts = [rnd.choice(words) if rnd.random() < 0.7 else rnd.choice(CHINESE_CHARS) + rnd.choice(CHINESE_CHARS)
                 for _ in range(rnd.randint(2, 5))]
        out.add("".join(parts) + rnd.choice(CHINESE_SUFFIXES))
    return sorted(out)


def plain(name: str) -> list[str]:
    return unicodedata.normalize("NFKC", name).casefold().split()


def timed(fn: object, names: list[str]) -> float:
    t0 = time.perf_counter()
    for name in names:
        fn(name)  # type: ignore[operator]
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latin", type=int, default=5000)
    ap.add_argument("--chinese", type=int, default=2000)
    args = ap.parse_args()
    analyse("中国科技有限公司")  # loads OpenCC, pypinyin and the lexicon before timing
    for label, names in (("Latin", latin_names(args.latin)), ("Chinese", chinese_names(args.chinese))):
        analyse.cache_clear()
        full = timed(analyse, names)
        base = timed(plain, names)
        print(f"{label}: {len(names):,} names analysed in {full:.3f} s ({len(names) / full:,.0f} names/s); "
              f"plain normalisation {len(names) / base:,.0f} names/s; full analysis costs {full / base:.0f}x the plain one; "
              f"{'within' if full < 1.0 else 'OVER'} the 1 s target")


if __name__ == "__main__":
    main()
