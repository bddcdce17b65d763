"""chipwatch's screening benchmark beside nomenklatura's logic-v2 and logic-v1 matchers, in one run.

1. Runs benchmarks/screen.py (same seed, same queries) with chipwatch's `ScreeningIndex`, and dumps
   every query with the list entries chipwatch's index retrieved as candidates for it.
2. In a separate virtual environment (benchmarks/.venv-nomenklatura, created on first use with
   `pip install nomenklatura`), scores each query against exactly those candidates with
   nomenklatura's matchers (`LogicV2.compare(query, candidate, config)` on FollowTheMoney entities:
   the query a Company with one name, each candidate a LegalEntity with the entry's name and
   aliases, as OpenSanctions maps BIS rows that carry no type). nomenklatura gets chipwatch's
   candidates for free (no retrieval cost), which favours it; yente would use Elasticsearch here.
3. Prints P/R/F1 (chipwatch at its threshold and at 0.70; nomenklatura at its default 0.70) per
   category and overall, and names/second for each with the ratio.

    python benchmarks/screen_nomenklatura.py [--shared ../shared] [--seed 7] [--queries 1500]
                                            [--algorithms logic-v2,logic-v1] [--json out.json]

Exits non-zero, saying why, when nomenklatura cannot be installed.
This module imports only the standard library at the top: the same file runs as the worker
inside the nomenklatura environment (`--worker`), where chipwatch is not installed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-nomenklatura"
NK_THRESHOLD = 0.70
KEEP_SCORE = 0.5  # candidate scores below this are not kept (the sweep starts at 0.60)


# --- the nomenklatura side (runs inside .venv-nomenklatura) -------------------------------------------

def worker(dump: Path, out: Path, algorithms: Sequence[str]) -> None:
    """Score every dumped query against its dumped candidates with each algorithm; write the scores."""
    import nomenklatura
    from followthemoney import EntityProxy
    from nomenklatura.matching import get_algorithm

    entries: dict[str, dict[str, Any]] = {}
    held_out: dict[str, list[str]] = {}
    queries: list[dict[str, Any]] = []
    with open(dump, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["type"] == "entry":
                entries[row["key"]] = row
            elif row["type"] == "held_out":
                held_out[row["key"]] = row["removed"]
            elif row["type"] == "query":
                queries.append(row)

    def make(eid: str, names: list[str], schema: str, country: str | None) -> Any:
        # Ids must be unique per distinct entity: nomenklatura memoises name analysis by entity id.
        props: dict[str, list[str]] = {"name": names[:1], "alias": names[1:]}
        if country:
            props["country"] = [country.lower()]
        return EntityProxy.from_dict({"id": eid, "schema": schema, "properties": props})

    # Candidates are built once, like an index (not timed); the held-out variant without its held-out names.
    full = {k: make(k, e["names"], "LegalEntity", e["country"]) for k, e in entries.items()}
    held = {k: make(f"{k}-held", [n for n in entries[k]["names"] if n not in removed], "LegalEntity", entries[k]["country"])
            for k, removed in held_out.items()}

    result: dict[str, Any] = {"nomenklatura": getattr(nomenklatura, "__version__", "?"), "algorithms": {}}
    for name in algorithms:
        algo = get_algorithm(name)
        if algo is None:
            raise SystemExit(f"nomenklatura has no algorithm {name!r}")
        config = algo.default_config()
        scores: dict[str, list[list[Any]]] = {}
        pairs = 0
        clock = time.perf_counter
        spent = 0.0
        for q in queries:
            t0 = clock()
            query = make(f"query-{name}-{q['qid']}", [q["query"]], "Company", None)
            got = []
            for k in q["candidates"]:
                cand = held.get(k, full[k]) if q["index"] == "held_out" else full[k]
                s = algo.compare(query, cand, config).score
                if s >= KEEP_SCORE:
                    got.append([k, round(float(s), 4)])
            got.sort(key=lambda ks: (-ks[1], ks[0]))
            spent += clock() - t0
            pairs += len(q["candidates"])
            scores[q["qid"]] = got
        result["algorithms"][name] = {"seconds": spent, "pairs": pairs, "queries": len(queries), "scores": scores}
    out.write_text(json.dumps(result), encoding="utf-8")


# --- the chipwatch side ----------------------------------------------------------------------------------

def venv_python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> str | None:
    """Create the nomenklatura environment if needed; None when ready, else why it is not."""
    py = venv_python()
    if py.exists() and subprocess.run([str(py), "-c", "import nomenklatura.matching"], capture_output=True).returncode == 0:
        return None
    if not py.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True)
        if made.returncode:
            return f"cannot create {VENV}: {made.stderr.strip()}"
        (VENV / ".gitignore").write_text("*\n", encoding="utf-8")  # keep the environment out of git and ruff
    print(f"installing nomenklatura into {VENV} ...", flush=True)
    pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "nomenklatura"], capture_output=True, text=True)
    if pip.returncode:
        return "pip install nomenklatura failed:\n" + "\n".join(pip.stderr.strip().splitlines()[-15:])
    return None


def _load_bench() -> Any:
    sys.path.insert(0, str(HERE))
    import screen as bench

    return bench


def compare(args: argparse.Namespace) -> dict[str, Any]:
    bench = _load_bench()
    problem = ensure_venv()
    if problem:
        print(f"nomenklatura is not available: {problem}", file=sys.stderr)
        raise SystemExit(2)
    version = subprocess.run([str(venv_python()), "-c", "import importlib.metadata as m; print(m.version('nomenklatura'))"],
                             capture_output=True, text=True).stdout.strip()

    with tempfile.TemporaryDirectory(prefix="chipwatch-nk-") as tmp:
        dump = Path(tmp) / "queries.jsonl"
        out = Path(tmp) / "nomenklatura.json"
        print("== chipwatch ==", flush=True)
        cw = bench.run(args.shared, args.seed, args.threshold, args.queries, dump=dump, with_name_bench=False)
        rows = [row for row in (json.loads(line) for line in dump.open(encoding="utf-8")) if row["type"] == "query"]
        queries = [bench.Query(**{k: v for k, v in row.items() if k in bench.Query.__dataclass_fields__}) for row in rows]
        for q in queries:
            q.accept = tuple(q.accept)
        cw_out = [[(k, s) for k, s in row["chipwatch_hits"]] for row in rows]
        sweep_pass = [[(k, s) for k, s in row["chipwatch_hits_low"]] for row in rows]
        n_candidates = sum(len(row["candidates"]) for row in rows)
        print(f"\n== nomenklatura {version} ({', '.join(args.algorithms)}) on the same {len(queries)} queries and candidates ==",
              flush=True)
        t0 = time.perf_counter()
        run = subprocess.run([str(venv_python()), __file__, "--worker", str(dump), str(out), "--algorithms", ",".join(args.algorithms)])
        if run.returncode:
            raise SystemExit(f"the nomenklatura worker failed (exit {run.returncode})")
        wall = time.perf_counter() - t0
        nk = json.loads(out.read_text(encoding="utf-8"))

    result: dict[str, Any] = {
        "nomenklatura_version": version, "queries": len(queries), "candidates": n_candidates,
        "chipwatch": {"threshold": cw["threshold"], "names_per_s": cw["names_per_s"], "index_build_s": cw["index_build_s"],
                      "metrics": bench.metrics(queries, cw_out, cw["threshold"]),
                      "metrics_at_0.70": bench.metrics(queries, sweep_pass, NK_THRESHOLD),
                      "sweep": bench.sweep(queries, sweep_pass)[0]},
        "nomenklatura_wall_s": wall, "algorithms": {},
    }
    for name, a in nk["algorithms"].items():
        outcomes = [[(k, s) for k, s in a["scores"][q.qid]] for q in queries]
        result["algorithms"][name] = {
            "seconds": a["seconds"], "pairs": a["pairs"], "names_per_s": a["queries"] / a["seconds"],
            "pairs_per_s": a["pairs"] / a["seconds"],
            "metrics": bench.metrics(queries, outcomes, NK_THRESHOLD), "sweep": bench.sweep(queries, outcomes)[0],
            "misses": examples(queries, outcomes, NK_THRESHOLD),
        }
    print(side_by_side(result, len(queries)))
    return result


def examples(queries: Sequence[Any], outcomes: Sequence[Sequence[tuple[str, float]]], t: float, per: int = 5) -> dict[str, list[str]]:
    shown: dict[str, list[str]] = {}
    for q, hits in zip(queries, outcomes, strict=True):
        keys = [k for k, s in hits if s >= t][:10]
        rows = shown.setdefault(q.category, [])
        if len(rows) >= per:
            continue
        if q.expected and q.expected not in keys:
            rows.append(f"MISS {q.query!r} (best {hits[0][0]} {hits[0][1]:.2f})" if hits else f"MISS {q.query!r} (nothing >= 0.5)")
        elif not q.expected and keys:
            rows.append(f"FP {q.query!r} -> {hits[0][0]} {hits[0][1]:.2f}")
    return {k: v for k, v in shown.items() if v}


def side_by_side(r: dict[str, Any], n: int) -> str:
    cw = r["chipwatch"]
    cols = [(f"chipwatch@{cw['threshold']:.2f}", cw["metrics"]), ("chipwatch@0.70", cw["metrics_at_0.70"])]
    cols += [(f"{name}@0.70", a["metrics"]) for name, a in r["algorithms"].items()]
    lines = ["", f"side by side: {n} queries, {r['candidates']} candidate pairs (chipwatch's own retrieval, given to nomenklatura)", ""]
    head = f"{'':<16}" + "".join(f"{c:>18}" for c, _ in cols)
    lines.append(head)
    for label in ("precision", "recall", "f1"):
        lines.append(f"{label:<16}" + "".join(f"{m[label]:>18.3f}" for _, m in cols))
    lines.append(f"{'FP / FN':<16}" + "".join(f"{str(m['fp']) + ' / ' + str(m['fn']):>18}" for _, m in cols))
    lines.append("")
    lines.append(f"{'category':<16}" + "".join(f"{c:>18}" for c, _ in cols) + "   (recall % for positives, false positives for negatives)")
    for cat in cw["metrics"]["categories"]:
        cells = []
        for _, m in cols:
            c = m["categories"].get(cat, {})
            cells.append(f"{c['false_positives']:>18}" if cat.startswith("n_") else f"{100 * c.get('recall', 0):>17.1f}%")
        lines.append(f"{cat:<16}" + "".join(cells))
    lines.append("")
    speed = [("chipwatch (retrieval + scoring)", cw["names_per_s"], None)]
    speed += [(f"{name} (scoring the given candidates only)", a["names_per_s"], a["pairs_per_s"]) for name, a in r["algorithms"].items()]
    for label, nps, pps in speed:
        extra = f", {pps:,.0f} pairs/s" if pps else ""
        ratio = f"   chipwatch is {cw['names_per_s'] / nps:,.1f}x faster" if pps else ""
        lines.append(f"  {label:<46} {nps:>10,.1f} names/s{extra}{ratio}")
    lines.append("  (1 core each; chipwatch timed on its screen calls after building the index; nomenklatura on building the query")
    lines.append("   entity and comparing it with each candidate, after building the candidate entities)")
    for name, a in r["algorithms"].items():
        best = max(a["sweep"], key=lambda row: (row["f1"], row["threshold"]))
        lines.append(f"  {name}: best F1 in the 0.60-0.95 sweep {best['f1']:.3f} at {best['threshold']:.2f}")
        for cat, rows in sorted(a["misses"].items()):
            for row in rows[:3]:
                lines.append(f"    {cat:<14} {row}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("DUMP", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threshold", type=float, default=None, help="chipwatch's threshold (default: its THRESHOLD)")
    ap.add_argument("--queries", type=int, default=1500)
    ap.add_argument("--algorithms", type=lambda s: [a for a in s.split(",") if a], default=["logic-v2", "logic-v1"])
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.worker:
        worker(Path(args.worker[0]), Path(args.worker[1]), args.algorithms)
        return 0
    result = compare(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
